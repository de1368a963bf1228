/* What a pool test records: every on_done in arrival order (copied out of the borrowed
 * result), events, worker errors and on_close. */
#ifndef UVPROC_TEST_POOL_REC_H
#define UVPROC_TEST_POOL_REC_H

#include <stdlib.h>
#include <string.h>

#include <uvproc.h>

#include "check.h"

#define REC_MAX 2048

typedef struct {
    uint64_t id;
    int error;
    unsigned attempts;
    int skipped;
    uv_pid_t pid;
    int64_t exit_code;
    int term_signal;
    char out[256];
    json_t *result;
    char error_name[64], error_message[256];
    double run_ms;
    int has_rusage;
    long maxrss;
} rec_job_t;

typedef struct {
    uv_loop_t loop;
    uvproc_pool_t *pool;
    rec_job_t jobs[REC_MAX];
    int n;
    int events, closed, worker_errors, last_worker_error, progress_calls;
    uint64_t last_progress_finished; /* done + failed at the last on_progress */
    uvproc_pool_counters_t final;
    void (*after_done)(uvproc_pool_t *pool, const uvproc_pool_result_t *r);
} rec_t;

static rec_t *rec_of(uvproc_pool_t *pool)
{
    return uvproc_pool_data(pool);
}

static inline void rec_done(uvproc_pool_t *pool, const uvproc_pool_result_t *r)
{
    rec_t *rec = rec_of(pool);
    CHECK(rec->n < REC_MAX);
    rec_job_t *j = &rec->jobs[rec->n++];
    j->id = r->id;
    j->error = r->error;
    j->attempts = r->attempts;
    j->skipped = r->skipped;
    j->pid = r->pid;
    j->exit_code = r->exit_code;
    j->term_signal = r->term_signal;
    j->run_ms = r->run_ms;
    j->has_rusage = r->has_rusage;
    j->maxrss = r->has_rusage ? r->rusage.ru_maxrss : 0;
    if (r->out != NULL)
        snprintf(j->out, sizeof j->out, "%.*s", (int)r->out_len, r->out);
    j->result = json_incref(r->result);
    if (r->error_name != NULL)
        snprintf(j->error_name, sizeof j->error_name, "%s", r->error_name);
    if (r->error_message != NULL)
        snprintf(j->error_message, sizeof j->error_message, "%s", r->error_message);
    if (rec->after_done != NULL)
        rec->after_done(pool, r);
}

static inline void rec_event(uvproc_pool_t *pool, uint64_t id, void *data, json_t *payload)
{
    (void)id;
    (void)data;
    (void)payload;
    rec_of(pool)->events++;
}

static inline void rec_progress(uvproc_pool_t *pool, const uvproc_pool_counters_t *c)
{
    rec_t *rec = rec_of(pool);
    CHECK(c->done + c->failed > rec->last_progress_finished || rec->progress_calls == 0);
    rec->progress_calls++;
    rec->last_progress_finished = c->done + c->failed;
}

static inline void rec_worker_error(uvproc_pool_t *pool, int err, uv_pid_t pid)
{
    (void)pid;
    rec_of(pool)->worker_errors++;
    rec_of(pool)->last_worker_error = err;
}

static inline void rec_close(uvproc_pool_t *pool)
{
    rec_t *rec = rec_of(pool);
    uvproc_pool_counters(pool, &rec->final);
    rec->closed = 1;
}

/* Options wired to the recorder. */
static inline uvproc_pool_options_t rec_options(rec_t *rec, uvproc_pool_kind_t kind,
                                                unsigned workers)
{
    return (uvproc_pool_options_t){
        .kind = kind,
        .max_workers = workers,
        .data = rec,
        .on_done = rec_done,
        .on_event = rec_event,
        .on_progress = rec_progress,
        .on_worker_error = rec_worker_error,
        .on_close = rec_close,
    };
}

/* One recorder, reused by every test in turn (tests run one after the other); what the
 * previous test kept is released here, and by rec_release at exit. */
static rec_t rec_the_;

static inline void rec_release(void)
{
    for (int i = 0; i < rec_the_.n; i++)
        json_decref(rec_the_.jobs[i].result);
    rec_the_.n = 0;
}

static rec_t *rec_new(void)
{
    static int registered;
    if (!registered) {
        registered = 1;
        atexit(rec_release);
    }
    rec_release();
    memset(&rec_the_, 0, sizeof rec_the_);
    CHECK_OK(uv_loop_init(&rec_the_.loop));
    return &rec_the_;
}

static rec_job_t *rec_find(rec_t *rec, uint64_t id)
{
    for (int i = 0; i < rec->n; i++)
        if (rec->jobs[i].id == id)
            return &rec->jobs[i];
    fprintf(stderr, "job %llu never finished\n", (unsigned long long)id);
    exit(1);
}

/* Creates the recorder's pool. */
static inline void rec_pool(rec_t *rec, uvproc_pool_options_t *o)
{
    CHECK_OK(uvproc_pool_new(&rec->loop, &rec->pool, o));
}

/* Queues a worker job; steals `params`. */
static inline uint64_t rec_call(rec_t *rec, const char *method, json_t *params, uint64_t timeout_ms)
{
    uint64_t id = 0;
    uvproc_pool_job_options_t jo = {.timeout_ms = timeout_ms};
    CHECK_OK(uvproc_pool_call(rec->pool, method, params, &jo, &id));
    json_decref(params);
    return id;
}

/* A fresh directory under /tmp for a test's files (dir: at least 32 bytes), and its removal. */
static inline void rec_tmpdir(char *dir)
{
    strcpy(dir, "/tmp/uvproc-pool-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
}

static inline void rec_rmtree(const char *dir)
{
    char line[300];
    snprintf(line, sizeof line, "rm -r '%s'", dir);
    CHECK_EQ(system(line), 0);
}

/* Drains the pool, runs the loop to its end, checks on_close came and the loop closes. */
static inline void rec_finish(rec_t *rec)
{
    int r = uvproc_pool_drain(rec->pool);
    CHECK(r == 0 || r == UV_EALREADY);
    uv_run(&rec->loop, UV_RUN_DEFAULT);
    CHECK(rec->closed);
    CHECK_LOOP_CLOSE(&rec->loop);
}

#endif
