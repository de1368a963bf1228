/* loadtest_report: what uvproc-loadtest prints and writes. The summary table (a person reads
 * it), the same as JSON (a program reads it), the .hgrm percentile distribution (HdrHistogram's
 * plotter reads it), and the live line a terminal shows while the run goes on. The HTML page is
 * loadtest_html.c. A figure without a sample is "-" (null in JSON), never a 0 that reads like
 * a measurement. */
#include <math.h>
#include <string.h>

#include "loadtest.h"

/* HdrHistogram's ladder, as autocannon's JSON and wrk2 print it. */
static const double ladder[] = {50, 75, 90, 99, 99.9, 99.99, 99.999};
static const char *const ladder_names[] = {"p50",   "p75",    "p90",    "p99",
                                           "p99.9", "p99.99", "p99.999"};
#define LADDER 7

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

const char *lt_fmt_latency(char *buf, size_t size, const hdr_histogram_t *h, uint64_t us)
{
    if (h != NULL && h->total == 0)
        snprintf(buf, size, "-");
    else if (us < 1000)
        snprintf(buf, size, "%llu us", (unsigned long long)us);
    else if (us < 1000000)
        snprintf(buf, size, "%.2f ms", ms(us));
    else
        snprintf(buf, size, "%.2f s", (double)us / 1e6);
    return buf;
}

static const char *pct(const hdr_histogram_t *h, double p, char *buf, size_t size)
{
    return lt_fmt_latency(buf, size, h, hdr_value_at_percentile(h, p));
}

static const char *outcome_text(const lt_child_view_t *c, char *buf, size_t size)
{
    if (c->outcome == LT_CHILD_DONE)
        return "done";
    if (c->outcome == LT_CHILD_RUNNING)
        return "running";
    if (c->term_signal != 0)
        snprintf(buf, size, "CRASHED: signal %d at %.1f s", c->term_signal, c->ended_s);
    else
        snprintf(buf, size, "CRASHED: exit %lld at %.1f s", (long long)c->exit_code, c->ended_s);
    return buf;
}

static double children_cpu(const lt_summary_t *s)
{
    double cpu = 0;
    for (int i = 0; i < s->child_count; i++)
        cpu += s->child[i].cpu_s > 0 ? s->child[i].cpu_s : 0;
    return cpu;
}

/* The closed model cannot see what a stall kept from being sent; it says so when the tail
 * shows a stall (the worst request far beyond p99). */
static int stall_hidden(const lt_summary_t *s)
{
    const hdr_histogram_t *l = &s->total->latency;
    uint64_t p99 = hdr_value_at_percentile(l, 99);
    return s->rate <= 0 && l->total > 0 && l->max >= 10 * (p99 > 0 ? p99 : 1) && l->max >= 50000;
}

void lt_report_table(FILE *out, const lt_summary_t *s)
{
    const lt_stats_t *t = s->total;
    const hdr_histogram_t *l = &t->latency;
    uint64_t errors = lt_stats_errors(t);
    char a[32];
    fprintf(out, "uvproc-loadtest %s%s%s%s\n", s->url, s->target_note ? " (" : "",
            s->target_note ? s->target_note : "", s->target_note ? ")" : "");
    fprintf(out, "  %d connection%s over %d process%s, %.2f s%s%s\n", s->connections,
            s->connections == 1 ? "" : "s", s->children, s->children == 1 ? "" : "es", s->seconds,
            s->rate > 0 ? ", constant rate" : "", s->interrupted ? ", INTERRUPTED (Ctrl-C)" : "");
    if (s->rate > 0)
        fprintf(out,
                "  target rate %.0f req/s; latency counts from each request's intended send "
                "time\n",
                s->rate);
    fprintf(out, "\n  requests   %12llu   %10.0f req/s   %.1f MB/s\n",
            (unsigned long long)t->requests, s->seconds > 0 ? (double)t->requests / s->seconds : 0,
            s->seconds > 0 ? (double)t->bytes / s->seconds / 1e6 : 0);
    fprintf(out, "  latency     p50 %s", pct(l, 50, a, sizeof a));
    fprintf(out, "  p90 %s", pct(l, 90, a, sizeof a));
    fprintf(out, "  p99 %s", pct(l, 99, a, sizeof a));
    fprintf(out, "  p99.9 %s", pct(l, 99.9, a, sizeof a));
    fprintf(out, "  max %s\n", lt_fmt_latency(a, sizeof a, l, l->max));
    if (s->show_distribution) {
        fprintf(out, "  latency distribution\n");
        for (int i = 0; i < LADDER; i++)
            fprintf(out, "    %8g%%  %s\n", ladder[i], pct(l, ladder[i], a, sizeof a));
        fprintf(out, "    %8s   %s\n", "max", lt_fmt_latency(a, sizeof a, l, l->max));
    }
    fprintf(out, "  status    ");
    int any = 0;
    for (int i = 0; i < LT_STATUS_MAX; i++) {
        if (t->status[i] != 0) {
            fprintf(out, "  %s%d: %llu", i == 0 ? "other" : "", i == 0 ? 0 : i,
                    (unsigned long long)t->status[i]);
            any = 1;
        }
    }
    fprintf(out, "%s\n", any ? "" : "  (no responses)");
    fprintf(out, "  errors    ");
    if (errors == 0) {
        fprintf(out, "  none");
    } else {
        for (int i = 0; i < LT_ERR_COUNT; i++)
            if (t->errors[i] != 0)
                fprintf(out, "  %s: %llu", lt_err_names[i], (unsigned long long)t->errors[i]);
    }
    fprintf(out, "   (non-2xx responses: %llu; unfinished at stop: %llu)\n",
            (unsigned long long)lt_stats_non2xx(t), (unsigned long long)t->unfinished);
    if (errors != 0 && t->note[0] != '\0')
        fprintf(out, "  first error: %s\n", t->note);
    if (s->tls)
        fprintf(out, "  tls         %llu handshakes, %llu of them resumed sessions\n",
                (unsigned long long)t->handshakes, (unsigned long long)t->resumed);

    double ccpu = children_cpu(s);
    fprintf(out, "  cpu         load processes %.2f s, the parent %.3f s (%.1f%% of the total)",
            ccpu, s->parent_cpu_s,
            ccpu + s->parent_cpu_s > 0 ? 100.0 * s->parent_cpu_s / (ccpu + s->parent_cpu_s) : 0.0);
    if (t->requests > 0)
        fprintf(out, "; %.2f us per request", 1e6 * (ccpu + s->parent_cpu_s) / (double)t->requests);
    fputc('\n', out);
    if (stall_hidden(s))
        fprintf(out,
                "  note        max is %.0fx p99: a stall. Without -R the requests it held back\n"
                "              were never timed (coordinated omission); -R RATE measures them.\n",
                (double)l->max /
                    (double)(hdr_value_at_percentile(l, 99) ? hdr_value_at_percentile(l, 99) : 1));

    fprintf(out, "\n  process   pid   requests    share       p99   errors  outcome\n");
    for (int i = 0; i < s->child_count; i++) {
        const lt_child_view_t *c = &s->child[i];
        char b[64];
        fprintf(out, "  %5d %7d %10llu %7.1f%% %9s %8llu  %s\n", c->index, c->pid,
                (unsigned long long)c->stats.requests,
                t->requests ? 100.0 * (double)c->stats.requests / (double)t->requests : 0.0,
                pct(&c->stats.latency, 99, a, sizeof a),
                (unsigned long long)lt_stats_errors(&c->stats), outcome_text(c, b, sizeof b));
    }

    if (s->step_count > 0) {
        fprintf(out, "\n  ramp processes   req/s        p99   errors\n");
        for (int i = 0; i < s->step_count; i++) {
            const lt_ramp_step_t *st = &s->steps[i];
            fprintf(out, "  %4d  %8d %7.0f %8.2f ms %7.2f%%%s%s%s\n", i + 1, st->children, st->rps,
                    st->p99_ms, st->error_rate * 100.0,
                    i == s->sustained_step ? "   <- largest sustained" : "",
                    st->stop_reason ? "   stop: " : "", st->stop_reason ? st->stop_reason : "");
        }
        if (s->sustained_step >= 0)
            fprintf(out, "  largest sustained step: %d processes (%.0f req/s)\n",
                    s->steps[s->sustained_step].children, s->steps[s->sustained_step].rps);
        else
            fprintf(out, "  no step was sustained\n");
    }
    if (s->max_errors_exceeded != NULL)
        fprintf(out, "\n  FAILED: %s\n", s->max_errors_exceeded);
}

static json_t *ms_or_null(const hdr_histogram_t *h, uint64_t us)
{
    return h->total == 0 ? json_null() : json_real(ms(us));
}

/* Rows of HdrHistogram's percentile iteration (5 ticks per half distance): the levels are
 * denser towards the tail. Calls row(value_us, level 0..1, count below) for each; the last row
 * is the maximum at level 1. */
static void distribution(const hdr_histogram_t *h,
                         void (*row)(void *ctx, uint64_t value, double level, uint64_t count,
                                     int last),
                         void *ctx)
{
    if (h->total == 0)
        return;
    double level = 0;
    for (int guard = 0; guard < 100000; guard++) {
        uint64_t v = hdr_value_at_percentile(h, level);
        uint32_t idx = hdr_index_of(v);
        uint64_t below = 0;
        for (uint32_t i = h->lo; i <= h->hi && i <= idx; i++)
            below += h->counts[i];
        if (below >= h->total) {
            row(ctx, h->max, 1.0, h->total, 1);
            return;
        }
        row(ctx, v, level / 100.0, below, 0);
        double ticks = 5.0 * pow(2.0, floor(log2(100.0 / (100.0 - level))) + 1);
        double next = level + 100.0 / ticks;
        /* Skip levels that land in the same bucket: one row per value. */
        while (next < 100.0 && hdr_value_at_percentile(h, next) == v) {
            ticks = 5.0 * pow(2.0, floor(log2(100.0 / (100.0 - next))) + 1);
            next += 100.0 / ticks;
        }
        level = next >= 100.0 ? 100.0 : next;
    }
}

static void hgrm_row(void *ctx, uint64_t value, double level, uint64_t count, int last)
{
    FILE *out = ctx;
    if (last)
        fprintf(out, "%12.3f %1.12f %10llu\n", ms(value), level, (unsigned long long)count);
    else
        fprintf(out, "%12.3f %1.12f %10llu %14.2f\n", ms(value), level, (unsigned long long)count,
                1.0 / (1.0 - level));
}

void lt_report_hgrm(FILE *out, const hdr_histogram_t *h)
{
    fprintf(out, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
            "1/(1-Percentile)");
    distribution(h, hgrm_row, out);
    double mean = hdr_mean(h), var = 0;
    for (uint32_t i = h->lo; h->total > 0 && i <= h->hi; i++) {
        if (h->counts[i] != 0) {
            double mid = ((double)hdr_lowest_of(i) + (double)hdr_highest_of(i)) / 2.0 - mean;
            var += mid * mid * (double)h->counts[i];
        }
    }
    double sd = h->total > 0 ? sqrt(var / (double)h->total) : 0;
    fprintf(out, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", mean / 1000.0, sd / 1000.0);
    fprintf(out, "#[Max     = %12.3f, Total count    = %12llu]\n", ms(h->total ? h->max : 0),
            (unsigned long long)h->total);
    fprintf(out, "#[Buckets = %12d, SubBuckets     = %12d]\n", 32 - HDR_SUB_BITS + 1,
            HDR_SUB_COUNT);
}

static void json_row(void *ctx, uint64_t value, double level, uint64_t count, int last)
{
    json_array_append_new(ctx, json_pack("[f, f, I]", ms(value), level, (json_int_t)count));
    (void)last;
}

json_t *lt_report_json(const lt_summary_t *s)
{
    const lt_stats_t *t = s->total;
    const hdr_histogram_t *l = &t->latency;
    json_t *lat = json_object(), *status = json_object(), *errors = json_object();
    json_t *children = json_array(), *steps = json_array(), *series = json_array();
    json_t *dist = json_array();
    json_object_set_new(lat, "min", ms_or_null(l, l->min));
    json_object_set_new(lat, "mean", l->total ? json_real(hdr_mean(l) / 1000.0) : json_null());
    for (int i = 0; i < LADDER; i++)
        json_object_set_new(lat, ladder_names[i],
                            ms_or_null(l, hdr_value_at_percentile(l, ladder[i])));
    json_object_set_new(lat, "max", ms_or_null(l, l->max));
    distribution(l, json_row, dist);
    for (int i = 0; i < LT_STATUS_MAX; i++) {
        if (t->status[i] != 0) {
            char code[8];
            snprintf(code, sizeof code, "%d", i);
            json_object_set_new(status, i == 0 ? "other" : code,
                                json_integer((json_int_t)t->status[i]));
        }
    }
    for (int i = 0; i < LT_ERR_COUNT; i++)
        json_object_set_new(errors, lt_err_names[i], json_integer((json_int_t)t->errors[i]));
    for (int i = 0; i < s->child_count; i++) {
        const lt_child_view_t *c = &s->child[i];
        const hdr_histogram_t *cl = &c->stats.latency;
        json_t *o = json_pack("{s:i, s:i, s:I, s:I, s:o, s:s, s:I, s:i, s:f, s:f}", "index",
                              c->index, "pid", c->pid, "requests", (json_int_t)c->stats.requests,
                              "errors", (json_int_t)lt_stats_errors(&c->stats), "p99_ms",
                              ms_or_null(cl, hdr_value_at_percentile(cl, 99)), "outcome",
                              c->outcome == LT_CHILD_DONE      ? "done"
                              : c->outcome == LT_CHILD_CRASHED ? "crashed"
                                                               : "running",
                              "exit_code", (json_int_t)c->exit_code, "signal", c->term_signal,
                              "started_s", c->started_s, "ended_s", c->ended_s);
        json_object_set_new(o, "cpu_s", c->cpu_s >= 0 ? json_real(c->cpu_s) : json_null());
        json_object_set_new(o, "max_rss_kb",
                            c->max_rss_kb >= 0 ? json_integer(c->max_rss_kb) : json_null());
        json_array_append_new(children, o);
    }
    for (int i = 0; i < s->interval_count; i++) {
        const lt_interval_t *iv = &s->intervals[i];
        json_t *o =
            json_pack("{s:f, s:I, s:f, s:I, s:I}", "t", iv->t, "requests", (json_int_t)iv->requests,
                      "rps", iv->seconds > 0 ? (double)iv->requests / iv->seconds : 0.0, "errors",
                      (json_int_t)iv->errors, "non2xx", (json_int_t)iv->non2xx);
        json_object_set_new(o, "p50_ms", iv->requests ? json_real(ms(iv->p50_us)) : json_null());
        json_object_set_new(o, "p99_ms", iv->requests ? json_real(ms(iv->p99_us)) : json_null());
        json_object_set_new(o, "max_ms", iv->requests ? json_real(ms(iv->max_us)) : json_null());
        json_array_append_new(series, o);
    }
    for (int i = 0; i < s->step_count; i++) {
        const lt_ramp_step_t *st = &s->steps[i];
        json_array_append_new(steps, json_pack("{s:i, s:f, s:f, s:f, s:I, s:I, s:s?}", "children",
                                               st->children, "rps", st->rps, "p99_ms", st->p99_ms,
                                               "error_rate", st->error_rate, "requests",
                                               (json_int_t)st->requests, "errors",
                                               (json_int_t)st->errors, "stop", st->stop_reason));
    }
    json_t *j = json_pack(
        "{s:s, s:s?, s:s, s:i, s:i, s:f, s:s, s:f, s:b, s:I, s:f, s:I, s:I, s:I, s:o, s:o, s:o, "
        "s:o, s:o}",
        "url", s->url, "target", s->target_note, "method", s->method ? s->method : "GET",
        "children", s->children, "connections", s->connections, "rate", s->rate, "model",
        s->rate > 0 ? "open" : "closed", "seconds", s->seconds, "interrupted", s->interrupted,
        "requests", (json_int_t)t->requests, "rps",
        s->seconds > 0 ? (double)t->requests / s->seconds : 0.0, "bytes", (json_int_t)t->bytes,
        "non2xx", (json_int_t)lt_stats_non2xx(t), "unfinished", (json_int_t)t->unfinished,
        "latency_ms", lat, "status", status, "errors", errors, "per_child", children, "intervals",
        series);
    json_object_set_new(j, "interval_s", json_real(LT_INTERVAL_MS / 1000.0));
    json_object_set_new(j, "distribution", dist);
    json_object_set_new(j, "first_error", t->note[0] ? json_string(t->note) : json_null());
    json_object_set_new(j, "stall_hidden", json_boolean(stall_hidden(s)));
    if (s->tls)
        json_object_set_new(j, "tls",
                            json_pack("{s:I, s:I}", "handshakes", (json_int_t)t->handshakes,
                                      "resumed", (json_int_t)t->resumed));
    json_object_set_new(
        j, "cpu_s",
        json_pack("{s:f, s:f}", "children", children_cpu(s), "parent", s->parent_cpu_s));
    json_object_set_new(j, "max_errors_exceeded",
                        s->max_errors_exceeded ? json_string(s->max_errors_exceeded) : json_null());
    if (s->step_count > 0) {
        json_object_set_new(j, "ramp", steps);
        json_object_set_new(j, "sustained_children",
                            s->sustained_step >= 0
                                ? json_integer(s->steps[s->sustained_step].children)
                                : json_integer(0));
    } else {
        json_decref(steps);
    }
    return j;
}

void lt_report_live(char *buf, size_t size, double elapsed, double rps, const lt_stats_t *recent,
                    uint64_t errors, int alive, int children)
{
    char p50[32], p99[32];
    const hdr_histogram_t *l = &recent->latency;
    snprintf(buf, size, "%6.1f s  %9.0f req/s  p50 %s  p99 %s  errors %llu  processes %d/%d",
             elapsed, rps, lt_fmt_latency(p50, sizeof p50, l, hdr_value_at_percentile(l, 50)),
             lt_fmt_latency(p99, sizeof p99, l, hdr_value_at_percentile(l, 99)),
             (unsigned long long)errors, alive, children);
}
