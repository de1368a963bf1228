/* loadtest_report: what loadtest prints. The summary table (a person reads it), the same as
 * JSON (a program reads it), and the live line a terminal shows while the run goes on. */
#include <string.h>

#include "loadtest.h"

static const double percentiles[] = {50, 90, 99, 99.9};
static const char *const percentile_names[] = {"p50", "p90", "p99", "p99.9"};
#define PERCENTILES 4

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

/* "1.23 ms", "850 us", "2.10 s": three significant digits or so. */
static const char *fmt_latency(char *buf, size_t size, uint64_t us)
{
    if (us < 1000)
        snprintf(buf, size, "%llu us", (unsigned long long)us);
    else if (us < 1000000)
        snprintf(buf, size, "%.2f ms", ms(us));
    else
        snprintf(buf, size, "%.2f s", (double)us / 1e6);
    return buf;
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

void lt_report_table(FILE *out, const lt_summary_t *s)
{
    const lt_stats_t *t = s->total;
    uint64_t errors = lt_stats_errors(t);
    char a[32];
    fprintf(out, "loadtest %s%s%s%s\n", s->url, s->target_note ? " (" : "",
            s->target_note ? s->target_note : "", s->target_note ? ")" : "");
    fprintf(out, "  %d children x %d connections, %.2f s%s%s\n", s->children, s->connections,
            s->seconds, s->rate > 0 ? ", constant rate" : "",
            s->interrupted ? ", INTERRUPTED (Ctrl-C)" : "");
    if (s->rate > 0)
        fprintf(out,
                "  target rate %.0f req/s; latency counts from each request's intended send "
                "time\n",
                s->rate);
    fprintf(out, "\n  requests   %12llu   %10.0f req/s   %.1f MB/s\n",
            (unsigned long long)t->requests, s->seconds > 0 ? (double)t->requests / s->seconds : 0,
            s->seconds > 0 ? (double)t->bytes / s->seconds / 1e6 : 0);
    fprintf(out, "  latency   ");
    for (int i = 0; i < PERCENTILES; i++)
        fprintf(out, "  %s %s", percentile_names[i],
                fmt_latency(a, sizeof a, hdr_value_at_percentile(&t->latency, percentiles[i])));
    fprintf(out, "  max %s\n", fmt_latency(a, sizeof a, t->latency.max));
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

    double children_cpu = 0;
    for (int i = 0; i < s->child_count; i++)
        children_cpu += s->child[i].cpu_s > 0 ? s->child[i].cpu_s : 0;
    fprintf(out, "  cpu         children %.2f s, loadtest itself %.3f s (%.1f%% of the total)\n",
            children_cpu, s->parent_cpu_s,
            children_cpu + s->parent_cpu_s > 0
                ? 100.0 * s->parent_cpu_s / (children_cpu + s->parent_cpu_s)
                : 0.0);

    fprintf(out, "\n  child     pid   requests    share       p99   errors  outcome\n");
    for (int i = 0; i < s->child_count; i++) {
        const lt_child_view_t *c = &s->child[i];
        char b[64];
        fprintf(out, "  %5d %7d %10llu %7.1f%% %9s %8llu  %s\n", c->index, c->pid,
                (unsigned long long)c->stats.requests,
                t->requests ? 100.0 * (double)c->stats.requests / (double)t->requests : 0.0,
                fmt_latency(a, sizeof a, hdr_value_at_percentile(&c->stats.latency, 99)),
                (unsigned long long)lt_stats_errors(&c->stats), outcome_text(c, b, sizeof b));
    }

    if (s->step_count > 0) {
        fprintf(out, "\n  ramp  children   req/s        p99   errors\n");
        for (int i = 0; i < s->step_count; i++) {
            const lt_ramp_step_t *st = &s->steps[i];
            fprintf(out, "  %4d  %8d %7.0f %8.2f ms %7.2f%%%s%s%s\n", i + 1, st->children, st->rps,
                    st->p99_ms, st->error_rate * 100.0,
                    i == s->sustained_step ? "   <- largest sustained" : "",
                    st->stop_reason ? "   stop: " : "", st->stop_reason ? st->stop_reason : "");
        }
        if (s->sustained_step >= 0)
            fprintf(out, "  largest sustained step: %d children (%.0f req/s)\n",
                    s->steps[s->sustained_step].children, s->steps[s->sustained_step].rps);
        else
            fprintf(out, "  no step was sustained\n");
    }
}

json_t *lt_report_json(const lt_summary_t *s)
{
    const lt_stats_t *t = s->total;
    json_t *lat = json_object(), *status = json_object(), *errors = json_object();
    json_t *children = json_array(), *steps = json_array();
    double children_cpu = 0;
    for (int i = 0; i < PERCENTILES; i++)
        json_object_set_new(lat, percentile_names[i],
                            json_real(ms(hdr_value_at_percentile(&t->latency, percentiles[i]))));
    json_object_set_new(lat, "min", json_real(ms(t->latency.total ? t->latency.min : 0)));
    json_object_set_new(lat, "max", json_real(ms(t->latency.max)));
    json_object_set_new(lat, "mean", json_real(hdr_mean(&t->latency) / 1000.0));
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
        json_array_append_new(
            children, json_pack("{s:i, s:i, s:I, s:I, s:f, s:s, s:I, s:i, s:f, s:f}", "index",
                                c->index, "pid", c->pid, "requests", (json_int_t)c->stats.requests,
                                "errors", (json_int_t)lt_stats_errors(&c->stats), "p99_ms",
                                ms(hdr_value_at_percentile(&c->stats.latency, 99)), "outcome",
                                c->outcome == LT_CHILD_DONE      ? "done"
                                : c->outcome == LT_CHILD_CRASHED ? "crashed"
                                                                 : "running",
                                "exit_code", (json_int_t)c->exit_code, "signal", c->term_signal,
                                "started_s", c->started_s, "ended_s", c->ended_s));
        json_t *last = json_array_get(children, json_array_size(children) - 1);
        json_object_set_new(last, "cpu_s", c->cpu_s >= 0 ? json_real(c->cpu_s) : json_null());
        json_object_set_new(last, "max_rss_kb",
                            c->max_rss_kb >= 0 ? json_integer(c->max_rss_kb) : json_null());
        if (c->cpu_s > 0)
            children_cpu += c->cpu_s;
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
        "{s:s, s:s?, s:i, s:i, s:f, s:f, s:b, s:I, s:f, s:I, s:I, s:I, s:o, s:o, s:o, s:o}", "url",
        s->url, "target", s->target_note, "children", s->children, "connections", s->connections,
        "rate", s->rate, "seconds", s->seconds, "interrupted", s->interrupted, "requests",
        (json_int_t)t->requests, "rps", s->seconds > 0 ? (double)t->requests / s->seconds : 0.0,
        "bytes", (json_int_t)t->bytes, "non2xx", (json_int_t)lt_stats_non2xx(t), "unfinished",
        (json_int_t)t->unfinished, "latency_ms", lat, "status", status, "errors", errors,
        "per_child", children);
    json_object_set_new(
        j, "cpu_s", json_pack("{s:f, s:f}", "children", children_cpu, "parent", s->parent_cpu_s));
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
    snprintf(buf, size, "%6.1f s  %9.0f req/s  p50 %s  p99 %s  errors %llu  children %d/%d",
             elapsed, rps,
             fmt_latency(p50, sizeof p50, hdr_value_at_percentile(&recent->latency, 50)),
             fmt_latency(p99, sizeof p99, hdr_value_at_percentile(&recent->latency, 99)),
             (unsigned long long)errors, alive, children);
}
