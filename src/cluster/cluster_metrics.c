/* What the cluster can tell about itself: a snapshot of its counters and slots (read from the
 * slots and /proc, nothing asked of the workers, so it answers while every worker is being
 * replaced), its Prometheus text rendering, and resizing by one within bounds (TTIN/TTOU).
 * Counters are kept by cluster.c and cluster_control.c as events happen (c->count). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cluster.h"

/* ---------------------------------------------------------------------------------------- */
/* resize by one                                                                            */

unsigned uvproc_cluster_target(const uvproc_cluster_t *c)
{
    return c->target;
}

int uvproc_cluster_resize_by(uvproc_cluster_t *c, int delta, unsigned min, unsigned max)
{
    long want;
    int err;
    if (c == NULL || (delta != 1 && delta != -1) || min > max)
        return UV_EINVAL;
    if (c->stopping)
        return UV_EALREADY;
    want = (long)c->target + delta;
    if (want < (long)min || want > (long)max)
        return UV_ERANGE;
    err = uvproc_cluster_resize(c, (unsigned)want);
    return err != 0 ? err : (int)want;
}

/* ---------------------------------------------------------------------------------------- */
/* the snapshot                                                                             */

/* Resident bytes and user+system CPU seconds of `pid` ("self" when 0), from /proc. */
static void uvproc__cl_proc_usage(uv_pid_t pid, uint64_t *rss, double *cpu)
{
    char path[64], buf[1024];
    unsigned long long pages = 0, utime = 0, stime = 0;
    long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    FILE *f;

    *rss = 0;
    *cpu = 0;
    if (pid != 0)
        snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
    else
        snprintf(path, sizeof path, "/proc/self/statm");
    if ((f = fopen(path, "re")) != NULL) {
        if (fscanf(f, "%*u %llu", &pages) == 1 && page > 0)
            *rss = (uint64_t)pages * (uint64_t)page;
        fclose(f);
    }
    if (pid != 0)
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    else
        snprintf(path, sizeof path, "/proc/self/stat");
    if ((f = fopen(path, "re")) != NULL) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        /* The command name may hold spaces and parentheses: fields count from the last ')'. */
        char *p;
        buf[n] = '\0';
        p = strrchr(buf, ')');
        if (p != NULL &&
            sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                   &stime) == 2 &&
            ticks > 0)
            *cpu = (double)(utime + stime) / (double)ticks;
        fclose(f);
    }
}

int uvproc_cluster_stats(const uvproc_cluster_t *c, uvproc_cluster_stats_t *out)
{
    size_t n = 0, cap;
    uvproc__common_list_t *i;
    if (c == NULL || out == NULL)
        return UV_EINVAL;
    memset(out, 0, sizeof *out);
    cap = uvproc_cluster_workers(c, NULL, 0);
    out->workers = calloc(cap + 1, sizeof *out->workers);
    if (out->workers == NULL)
        return UV_ENOMEM;
    uvproc__common_list_foreach(i, &c->workers) {
        uvproc_cluster_worker_t *w = UVPROC__CLUSTER_WORKER(i);
        uvproc_cluster_worker_stats_t *s;
        if (n == cap)
            break;
        s = &out->workers[n];
        if (w->state == UVPROC_WORKER_DEAD)
            continue;
        s->id = w->id;
        s->pid = uvproc_cluster_worker_pid(w);
        s->state = w->state;
        s->restarts = w->restarts;
        s->uptime_ms = s->pid != 0 ? uvproc_cluster_worker_uptime(w) : 0;
        if (s->pid != 0)
            uvproc__cl_proc_usage(s->pid, &s->rss_bytes, &s->cpu_seconds);
        n++;
    }
    out->nworkers = n;
    out->target = c->target;
    out->forks = c->count.forks;
    out->exits = c->count.exits;
    out->restarts = c->count.restarts;
    out->crash_loops = c->count.crash_loops;
    out->reloads = c->count.reloads;
    out->reload_failures = c->count.reload_failures;
    out->upgrades = c->count.upgrades;
    out->upgrade_failures = c->count.upgrade_failures;
    out->uptime_ms = uv_now(c->loop) - c->started_ms;
    uvproc__cl_proc_usage(0, &out->primary_rss_bytes, &out->primary_cpu_seconds);
    return 0;
}

void uvproc_cluster_stats_free(uvproc_cluster_stats_t *s)
{
    if (s == NULL)
        return;
    free(s->workers);
    s->workers = NULL;
    s->nworkers = 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Prometheus' text exposition format 0.0.4                                                 */

typedef struct {
    char *p;
    size_t len, cap;
    int failed;
} uvproc__cl_text_t;

__attribute__((format(printf, 2, 3))) static void uvproc__cl_put(uvproc__cl_text_t *t,
                                                                 const char *fmt, ...)
{
    va_list ap;
    int n;
    if (t->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap + (size_t)n + 1) * 2;
        char *grown = realloc(t->p, cap);
        if (grown == NULL) {
            t->failed = 1;
            return;
        }
        t->p = grown;
        t->cap = cap;
    }
}

static void uvproc__cl_head(uvproc__cl_text_t *t, const char *prefix, const char *name,
                            const char *type, const char *help)
{
    uvproc__cl_put(t, "# HELP %s_%s %s\n# TYPE %s_%s %s\n", prefix, name, help, prefix, name, type);
}

static void uvproc__cl_one(uvproc__cl_text_t *t, const char *prefix, const char *name,
                           const char *type, const char *help, double v)
{
    uvproc__cl_head(t, prefix, name, type, help);
    uvproc__cl_put(t, "%s_%s %.17g\n", prefix, name, v);
}

/* One family with a sample per worker, labelled by its id and pid. */
static void uvproc__cl_per_worker(uvproc__cl_text_t *t, const uvproc_cluster_stats_t *s,
                                  const char *prefix, const char *name, const char *type,
                                  const char *help, int what)
{
    uvproc__cl_head(t, prefix, name, type, help);
    for (size_t i = 0; i < s->nworkers; i++) {
        const uvproc_cluster_worker_stats_t *w = &s->workers[i];
        double v = what == 0   ? (double)w->restarts
                   : what == 1 ? (double)w->uptime_ms / 1000.0
                   : what == 2 ? (double)w->rss_bytes
                               : w->cpu_seconds;
        uvproc__cl_put(t, "%s_%s{worker=\"%u\",pid=\"%d\"} %.17g\n", prefix, name, w->id,
                       (int)w->pid, v);
    }
}

int uvproc_cluster_stats_prometheus(const uvproc_cluster_stats_t *s, const char *prefix, char **out,
                                    size_t *len)
{
    uvproc__cl_text_t t = {0};
    const char *pf = prefix != NULL ? prefix : "uvproc_cluster";

    if (s == NULL || out == NULL)
        return UV_EINVAL;
    *out = NULL;
    t.cap = 4096;
    t.p = malloc(t.cap);
    if (t.p == NULL)
        return UV_ENOMEM;
    t.p[0] = '\0';

    uvproc__cl_one(&t, pf, "workers_target", "gauge", "Workers wanted.", s->target);
    /* Per state: a gauge per worker (1 in its state) would make 6 series per worker; a
     * count per state is what dashboards plot, the worker's own state is in worker_state. */
    uvproc__cl_head(&t, pf, "workers", "gauge", "Live worker slots by state.");
    for (int st = UVPROC_WORKER_STARTING; st < UVPROC_WORKER_DEAD; st++) {
        unsigned k = 0;
        for (size_t i = 0; i < s->nworkers; i++)
            k += s->workers[i].state == (uvproc_cluster_worker_state_t)st;
        uvproc__cl_put(&t, "%s_workers{state=\"%s\"} %u\n", pf,
                       uvproc_cluster_state_name((uvproc_cluster_worker_state_t)st), k);
    }
    uvproc__cl_head(&t, pf, "worker_state", "gauge", "1 for each worker, labelled with its state.");
    for (size_t i = 0; i < s->nworkers; i++)
        uvproc__cl_put(&t, "%s_worker_state{worker=\"%u\",pid=\"%d\",state=\"%s\"} 1\n", pf,
                       s->workers[i].id, (int)s->workers[i].pid,
                       uvproc_cluster_state_name(s->workers[i].state));
    uvproc__cl_per_worker(&t, s, pf, "worker_restarts_total", "counter",
                          "Restarts of this worker's slot.", 0);
    uvproc__cl_per_worker(&t, s, pf, "worker_uptime_seconds", "gauge",
                          "Seconds since this worker's process started.", 1);
    uvproc__cl_per_worker(&t, s, pf, "worker_resident_memory_bytes", "gauge",
                          "Resident memory of this worker's process.", 2);
    uvproc__cl_per_worker(&t, s, pf, "worker_cpu_seconds_total", "counter",
                          "User and system CPU time of this worker's process.", 3);
    uvproc__cl_one(&t, pf, "forks_total", "counter", "Worker processes started.", (double)s->forks);
    uvproc__cl_one(&t, pf, "exits_total", "counter", "Worker processes exited.", (double)s->exits);
    uvproc__cl_one(&t, pf, "restarts_total", "counter", "Worker restarts scheduled.",
                   (double)s->restarts);
    uvproc__cl_one(&t, pf, "crash_loops_total", "counter",
                   "Worker slots given up after a crash loop.", (double)s->crash_loops);
    uvproc__cl_one(&t, pf, "reloads_total", "counter", "Rolling reloads completed.",
                   (double)s->reloads);
    uvproc__cl_one(&t, pf, "reload_failures_total", "counter", "Rolling reloads that failed.",
                   (double)s->reload_failures);
    uvproc__cl_one(&t, pf, "upgrades_total", "counter", "Upgrades handed over to a new primary.",
                   (double)s->upgrades);
    uvproc__cl_one(&t, pf, "upgrade_failures_total", "counter",
                   "Upgrades whose new primary failed.", (double)s->upgrade_failures);
    uvproc__cl_one(&t, pf, "uptime_seconds", "gauge", "Seconds since the cluster started.",
                   (double)s->uptime_ms / 1000.0);
    uvproc__cl_one(&t, pf, "primary_resident_memory_bytes", "gauge",
                   "Resident memory of the primary.", (double)s->primary_rss_bytes);
    uvproc__cl_one(&t, pf, "primary_cpu_seconds_total", "counter",
                   "User and system CPU time of the primary.", s->primary_cpu_seconds);
    if (t.failed) {
        free(t.p);
        return UV_ENOMEM;
    }
    *out = t.p;
    if (len != NULL)
        *len = t.len;
    return 0;
}
