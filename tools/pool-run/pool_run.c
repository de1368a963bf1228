/* pool-run: a tiny GNU parallel on uvproc's pool. Runs CMD once per argument, N at a time,
 * prints each job's output whole when it ends (in input order with --keep-order), a live
 * progress line on a terminal, and a summary at the end.
 *
 *   pool-run -j 4 gzip -9 ::: *.log
 *   ls *.wav | pool-run -j 2 --keep-order --joblog jobs.tsv flac -s
 *
 * "{}" in CMD's arguments is replaced by the argument; without one, the argument is appended.
 * Exit status: 0 if every job succeeded, else the number of failed jobs (at most 101), as
 * parallel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uvproc.h>

typedef struct {
    uv_loop_t *loop;
    uvproc_pool_t *pool;
    uv_timer_t progress;
    int tty, json;
    uint64_t total, start_ns;
} run_t;

static void usage(FILE *f, const char *argv0)
{
    fprintf(f,
            "usage: %s [-j N] [--keep-order] [--joblog FILE [--resume]] [--retries K "
            "[--retry-delay MS]]\n"
            "          [--timeout MS] [--halt soon|now] [--json] CMD [ARG...] [::: INPUT...]\n"
            "Runs CMD once per INPUT (or per line of stdin when there is no :::), N at a time\n"
            "(default: the number of CPUs). \"{}\" in CMD's arguments is replaced by the input,\n"
            "else the input is appended. Each job's output is printed whole when it ends.\n"
            "  --keep-order      print results in input order\n"
            "  --joblog FILE     one line per job, GNU parallel's format; --resume skips the\n"
            "                    jobs FILE shows succeeded\n"
            "  --retries K       run a failing job up to K more times\n"
            "  --retry-delay MS  wait MS before the first retry, doubling for each next one\n"
            "  --timeout MS      stop a job that runs longer (counted from its start)\n"
            "  --halt soon|now   after the first failure: start nothing new / also stop jobs\n"
            "  --json            one JSON object per job and a summary on stdout\n",
            argv0);
}

static double elapsed_s(const run_t *r)
{
    return (double)(uv_hrtime() - r->start_ns) / 1e9;
}

static void print_progress(run_t *r, int final)
{
    uvproc_pool_counters_t c;
    uvproc_pool_counters(r->pool, &c);
    uint64_t finished = c.done + c.failed;
    double t = elapsed_s(r), rate = t > 0 ? (double)finished / t : 0;
    double eta = rate > 0 ? (double)(r->total - finished) / rate : 0;
    fprintf(stderr, "\r\033[K%llu/%llu done, %llu failed, %llu running, %.1f jobs/s, ETA %.0f s%s",
            (unsigned long long)finished, (unsigned long long)r->total,
            (unsigned long long)c.failed, (unsigned long long)c.running, rate, eta,
            final ? "\n" : "");
}

static void on_tick(uv_timer_t *t)
{
    print_progress(t->data, 0);
}

static void json_job(const uvproc_pool_result_t *res)
{
    json_t *o =
        json_pack("{s:I,s:I,s:i,s:s,s:s#,s:s#,s:f,s:i,s:b}", "seq", (json_int_t)res->id, "exit",
                  (json_int_t)res->exit_code, "signal", res->term_signal, "error",
                  res->error ? uvproc_err_name(res->error) : "", "stdout", res->out ? res->out : "",
                  (size_t)res->out_len, "stderr", res->err ? res->err : "", (size_t)res->err_len,
                  "ms", res->run_ms, "attempts", (int)res->attempts, "skipped", res->skipped);
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s != NULL)
        printf("%s\n", s);
    free(s);
    json_decref(o);
}

static void on_done(uvproc_pool_t *pool, const uvproc_pool_result_t *res)
{
    run_t *r = uvproc_pool_data(pool);
    if (r->tty)
        fprintf(stderr, "\r\033[K"); /* the job's output goes where the progress line was */
    if (r->json) {
        json_job(res);
    } else if (!res->skipped) {
        fwrite(res->out, 1, res->out_len, stdout);
        fflush(stdout);
        fwrite(res->err, 1, res->err_len, stderr);
        if (res->error != 0)
            fprintf(stderr, "pool-run: job %llu (%s): %s\n", (unsigned long long)res->id,
                    (const char *)res->data, uvproc_strerror(res->error));
    }
    if (r->tty)
        print_progress(r, 0);
}

static void on_close(uvproc_pool_t *pool)
{
    run_t *r = uvproc_pool_data(pool);
    uvproc_pool_counters_t c;
    uvproc_pool_counters(pool, &c);
    if (r->tty)
        uv_close((uv_handle_t *)&r->progress, NULL);
    double t = elapsed_s(r);
    if (r->json) {
        printf("{\"summary\":{\"jobs\":%llu,\"ok\":%llu,\"failed\":%llu,\"retried\":%llu,"
               "\"skipped\":%llu,\"seconds\":%.3f}}\n",
               (unsigned long long)r->total, (unsigned long long)c.done,
               (unsigned long long)c.failed, (unsigned long long)c.retried,
               (unsigned long long)c.skipped, t);
    }
    fprintf(stderr,
            "%s%llu jobs: %llu ok, %llu failed, %llu retried, %llu skipped in %.2f s "
            "(%.0f jobs/s)\n",
            r->tty ? "\r\033[K" : "", (unsigned long long)r->total, (unsigned long long)c.done,
            (unsigned long long)c.failed, (unsigned long long)c.retried,
            (unsigned long long)c.skipped, t, t > 0 ? (double)r->total / t : 0);
    r->total = c.failed; /* main's exit status */
    r->pool = NULL;
}

/* CMD's argv for one input: "{}" replaced, else the input appended. */
static char **job_argv(char **cmd, int ncmd, const char *input)
{
    char **v = calloc((size_t)ncmd + 2, sizeof *v);
    int k = 0, replaced = 0;
    for (int i = 1; i < ncmd; i++) {
        char *brace = strstr(cmd[i], "{}");
        if (brace == NULL) {
            v[k++] = strdup(cmd[i]);
            continue;
        }
        size_t len = strlen(cmd[i]) - 2 + strlen(input);
        v[k] = malloc(len + 1);
        snprintf(v[k++], len + 1, "%.*s%s%s", (int)(brace - cmd[i]), cmd[i], input, brace + 2);
        replaced = 1;
    }
    if (!replaced)
        v[k++] = strdup(input);
    return v;
}

static void free_argv(char **v)
{
    for (size_t i = 0; v[i] != NULL; i++)
        free(v[i]);
    free(v);
}

static char **read_lines(size_t *n)
{
    char **lines = NULL, *line = NULL;
    size_t cap = 0, lcap = 0;
    ssize_t len;
    *n = 0;
    while ((len = getline(&line, &lcap, stdin)) >= 0) {
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            lines = realloc(lines, cap * sizeof *lines);
        }
        lines[(*n)++] = strdup(line);
    }
    free(line);
    return lines;
}

int main(int argc, char **argv)
{
    uvproc_pool_options_t o = {.kind = UVPROC_POOL_COMMANDS};
    run_t r = {0};
    int i = 1, ncmd = 0, from_stdin = 1;
    char **cmd, **inputs;
    size_t ninputs = 0;

    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout, argv[0]);
            return 0;
        } else if (strcmp(a, "-j") == 0 && v != NULL) {
            o.max_workers = (unsigned)atoi(v), i++;
        } else if (strncmp(a, "-j", 2) == 0 && a[2] != '\0') {
            o.max_workers = (unsigned)atoi(a + 2);
        } else if (strcmp(a, "--keep-order") == 0 || strcmp(a, "-k") == 0) {
            o.keep_order = 1;
        } else if (strcmp(a, "--joblog") == 0 && v != NULL) {
            o.joblog = v, i++;
        } else if (strcmp(a, "--resume") == 0) {
            o.resume = 1;
        } else if (strcmp(a, "--retries") == 0 && v != NULL) {
            o.retries = (unsigned)atoi(v), i++;
        } else if (strcmp(a, "--retry-delay") == 0 && v != NULL) {
            o.retry_delay_ms = strtoull(v, NULL, 10), i++;
        } else if (strcmp(a, "--timeout") == 0 && v != NULL) {
            o.timeout_ms = strtoull(v, NULL, 10), i++;
        } else if (strcmp(a, "--halt") == 0 && v != NULL) {
            o.halt = strcmp(v, "now") == 0 ? UVPROC_HALT_NOW : UVPROC_HALT_SOON, i++;
        } else if (strcmp(a, "--json") == 0) {
            r.json = 1;
        } else {
            fprintf(stderr, "pool-run: unknown option %s\n", a);
            usage(stderr, argv[0]);
            return 2;
        }
    }
    cmd = argv + i;
    while (i + ncmd < argc && strcmp(argv[i + ncmd], ":::") != 0)
        ncmd++;
    if (ncmd == 0) {
        usage(stderr, argv[0]);
        return 2;
    }
    if (i + ncmd < argc) {
        from_stdin = 0;
        inputs = argv + i + ncmd + 1;
        ninputs = (size_t)(argc - i - ncmd - 1);
    } else {
        inputs = read_lines(&ninputs);
    }

    uv_loop_t *loop = uv_default_loop();
    r.loop = loop;
    r.tty = isatty(2);
    r.total = ninputs;
    r.start_ns = uv_hrtime();
    o.data = &r;
    o.on_done = on_done;
    o.on_close = on_close;
    o.exec.max_buffer = SIZE_MAX;
    int err = uvproc_pool_new(loop, &r.pool, &o);
    if (err != 0) {
        fprintf(stderr, "pool-run: %s%s%s\n", o.joblog ? o.joblog : "", o.joblog ? ": " : "",
                uvproc_strerror(err));
        return 2;
    }
    for (size_t k = 0; k < ninputs; k++) {
        char **v = job_argv(cmd, ncmd, inputs[k]);
        uvproc_pool_job_options_t jo = {.data = inputs[k]};
        err = uvproc_pool_submit(r.pool, cmd[0], (const char *const *)v, &jo, NULL);
        free_argv(v);
        if (err != 0) {
            fprintf(stderr, "pool-run: %s\n", uvproc_strerror(err));
            break;
        }
    }
    if (r.tty) {
        uv_timer_init(loop, &r.progress);
        r.progress.data = &r;
        uv_timer_start(&r.progress, on_tick, 200, 200);
    }
    uvproc_pool_drain(r.pool);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    if (from_stdin) {
        for (size_t k = 0; k < ninputs; k++)
            free(inputs[k]);
        free(inputs);
    }
    return r.total > 101 ? 101 : (int)r.total;
}
