/* The pool with command jobs (one process per job): ordering, retries, halt, job log and
 * resume, timeout counted from the start, cancel, a program that cannot start, the bounded
 * queue, terminate, the output modes. Every job is a real process (/bin/sh).
 *
 * The job table's reachable cells (src/pool.c) and where they are tested:
 *   QUEUED   x START     every test              x CANCEL   cancel_queued_and_running, halt_*
 *   QUEUED   x NOWORKER  test_pool_worker.c misbehaving_workers
 *   RUNNING  x SUCCESS   every test              x FAIL     retries_*, program_that_cannot_start
 *   RUNNING  x CRASH     retries_* (signal), test_pool_worker.c crash_*
 *   RUNNING  x TIMEOUT   timeout_counts_from_start (both files)
 *   RUNNING  x CANCEL    cancel_queued_and_running, halt_now_*, terminate_* (both files)
 *   RUNNING  x REQUEUE   test_pool_worker.c cancel_with_jobs_sent_ahead
 *   STOPPING x SUCCESS / FAIL   stopped_job_keeps_its_stop_reason
 *   STOPPING x CRASH     every cancel and timeout of a job that dies of the signal
 *   WAITING  x TIMEOUT / CANCEL  retry_backoff_and_cancel_while_waiting */
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>

#include "pool_rec.h"

static uint64_t sh(rec_t *rec, const char *line)
{
    uint64_t id = 0;
    CHECK_OK(uvproc_pool_submit_shell(rec->pool, line, NULL, &id));
    return id;
}

static uint64_t sh_timeout(rec_t *rec, const char *line, uint64_t ms)
{
    uint64_t id = 0;
    uvproc_pool_job_options_t jo = {.timeout_ms = ms};
    CHECK_OK(uvproc_pool_submit_shell(rec->pool, line, &jo, &id));
    return id;
}

TEST(captures_output_and_counts)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = rec_options(rec, UVPROC_POOL_COMMANDS, 2);
    rec_pool(rec, &o);
    const char *const a1[] = {"hello", NULL};
    uint64_t id1, id2;
    CHECK_OK(uvproc_pool_submit(rec->pool, "echo", a1, NULL, &id1));
    id2 = sh(rec, "echo out; echo err >&2; exit 4");
    CHECK_EQ(id1, 1);
    CHECK_EQ(id2, 2);
    rec_finish(rec);
    CHECK_EQ(rec->n, 2);
    CHECK_EQ(rec_find(rec, id1)->error, 0);
    CHECK_STR(rec_find(rec, id1)->out, "hello\n");
    CHECK(rec_find(rec, id1)->pid > 0);
    CHECK_EQ(rec_find(rec, id1)->attempts, 1);
    CHECK_EQ(rec_find(rec, id2)->error, UVPROC_EEXITCODE);
    CHECK_EQ(rec_find(rec, id2)->exit_code, 4);
    CHECK_STR(rec_find(rec, id2)->out, "out\n");
    CHECK_EQ(rec->final.submitted, 2);
    CHECK_EQ(rec->final.done, 1);
    CHECK_EQ(rec->final.failed, 1);
    CHECK_EQ(rec->final.running, 0);
    CHECK_EQ(rec->final.queued, 0);
    CHECK_EQ(rec->progress_calls, 2); /* once per finished job, counters rising */
    CHECK_EQ(rec->last_progress_finished, 2);
}

TEST(keep_order_and_completion_order)
{
    for (int keep = 0; keep <= 1; keep++) {
        rec_t *rec = rec_new();
        uvproc_pool_options_t o = rec_options(rec, UVPROC_POOL_COMMANDS, 3);
        o.keep_order = keep;
        rec_pool(rec, &o);
        /* The first job takes longest: completion order is 3 2 1, submission order 1 2 3. */
        sh(rec, "sleep 0.6; echo 1");
        sh(rec, "sleep 0.3; echo 2");
        sh(rec, "echo 3");
        rec_finish(rec);
        CHECK_EQ(rec->n, 3);
        for (int i = 0; i < 3; i++) {
            char want[4];
            snprintf(want, sizeof want, "%d\n", keep ? i + 1 : 3 - i);
            CHECK_STR(rec->jobs[i].out, want);
            CHECK_EQ(rec->jobs[i].error, 0);
        }
    }
}

TEST(retries_until_success_and_gives_up)
{
    char dir[32], line[512];
    rec_tmpdir(dir);
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = rec_options(rec, UVPROC_POOL_COMMANDS, 2);
    o.retries = 2;
    rec_pool(rec, &o);
    /* Fails twice (the counter file says how many runs), succeeds on the third run. */
    snprintf(line, sizeof line,
             "n=$(cat %s/n 2>/dev/null || echo 0); echo $((n+1)) > %s/n; [ $n -ge 2 ]", dir, dir);
    uint64_t flaky = sh(rec, line);
    uint64_t hopeless = sh(rec, "exit 7");
    uint64_t signalled = sh(rec, "kill -9 $$"); /* retry_on_signal is off: no retry */
    rec_finish(rec);
    CHECK_EQ(rec_find(rec, flaky)->error, 0);
    CHECK_EQ(rec_find(rec, flaky)->attempts, 3);
    CHECK_EQ(rec_find(rec, hopeless)->error, UVPROC_EEXITCODE);
    CHECK_EQ(rec_find(rec, hopeless)->exit_code, 7);
    CHECK_EQ(rec_find(rec, hopeless)->attempts, 3);
    CHECK_EQ(rec_find(rec, signalled)->error, UVPROC_ESIGNALED);
    CHECK_EQ(rec_find(rec, signalled)->term_signal, SIGKILL);
    CHECK_EQ(rec_find(rec, signalled)->attempts, 1);
    CHECK_EQ(rec->final.retried, 4);
    CHECK_EQ(rec->final.done, 1);
    CHECK_EQ(rec->final.failed, 2);
    rec_rmtree(dir);
}

/* Backoff: 100 ms before the first retry, 200 before the second (WAITING x TIMEOUT); a job
 * cancelled while it waits (WAITING x CANCEL) never runs again. */
TEST(retry_backoff_and_cancel_while_waiting)
{
    char dir[32], line[512];
    rec_tmpdir(dir);
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = rec_options(rec, UVPROC_POOL_COMMANDS, 2);
    o.retries = 5;
    o.retry_delay_ms = 100;
    rec_pool(rec, &o);
    snprintf(line, sizeof line,
             "n=$(cat %s/n 2>/dev/null || echo 0); echo $((n+1)) > %s/n; [ $n -ge 2 ]", dir, dir);
    uint64_t t0 = uv_hrtime();
    uint64_t flaky = sh(rec, line);
    uint64_t hopeless = sh(rec, "exit 1");
    uvproc_pool_counters_t c;
    for (uvproc_pool_counters(rec->pool, &c); c.retried < 2; uvproc_pool_counters(rec->pool, &c))
        uv_run(&rec->loop, UV_RUN_ONCE);
    CHECK_OK(uvproc_pool_cancel(rec->pool, hopeless)); /* it waits for its first retry */
    rec_finish(rec);
    CHECK_EQ(rec_find(rec, flaky)->error, 0);
    CHECK_EQ(rec_find(rec, flaky)->attempts, 3);
    CHECK((uv_hrtime() - t0) / 1000000 >= 300); /* 100 + 200 ms of backoff */
    CHECK_EQ(rec_find(rec, hopeless)->error, UV_ECANCELED);
    CHECK_EQ(rec_find(rec, hopeless)->attempts, 1);
    CHECK_EQ(rec->final.queued, 0);
    rec_rmtree(dir);
}

TEST(retry_on_signal)
{
    char dir[32], line[512];
    rec_tmpdir(dir);
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = rec_options(rec, UVPROC_POOL_COMMANDS, 1);
    o.retries = 1;
    o.retry_on_signal = 1;
    rec_pool(rec, &o);
    snprintf(line, sizeof line, "[ -e %s/ran ] && exit 0; touch %s/ran; kill -9 $$", dir, dir);
    uint64_t id = sh(rec, line);
    rec_finish(rec);
    CHECK_EQ(rec_find(rec, id)->error, 0);
    CHECK_EQ(rec_find(rec, id)->attempts, 2);
    rec_rmtree(dir);
}

TEST(halt_soon_starts_nothing_new)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = rec_options(rec, UVPROC_POOL_COMMANDS, 1);
    o.halt = UVPROC_HALT_SOON;
    rec_pool(rec, &o);
    uint64_t bad = sh(rec, "exit 1");
    uint64_t q1 = sh(rec, "echo never");
    uint64_t q2 = sh(rec, "echo never");
    rec_finish(rec);
    CHECK_EQ(rec_find(rec, bad)->error, UVPROC_EEXITCODE);
    CHECK_EQ(rec_find(rec, q1)->error, UV_ECANCELED);
    CHECK_EQ(rec_find(rec, q1)->attempts, 0);
    CHECK_EQ(rec_find(rec, q2)->error, UV_ECANCELED);
    CHECK_EQ(rec->final.cancelled, 2);
}

TEST(halt_now_stops_running_jobs)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = rec_options(rec, UVPROC_POOL_COMMANDS, 2);
    o.halt = UVPROC_HALT_NOW;
    rec_pool(rec, &o);
    uint64_t slow = sh(rec, "exec sleep 10");
    uint64_t bad = sh(rec, "sleep 0.1; exit 1");
    rec_finish(rec);
    CHECK_EQ(rec_find(rec, bad)->error, UVPROC_EEXITCODE);
    CHECK_EQ(rec_find(rec, slow)->error, UV_ECANCELED);
    CHECK(rec_find(rec, slow)->run_ms < 5000);
}

/* uvproc_pool_halt: the policy's action on the caller's word (pool-run's --halt rules). */
TEST(halt_on_request)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = rec_options(rec, UVPROC_POOL_COMMANDS, 1);
    rec_pool(rec, &o);
    CHECK_EQ(uvproc_pool_halt(rec->pool, UVPROC_HALT_NEVER), UV_EINVAL);
    uint64_t running = sh(rec, "sleep 0.2; echo finished");
    uint64_t queued = sh(rec, "echo never");
    CHECK_OK(uvproc_pool_halt(rec->pool, UVPROC_HALT_SOON));
    CHECK_EQ(uvproc_pool_halt(rec->pool, UVPROC_HALT_NOW), UV_EALREADY);
    uint64_t later = sh(rec, "echo never");
    rec_finish(rec);
    CHECK_EQ(rec_find(rec, running)->error, 0);
    CHECK_EQ(rec_find(rec, queued)->error, UV_ECANCELED);
    CHECK_EQ(rec_find(rec, queued)->attempts, 0);
    CHECK_EQ(rec_find(rec, later)->error, UV_ECANCELED);

    rec = rec_new();
    o = rec_options(rec, UVPROC_POOL_COMMANDS, 2);
    rec_pool(rec, &o);
    uint64_t slow = sh(rec, "exec sleep 10");
    uint64_t slow2 = sh(rec, "exec sleep 10");
    uint64_t never = sh(rec, "echo never");
    CHECK_OK(uvproc_pool_halt(rec->pool, UVPROC_HALT_NOW));
    rec_finish(rec);
    CHECK_EQ(rec_find(rec, slow)->error, UV_ECANCELED);
    CHECK_EQ(rec_find(rec, slow2)->error, UV_ECANCELED);
    CHECK_EQ(rec_find(rec, never)->error, UV_ECANCELED);
    CHECK(rec_find(rec, slow)->run_ms < 5000);
}

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    int n = 0, c;
    CHECK(f != NULL);
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

TEST(joblog_and_resume)
{
    char dir[32], log[300], line[400];
    rec_tmpdir(dir);
    snprintf(log, sizeof log, "%s/joblog", dir);
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = rec_options(rec, UVPROC_POOL_COMMANDS, 2);
    o.joblog = log;
    rec_pool(rec, &o);
    sh(rec, "true");
    sh(rec, "exit 3");
    sh(rec, "true");
    sh(rec, "kill -TERM $$");
    rec_finish(rec);
    CHECK_EQ(count_lines(log), 5); /* header + 4 */
    FILE *f = fopen(log, "r");
    CHECK(fgets(line, sizeof line, f) != NULL);
    CHECK(strncmp(line, "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand",
                  60) == 0);
    fclose(f);

    /* Resume: jobs 1 and 3 are done, 2 and 4 run again (and are logged again). */
    rec = rec_new();
    o = rec_options(rec, UVPROC_POOL_COMMANDS, 2);
    o.joblog = log;
    o.resume = 1;
    rec_pool(rec, &o);
    sh(rec, "true");
    sh(rec, "exit 3");
    sh(rec, "true");
    sh(rec, "true"); /* fixed since: succeeds now */
    rec_finish(rec);
    CHECK(rec_find(rec, 1)->skipped);
    CHECK(rec_find(rec, 3)->skipped);
    CHECK(!rec_find(rec, 2)->skipped);
    CHECK_EQ(rec_find(rec, 2)->attempts, 1);
    CHECK_EQ(rec_find(rec, 4)->error, 0);
    CHECK_EQ(rec->final.skipped, 2);
    CHECK_EQ(count_lines(log), 7);
    rec_rmtree(dir);

    /* resume without a log is refused */
    uvproc_pool_t *p;
    uv_loop_t loop;
    uv_loop_init(&loop);
    o = (uvproc_pool_options_t){.resume = 1};
    CHECK_EQ(uvproc_pool_new(&loop, &p, &o), UV_EINVAL);
    o = (uvproc_pool_options_t){.joblog = "/nonexistent-dir/log"};
    CHECK_EQ(uvproc_pool_new(&loop, &p, &o), UV_ENOENT);
    CHECK_LOOP_CLOSE(&loop);
}

TEST(timeout_counts_from_start)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = rec_options(rec, UVPROC_POOL_COMMANDS, 1);
    rec_pool(rec, &o);
    /* One slot: the second job waits 0.5 s in the queue, longer than its 300 ms timeout,
     * and must still succeed; the third runs past its own. */
    uint64_t slow = sh_timeout(rec, "sleep 0.5", 3000);
    uint64_t queued = sh_timeout(rec, "true", 300);
    uint64_t hung = sh_timeout(rec, "exec sleep 10", 200);
    rec_finish(rec);
    CHECK_EQ(rec_find(rec, slow)->error, 0);
    CHECK_EQ(rec_find(rec, queued)->error, 0);
    CHECK_EQ(rec_find(rec, hung)->error, UV_ETIMEDOUT);
    CHECK(rec_find(rec, hung)->run_ms < 3000);
}

TEST(cancel_queued_and_running)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = rec_options(rec, UVPROC_POOL_COMMANDS, 2);
    rec_pool(rec, &o);
    uint64_t running = sh(rec, "exec sleep 10");
    uint64_t bystander = sh(rec, "sleep 0.3; echo fine");
    uint64_t queued = sh(rec, "echo never");
    CHECK_OK(uvproc_pool_cancel(rec->pool, queued));
    CHECK_OK(uvproc_pool_cancel(rec->pool, running));
    CHECK_EQ(uvproc_pool_cancel(rec->pool, running), UV_EALREADY);
    CHECK_EQ(uvproc_pool_cancel(rec->pool, 99), UV_ENOENT);
    rec_finish(rec);
    CHECK_EQ(rec_find(rec, queued)->error, UV_ECANCELED);
    CHECK_EQ(rec_find(rec, queued)->attempts, 0);
    CHECK_EQ(rec_find(rec, running)->error, UV_ECANCELED);
    CHECK(rec_find(rec, running)->run_ms < 5000);
    CHECK_EQ(rec_find(rec, bystander)->error, 0);
    CHECK_STR(rec_find(rec, bystander)->out, "fine\n");
    CHECK_EQ(rec->final.cancelled, 2);
}

TEST(program_that_cannot_start)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = rec_options(rec, UVPROC_POOL_COMMANDS, 1);
    o.retries = 3;
    rec_pool(rec, &o);
    uint64_t missing, after;
    CHECK_OK(uvproc_pool_submit(rec->pool, "/nonexistent/program", NULL, NULL, &missing));
    after = sh(rec, "echo after");
    rec_finish(rec);
    CHECK_EQ(rec_find(rec, missing)->error, UV_ENOENT);
    CHECK_EQ(rec_find(rec, missing)->attempts, 1); /* not retried: it can never start */
    CHECK_EQ(rec_find(rec, after)->error, 0);
}

TEST(bounded_queue_and_closed_pool)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = rec_options(rec, UVPROC_POOL_COMMANDS, 1);
    o.max_queue = 2;
    rec_pool(rec, &o);
    sh(rec, "true"); /* runs at once */
    sh(rec, "true");
    sh(rec, "true");
    CHECK_EQ(uvproc_pool_submit_shell(rec->pool, "true", NULL, NULL), UVPROC_EQUEUEFULL);
    CHECK_EQ(uvproc_pool_call(rec->pool, "m", NULL, NULL, NULL), UV_EINVAL); /* wrong kind */
    CHECK_OK(uvproc_pool_drain(rec->pool));
    CHECK_EQ(uvproc_pool_drain(rec->pool), UV_EALREADY);
    CHECK_EQ(uvproc_pool_submit_shell(rec->pool, "true", NULL, NULL), UVPROC_EPOOLCLOSED);
    rec_finish(rec);
    CHECK_EQ(rec->n, 3);
    CHECK_EQ(rec->final.done, 3);
    CHECK_STR(uvproc_err_name(UVPROC_EQUEUEFULL), "EQUEUEFULL");
}

TEST(terminate_leaves_no_child)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = rec_options(rec, UVPROC_POOL_COMMANDS, 2);
    o.stop.first.signal = SIGKILL;
    rec_pool(rec, &o);
    for (int i = 0; i < 5; i++)
        sh(rec, "exec sleep 10");
    CHECK_OK(uvproc_pool_terminate(rec->pool));
    CHECK_EQ(uvproc_pool_terminate(rec->pool), UV_EALREADY);
    CHECK_EQ(uvproc_pool_submit_shell(rec->pool, "true", NULL, NULL), UVPROC_EPOOLCLOSED);
    rec_finish(rec);
    CHECK_EQ(rec->n, 5);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(rec->jobs[i].error, UV_ECANCELED);
}

TEST(discard_mode_gives_rusage)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = rec_options(rec, UVPROC_POOL_COMMANDS, 2);
    o.output = UVPROC_POOL_DISCARD;
    rec_pool(rec, &o);
    uint64_t ok, bad, sig, slow;
    CHECK_OK(uvproc_pool_submit(rec->pool, "/bin/true", NULL, NULL, &ok));
    bad = sh(rec, "echo discarded; exit 2");
    sig = sh(rec, "kill -9 $$");
    slow = sh_timeout(rec, "exec sleep 10", 100);
    rec_finish(rec);
    CHECK_EQ(rec_find(rec, ok)->error, 0);
    CHECK(rec_find(rec, ok)->pid > 0);
    if (getenv("UVPROC_LAUNCHER") == NULL)
        CHECK(rec_find(rec, ok)->has_rusage && rec_find(rec, ok)->maxrss > 0);
    CHECK_EQ(rec_find(rec, bad)->error, UVPROC_EEXITCODE);
    CHECK_EQ(rec_find(rec, bad)->exit_code, 2);
    CHECK_EQ(rec_find(rec, sig)->error, UVPROC_ESIGNALED);
    CHECK_EQ(rec_find(rec, slow)->error, UV_ETIMEDOUT);
}

/* Table cells STOPPING x SUCCESS and STOPPING x FAIL: a job that handles the stop signal and
 * exits 0 (or 5) still ends with its stop reason, never as a success. */
TEST(stopped_job_keeps_its_stop_reason)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = rec_options(rec, UVPROC_POOL_COMMANDS, 2);
    o.output = UVPROC_POOL_DISCARD;
    rec_pool(rec, &o);
    uint64_t clean = sh_timeout(rec, "sleep 10 & p=$!; trap 'kill $p; exit 0' TERM; wait", 200);
    uint64_t dirty = sh_timeout(rec, "sleep 10 & p=$!; trap 'kill $p; exit 5' TERM; wait", 200);
    rec_finish(rec);
    CHECK_EQ(rec_find(rec, clean)->error, UV_ETIMEDOUT);
    CHECK_EQ(rec_find(rec, clean)->exit_code, 0);
    CHECK_EQ(rec_find(rec, dirty)->error, UV_ETIMEDOUT);
    CHECK_EQ(rec_find(rec, dirty)->exit_code, 5);
}

static char streamed_[256];
static int streamed_chunks_, streamed_before_done_;
static void on_output(uvproc_pool_t *pool, uint64_t id, void *data, int fd, const char *buf,
                      size_t len)
{
    (void)pool;
    (void)id;
    (void)data;
    snprintf(streamed_ + strlen(streamed_), sizeof streamed_ - strlen(streamed_), "%d:%.*s", fd,
             (int)len, buf);
    streamed_chunks_++;
}
static void count_streamed(uvproc_pool_t *pool, const uvproc_pool_result_t *r)
{
    (void)pool;
    (void)r;
    streamed_before_done_ = streamed_chunks_;
}

TEST(stream_mode)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = rec_options(rec, UVPROC_POOL_COMMANDS, 1);
    o.output = UVPROC_POOL_STREAM;
    o.on_output = on_output;
    rec->after_done = count_streamed;
    rec_pool(rec, &o);
    uint64_t id = sh(rec, "echo one; sleep 0.1; echo two >&2; sleep 0.1; echo three; exit 3");
    rec_finish(rec);
    CHECK_STR(streamed_, "1:one\n2:two\n1:three\n");
    CHECK_EQ(streamed_before_done_, 3);
    CHECK_EQ(rec_find(rec, id)->error, UVPROC_EEXITCODE);
    CHECK_EQ(rec_find(rec, id)->exit_code, 3);
}

TEST(input_bytes)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = rec_options(rec, UVPROC_POOL_COMMANDS, 2);
    rec_pool(rec, &o);
    uvproc_pool_job_options_t jo = {.input = "fed via stdin", .input_len = 13};
    uint64_t id;
    CHECK_OK(uvproc_pool_submit(rec->pool, "cat", NULL, &jo, &id));
    rec_finish(rec);
    CHECK_STR(rec_find(rec, id)->out, "fed via stdin");
}

/* Submitting from on_done (the usual way to feed a pool lazily) and many jobs at once. */
static int resubmits;
static void submit_more(uvproc_pool_t *pool, const uvproc_pool_result_t *r)
{
    (void)r;
    if (resubmits < 50) {
        resubmits++;
        CHECK_OK(uvproc_pool_submit(pool, "/bin/true", NULL, NULL, NULL));
    }
}

TEST(submit_from_on_done)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = rec_options(rec, UVPROC_POOL_COMMANDS, 2);
    o.output = UVPROC_POOL_DISCARD;
    rec->after_done = submit_more;
    rec_pool(rec, &o);
    CHECK_OK(uvproc_pool_submit(rec->pool, "/bin/true", NULL, NULL, NULL));
    uv_run(&rec->loop, UV_RUN_DEFAULT);
    rec_finish(rec);
    CHECK_EQ(rec->n, 51);
    CHECK_EQ(rec->final.done, 51);
}

TEST(bad_arguments)
{
    uv_loop_t loop;
    uvproc_pool_t *p;
    uv_loop_init(&loop);
    uvproc_pool_options_t o = {.kind = UVPROC_POOL_WORKERS};
    CHECK_EQ(uvproc_pool_new(&loop, &p, &o), UV_EINVAL); /* no worker_file */
    CHECK_EQ(uvproc_pool_new(&loop, &p, NULL), UV_EINVAL);
    CHECK_LOOP_CLOSE(&loop);
}

int main(int argc, char **argv)
{
    RUN(captures_output_and_counts);
    RUN(keep_order_and_completion_order);
    RUN(retries_until_success_and_gives_up);
    RUN(retry_backoff_and_cancel_while_waiting);
    RUN(retry_on_signal);
    RUN(halt_soon_starts_nothing_new);
    RUN(halt_now_stops_running_jobs);
    RUN(halt_on_request);
    RUN(joblog_and_resume);
    RUN(timeout_counts_from_start);
    RUN(cancel_queued_and_running);
    RUN(program_that_cannot_start);
    RUN(bounded_queue_and_closed_pool);
    RUN(terminate_leaves_no_child);
    RUN(discard_mode_gives_rusage);
    RUN(stopped_job_keeps_its_stop_reason);
    RUN(stream_mode);
    RUN(input_bytes);
    RUN(submit_from_on_done);
    RUN(bad_arguments);
    return check_done();
}
