/* uvproc-loadtest: an HTTP(S) load tester made of processes. The parent forks N load children
 * (this same program with --child, each on its own libuv loop, see loadtest_child.c), sends
 * each its share of the work over the IPC channel, merges the counts and latency histograms
 * they report every 250 ms, shows a live line on a terminal and prints a summary (or JSON) at
 * the end, and writes the .hgrm and HTML exports. With no URL it starts cluster-server on a
 * free port and loads that.
 *
 * This file: the run: forking the children, their reports into the tallies, the run's clock
 * (duration, live line, ramp steps, Ctrl-C), the end. The command line is loadtest_args.c,
 * each child's supervision loadtest_slot.c, the output loadtest_report.c, the embedded server
 * loadtest_target.c. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "loadtest.h"

#define WINDOWS 4 /* the live line covers the last 4 reports: one second */

typedef struct {
    lt_options_t opt;
    const char *url; /* opt.url, or the embedded server's */
    uv_loop_t *loop;
    char exe[4096];
    lt_child_config_t base; /* what every child gets, but its share */
    lt_slot_t slot[LT_MAX_CHILDREN];
    int started, alive, conns_started;
    lt_stats_t total;
    lt_stats_t window[WINDOWS]; /* counts of the last report periods, for the live line */
    int window_i;
    uint64_t window_t[WINDOWS];
    lt_stats_t recent;   /* scratch: the windows merged */
    lt_stats_t step;     /* --ramp: counts of the current step */
    lt_stats_t one;      /* scratch: one report, added to every tally it belongs to */
    lt_stats_t interval; /* counts of the current interval of the time series */
    lt_interval_t *series;
    int series_count, series_cap;
    double interval_t0;
    char *request; /* what every connection sends */
    size_t request_len;
    uint64_t step_t0;
    lt_ramp_step_t steps[LT_MAX_CHILDREN];
    int step_count, sustained;
    uint64_t t0, t_end;
    uv_timer_t tick, deadline, kill_timer;
    uv_signal_t sigint, sigterm;
    int handles_open;
    lt_target_t *target;
    int stopping, interrupted, finished, live_shown, exit_code;
    char url_buf[1024];
} run_t;

static run_t run;

static double cpu_seconds(const struct rusage *ru)
{
    return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) +
           (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6;
}

static double now_s(void)
{
    return (double)(uv_hrtime() - run.t0) / 1e9;
}

/* --- children ------------------------------------------------------------------------- */

static void maybe_finish(void);
static void run_stop(const char *why);
static void ramp_check(const char *forced);

/* A report the slot accepted: into the totals, the live line's window, the ramp step. */
static void add_report(lt_slot_t *s, const lt_stats_t *report)
{
    (void)s;
    lt_stats_merge(&run.total, report);
    lt_stats_merge(&run.window[run.window_i], report);
    lt_stats_merge(&run.interval, report);
    if (run.opt.ramp)
        lt_stats_merge(&run.step, report);
}

static void on_child_message(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *handle)
{
    lt_slot_t *s = uvproc_channel_data(ch);
    const char *t = json_string_value(json_object_get(msg, "t"));
    (void)handle;
    if (t == NULL || strcmp(t, "stats") != 0)
        return;
    lt_stats_reset(&run.one);
    if (lt_stats_decode_add(&run.one, msg) != 0) {
        fprintf(stderr, "uvproc-loadtest: process %d sent a bad report; ignored\n", s->view.index);
        return;
    }
    s->view.open_conns = (int)json_integer_value(json_object_get(msg, "open"));
    lt_slot_event(s, json_is_true(json_object_get(msg, "final")) ? LT_EV_FINAL : LT_EV_REPORT,
                  &run.one);
}

static const char *signame(int sig)
{
    static char buf[16];
    switch (sig) {
    case SIGKILL:
        return "SIGKILL";
    case SIGTERM:
        return "SIGTERM";
    case SIGSEGV:
        return "SIGSEGV";
    case SIGABRT:
        return "SIGABRT";
    default:
        snprintf(buf, sizeof buf, "signal %d", sig);
        return buf;
    }
}

/* Kept visible: said now on stderr, and in the summary with the counts it had reported. */
static void tell_crash(lt_slot_t *s)
{
    const lt_child_view_t *v = &s->view;
    if (run.live_shown)
        fprintf(stderr, "\n");
    if (v->term_signal != 0)
        fprintf(
            stderr,
            "uvproc-loadtest: process %d (pid %d) killed by %s after %.1f s; its counts so far are "
            "kept\n",
            v->index, v->pid, signame(v->term_signal), v->ended_s - v->started_s);
    else
        fprintf(stderr,
                "uvproc-loadtest: process %d (pid %d) exited with code %lld after %.1f s, before "
                "its last report; its counts so far are kept\n",
                v->index, v->pid, (long long)v->exit_code, v->ended_s - v->started_s);
    if (run.opt.ramp && !run.stopping) {
        static char why[64];
        snprintf(why, sizeof why, "process %d died", v->index);
        ramp_check(why);
    }
}

static void on_child_close(uvproc_process_t *p, int64_t code, int signal)
{
    lt_slot_t *s = uvproc_process_data(p);
    run.alive--;
    s->view.ended_s = now_s();
    s->view.exit_code = code;
    s->view.term_signal = signal;
    s->view.open_conns = 0;
    s->chan = NULL;
    s->proc = NULL;
    struct rusage ru;
    s->view.cpu_s = -1;
    s->view.max_rss_kb = -1;
    if (uvproc_rusage(p, &ru) == 0) {
        s->view.cpu_s = cpu_seconds(&ru);
        s->view.max_rss_kb = ru.ru_maxrss;
    }
    lt_slot_event(s, code == 0 && signal == 0 ? LT_EV_EXIT_CLEAN : LT_EV_EXIT_BAD, NULL);
    maybe_finish();
}

static void on_child_disconnect(uvproc_channel_t *ch)
{
    ((lt_slot_t *)uvproc_channel_data(ch))->chan = NULL;
}

static int start_child(void)
{
    int i = run.started;
    lt_slot_t *s = &run.slot[i];
    lt_child_config_t cfg = run.base;
    const char *args[] = {"--child", NULL};
    uvproc_fork_options_t o = {
        .spawn = {.data = s,
                  .on_close = on_child_close,
                  .kill_on_parent_death = 1, /* no child outlives the parent, even SIGKILLed */
                  .stdio = {{.type = UVPROC_STDIO_IGNORE},
                            {.type = UVPROC_STDIO_IGNORE}, /* stdout stays ours (--json) */
                            {.type = UVPROC_STDIO_INHERIT}}},
        .channel = {.data = s,
                    .on_message = on_child_message,
                    .on_disconnect = on_child_disconnect},
    };
    int err;
    memset(s, 0, sizeof *s);
    lt_stats_init(&s->view.stats);
    s->state = LT_SLOT_RUNNING;
    s->on_report = add_report;
    s->on_crash = tell_crash;
    s->view.index = i + 1;
    s->view.started_s = now_s();
    cfg.index = i + 1;
    /* -c connections in all, dealt out as evenly as they go. */
    int p = run.opt.processes;
    cfg.connections = run.opt.connections / p + (i < run.opt.connections % p ? 1 : 0);
    if (run.opt.requests != 0) /* processes share the request count exactly */
        cfg.budget =
            run.opt.requests / (uint64_t)p + ((uint64_t)i < run.opt.requests % (uint64_t)p ? 1 : 0);
    if (run.opt.rate > 0) /* the same rate on every connection */
        cfg.rate = run.opt.rate * cfg.connections / run.opt.connections;
    /* scale-out: a child whose host is not this one starts through the launcher, its
     * channel over the launcher's stdio. */
    const char *host = run.opt.hosts_spec != NULL ? lt_hosts_for_child(&run.opt.hosts, i) : ":";
    const char *launcher[64];
    char words[1024];
    uvproc_remote_t remote = {.launcher = launcher};
    if (strcmp(host, ":") != 0) {
        if (lt_hosts_launcher(run.opt.launcher, host, words, sizeof words, launcher, 64) != 0) {
            fprintf(stderr, "uvproc-loadtest: --launcher is too long\n");
            return UV_EINVAL;
        }
        o.spawn.remote = &remote;
    }
    err = uvproc_fork(run.loop, &s->proc, run.exe, args, &o);
    if (err != 0) {
        fprintf(stderr, "uvproc-loadtest: cannot fork a load child: %s\n", uvproc_strerror(err));
        return err;
    }
    run.started++;
    run.alive++;
    run.conns_started += cfg.connections;
    s->view.pid = (int)uvproc_pid(s->proc);
    s->chan = uvproc_process_channel(s->proc);
    if (s->chan != NULL)
        uvproc_channel_send_new(s->chan, lt_child_config_encode(&cfg), NULL, NULL);
    return 0;
}

/* --- the run's clock ------------------------------------------------------------------ */

static void kill_stragglers(uv_timer_t *t)
{
    (void)t;
    for (int i = 0; i < run.started; i++)
        lt_slot_event(&run.slot[i], LT_EV_GRACE_OVER, NULL);
}

static void run_stop(const char *why)
{
    (void)why;
    if (run.stopping)
        return;
    run.stopping = 1;
    run.t_end = uv_hrtime();
    uv_timer_stop(&run.deadline);
    for (int i = 0; i < run.started; i++)
        lt_slot_event(&run.slot[i], LT_EV_STOP, NULL);
    /* A child that does not come back with its last report within 3 s is killed. */
    uv_timer_start(&run.kill_timer, kill_stragglers, 3000, 0);
    maybe_finish();
}

static void on_deadline(uv_timer_t *t)
{
    (void)t;
    run_stop("duration");
}

static void on_signal(uv_signal_t *sig, int signum)
{
    (void)sig;
    if (run.stopping) {
        kill_stragglers(NULL); /* a second Ctrl-C: do not wait */
        return;
    }
    run.interrupted = signum == SIGINT || signum == SIGTERM;
    run_stop("interrupted");
}

static void live_line(void)
{
    char line[256];
    int oldest = (run.window_i + 1) % WINDOWS;
    uint64_t now = uv_hrtime(), t_old = run.window_t[oldest];
    lt_stats_reset(&run.recent);
    for (int i = 0; i < WINDOWS; i++)
        lt_stats_merge(&run.recent, &run.window[i]);
    double span = (double)(now - (t_old != 0 ? t_old : run.t0)) / 1e9;
    lt_report_live(line, sizeof line, now_s(), span > 0 ? (double)run.recent.requests / span : 0,
                   &run.recent, lt_stats_errors(&run.total), run.alive, run.started);
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
    run.live_shown = 1;
}

/* Ends the ramp's current step once it has lasted --ramp-step, or now when `forced` says why
 * (a child died): records it, then stops or adds a child. */
static void ramp_check(const char *forced)
{
    double len = (double)(uv_hrtime() - run.step_t0) / 1e9;
    if ((len < run.opt.ramp_step_s && forced == NULL) || run.stopping)
        return;
    lt_ramp_step_t *st = &run.steps[run.step_count++];
    uint64_t errors = lt_stats_errors(&run.step);
    st->children = run.started;
    st->seconds = now_s();
    st->requests = run.step.requests;
    st->errors = errors;
    st->rps = len > 0 ? (double)run.step.requests / len : 0;
    st->p99_ms = (double)hdr_value_at_percentile(&run.step.latency, 99.0) / 1000.0;
    st->error_rate = run.step.requests + errors == 0
                         ? 1.0
                         : (double)errors / (double)(run.step.requests + errors);
    if (forced != NULL)
        st->stop_reason = forced;
    else if (st->error_rate * 100.0 >= run.opt.ramp_errors_pct)
        st->stop_reason = "error rate";
    else if (st->p99_ms >= run.opt.ramp_p99_ms)
        st->stop_reason = "p99";
    else if (run.started >= run.opt.processes)
        st->stop_reason = "all processes running (-p)";
    if (st->stop_reason == NULL || strcmp(st->stop_reason, "all processes running (-p)") == 0)
        run.sustained = run.step_count - 1;
    if (st->stop_reason != NULL) {
        run_stop(st->stop_reason);
        return;
    }
    lt_stats_reset(&run.step);
    run.step_t0 = uv_hrtime();
    if (start_child() != 0)
        run_stop("fork failed");
}

/* Closes the current interval of the time series. */
static void push_interval(void)
{
    double now = now_s();
    if (run.series_count == run.series_cap) {
        int cap = run.series_cap ? run.series_cap * 2 : 64;
        lt_interval_t *n = realloc(run.series, (size_t)cap * sizeof *n);
        if (n == NULL)
            return;
        run.series = n;
        run.series_cap = cap;
    }
    lt_interval_t *iv = &run.series[run.series_count++];
    const hdr_histogram_t *l = &run.interval.latency;
    iv->t = now;
    iv->seconds = now - run.interval_t0;
    iv->requests = run.interval.requests;
    iv->errors = lt_stats_errors(&run.interval);
    iv->non2xx = lt_stats_non2xx(&run.interval);
    iv->p50_us = hdr_value_at_percentile(l, 50);
    iv->p99_us = hdr_value_at_percentile(l, 99);
    iv->max_us = l->max;
    lt_stats_reset(&run.interval);
    run.interval_t0 = now;
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
    if (run.opt.live && !run.stopping)
        live_line();
    /* By the clock, not by counting ticks: a late tick on a busy machine makes one interval
     * longer (its rate divides by its own length), not the series shorter. */
    if (!run.stopping && now_s() - run.interval_t0 >= LT_INTERVAL_MS / 1000.0 - 0.01)
        push_interval();
    /* The window that now becomes current starts empty. */
    run.window_i = (run.window_i + 1) % WINDOWS;
    lt_stats_reset(&run.window[run.window_i]);
    run.window_t[run.window_i] = uv_hrtime();
    if (run.opt.ramp)
        ramp_check(NULL);
}

/* --- start and end -------------------------------------------------------------------- */

static void handle_closed(uv_handle_t *h)
{
    (void)h;
    run.handles_open--;
}

static int write_file(const char *path, const char *what, json_t *result)
{
    FILE *f = fopen(path, "w");
    int err = f == NULL;
    if (f != NULL) {
        if (result != NULL)
            err = lt_report_html(f, result) != 0;
        else
            lt_report_hgrm(f, &run.total.latency);
        err |= fclose(f) != 0;
    }
    if (err)
        fprintf(stderr, "uvproc-loadtest: cannot write the %s %s: %s\n", what, path,
                strerror(errno));
    return err ? -1 : 0;
}

/* Prints the result, writes the exports; returns the exit status. */
static int print_summary(void)
{
    static char exceeded[128];
    const lt_stats_t *t = &run.total;
    uint64_t errors = lt_stats_errors(t), request_errors = 0;
    for (int k = 0; k < LT_ERR_COUNT; k++)
        if (!LT_ERR_IS_CONNECTION(k))
            request_errors += t->errors[k];
    lt_summary_t s = {
        .url = run.url,
        .target_note = run.target != NULL ? lt_target_name(run.target) : NULL,
        .method = run.opt.method,
        .children = run.started,
        .connections = run.conns_started,
        .rate = run.opt.rate,
        .seconds = (double)((run.t_end ? run.t_end : uv_hrtime()) - run.t0) / 1e9,
        .interrupted = run.interrupted,
        .tls = run.opt.target.tls,
        .show_distribution = run.opt.latency,
        .total = t,
        .intervals = run.series,
        .interval_count = run.series_count,
        .steps = run.steps,
        .step_count = run.step_count,
        .sustained_step = run.sustained,
    };
    if (run.opt.max_errors >= 0) {
        double share =
            t->requests + errors ? 100.0 * (double)errors / (double)(t->requests + errors) : 0;
        if (run.opt.max_errors_pct && share > run.opt.max_errors)
            snprintf(exceeded, sizeof exceeded, "%.2f%% errors > --max-errors %g%%", share,
                     run.opt.max_errors);
        else if (!run.opt.max_errors_pct && (double)errors > run.opt.max_errors)
            snprintf(exceeded, sizeof exceeded, "%llu errors > --max-errors %g",
                     (unsigned long long)errors, run.opt.max_errors);
        s.max_errors_exceeded = exceeded[0] ? exceeded : NULL;
    }
    struct rusage self;
    if (getrusage(RUSAGE_SELF, &self) == 0)
        s.parent_cpu_s = cpu_seconds(&self);
    lt_child_view_t *views = calloc((size_t)run.started + 1, sizeof *views);
    for (int i = 0; views != NULL && i < run.started; i++)
        views[i] = run.slot[i].view;
    s.child = views;
    s.child_count = views != NULL ? run.started : 0;
    if (run.live_shown)
        fprintf(stderr, "\r\033[K");
    /* Nothing answered: one clear line, as wrk's "unable to connect", not a table of zeros. */
    int silent = t->requests == 0;
    if (silent) {
        char why[400] = "";
        for (int k = 0; k < LT_ERR_COUNT; k++)
            if (t->errors[k] != 0)
                snprintf(why + strlen(why), sizeof why - strlen(why), "%s%s %llu",
                         why[0] ? ", " : "", lt_err_names[k], (unsigned long long)t->errors[k]);
        fprintf(stderr, "uvproc-loadtest: %s %s: %s%s%s%s\n",
                request_errors == 0 ? "unable to connect to" : "no response from", run.url,
                t->note[0] ? t->note
                : why[0]   ? ""
                           : "no connection was made within the run",
                t->note[0] && why[0] ? " (" : "", why, t->note[0] && why[0] ? ")" : "");
    }
    json_t *j = NULL;
    if (run.opt.json || run.opt.report != NULL) {
        j = lt_report_json(&s);
        if (run.opt.hosts_spec != NULL) { /* scale-out: where the children ran */
            json_t *where = json_array();
            for (int i = 0; i < run.started; i++)
                json_array_append_new(where, json_string(lt_hosts_for_child(&run.opt.hosts, i)));
            json_object_set_new(j, "hosts", where);
        }
    }
    if (run.opt.json) {
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        fputc('\n', stdout);
    } else if (!silent) {
        lt_report_table(stdout, &s);
    }
    fflush(stdout);
    int bad_file = 0;
    if (run.opt.hgrm != NULL)
        bad_file |= write_file(run.opt.hgrm, ".hgrm file", NULL);
    if (run.opt.report != NULL)
        bad_file |= write_file(run.opt.report, "report", j);
    json_decref(j);
    free(views);
    if (run.interrupted)
        return 130;
    if (silent || bad_file)
        return 1;
    return s.max_errors_exceeded != NULL ? 3 : 0;
}

static void close_all(void)
{
    uv_handle_t *hs[] = {(uv_handle_t *)&run.tick, (uv_handle_t *)&run.deadline,
                         (uv_handle_t *)&run.kill_timer, (uv_handle_t *)&run.sigint,
                         (uv_handle_t *)&run.sigterm};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
        if (!uv_is_closing(hs[i])) {
            run.handles_open++;
            uv_close(hs[i], handle_closed);
        }
    }
}

static void target_stopped(void *data)
{
    (void)data;
    run.target = NULL;
    close_all();
}

static void maybe_finish(void)
{
    if (run.finished || run.alive > 0)
        return;
    if (!run.stopping) {
        run.stopping = 1; /* every child ended by itself (-n) or died */
        run.t_end = uv_hrtime();
    }
    run.finished = 1;
    if (run.url == NULL) { /* stopped before the embedded server was up: nothing to report */
        run.exit_code = run.interrupted ? 130 : 1;
        if (run.target != NULL)
            lt_target_stop(run.target, target_stopped, NULL);
        else
            close_all();
        return;
    }
    /* The last, partial interval, with the final reports: every count is in the series. */
    if (run.started > 0 &&
        (run.series_count == 0 || run.interval.requests != 0 || lt_stats_errors(&run.interval)))
        push_interval();
    run.exit_code = print_summary();
    if (run.started == 0 && !run.interrupted)
        run.exit_code = 1;
    if (run.target != NULL)
        lt_target_stop(run.target, target_stopped, NULL);
    else
        close_all();
}

/* What the children need of the URL: a numeric address (resolved once here, so children
 * connect without a lookup each; IPv4 first, as most servers under test listen there), and
 * the request bytes. */
static int prepare_target(void)
{
    const lt_url_t *u = &run.opt.target;
    uv_getaddrinfo_t req;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    int err = uv_getaddrinfo(run.loop, &req, NULL, u->host, NULL, &hints);
    if (err != 0) {
        hints.ai_family = AF_UNSPEC;
        err = uv_getaddrinfo(run.loop, &req, NULL, u->host, NULL, &hints);
    }
    if (err != 0) {
        fprintf(stderr, "uvproc-loadtest: unable to connect to %s: cannot resolve %s: %s\n",
                run.url, u->host, uvproc_strerror(err));
        return -1;
    }
    err = uv_ip_name(req.addrinfo->ai_addr, run.base.ip, sizeof run.base.ip);
    uv_freeaddrinfo(req.addrinfo);
    if (err != 0)
        return -1;
    run.base.port = u->port;
    run.base.tls = u->tls;
    run.base.insecure = run.opt.insecure;
    snprintf(run.base.host, sizeof run.base.host, "%s", u->host);
    free(run.request);
    run.request = lt_build_request(&run.opt, u, &run.request_len);
    if (run.request == NULL) {
        fprintf(stderr, "uvproc-loadtest: the request is too big (at most %d bytes)\n",
                LT_MAX_REQUEST);
        return -1;
    }
    run.base.request = run.request;
    run.base.request_len = run.request_len;
    return 0;
}

static void start_load(const char *url)
{
    run.url = url;
    if (prepare_target() != 0) {
        run.exit_code = 1;
        run.finished = 1;
        if (run.target != NULL)
            lt_target_stop(run.target, target_stopped, NULL);
        else
            close_all();
        return;
    }
    run.base.timeout_ms = run.opt.timeout_ms;
    run.t0 = run.step_t0 = uv_hrtime();
    int first = run.opt.ramp ? 1 : run.opt.processes;
    for (int i = 0; i < first; i++) {
        if (start_child() != 0)
            break;
    }
    if (run.started == 0) {
        maybe_finish();
        return;
    }
    uv_timer_start(&run.tick, on_tick, LT_REPORT_MS, LT_REPORT_MS);
    /* A ramp ends by itself, at the latest once -c children have had their step; the hard cap
     * on run time stays. */
    uv_timer_start(&run.deadline, on_deadline,
                   (uint64_t)((run.opt.ramp ? LT_MAX_SECONDS : run.opt.seconds) * 1000), 0);
}

static void target_ready(lt_target_t *t, const char *url, const char *error, void *data)
{
    (void)data;
    (void)t;
    if (run.stopping || run.finished)
        return; /* Ctrl-C while it was starting: maybe_finish is stopping it */
    if (url == NULL) {
        fprintf(stderr, "uvproc-loadtest: cannot start the embedded server: %s\n", error);
        run.exit_code = 1;
        run.finished = 1;
        run.target = NULL; /* it frees itself once its process has closed */
        close_all();
        return;
    }
    snprintf(run.url_buf, sizeof run.url_buf, "%s", url);
    if (lt_url_parse(run.url_buf, &run.opt.target) != 0) {
        fprintf(stderr, "uvproc-loadtest: the embedded server said an odd URL: %s\n", url);
        run.exit_code = 1;
        run.finished = 1;
        lt_target_stop(run.target, target_stopped, NULL);
        return;
    }
    start_load(run.url_buf);
}

int main(int argc, char **argv)
{
    size_t size = sizeof run.exe;
    int r;
    if (argc == 2 && strcmp(argv[1], "--child") == 0)
        return lt_child_main();
    r = lt_parse_args(argc, argv, &run.opt);
    if (r != 0) {
        free(run.opt.body);
        return 0; /* --help, --version; usage errors exit 2 in lt_parse_args */
    }
    /* A write to a closed pipe (| head) is an error to report, not a death. */
    signal(SIGPIPE, SIG_IGN);
    if (uv_exepath(run.exe, &size) != 0) {
        fprintf(stderr, "uvproc-loadtest: cannot find my own executable\n");
        return 1;
    }
    run.loop = uv_default_loop();
    run.sustained = -1;
    lt_stats_init(&run.total);
    lt_stats_init(&run.recent);
    lt_stats_init(&run.step);
    lt_stats_init(&run.one);
    lt_stats_init(&run.interval);
    for (int i = 0; i < WINDOWS; i++)
        lt_stats_init(&run.window[i]);
    uv_timer_init(run.loop, &run.tick);
    uv_timer_init(run.loop, &run.deadline);
    uv_timer_init(run.loop, &run.kill_timer);
    uv_signal_init(run.loop, &run.sigint);
    uv_signal_init(run.loop, &run.sigterm);
    uv_signal_start(&run.sigint, on_signal, SIGINT);
    uv_signal_start(&run.sigterm, on_signal, SIGTERM);
    if (run.opt.url != NULL) {
        start_load(run.opt.url);
    } else if (lt_target_start(run.loop, &run.target, target_ready, NULL) != 0) {
        run.exit_code = 1;
        close_all();
    }
    uv_run(run.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(run.loop) != 0 && run.exit_code == 0)
        run.exit_code = 1;
    free(run.series);
    free(run.request);
    free(run.opt.body);
    return run.exit_code;
}
