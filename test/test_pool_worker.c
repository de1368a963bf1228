/* The pool with worker jobs: persistent C workers (test/helpers/pool_worker.c, built on the
 * public worker side) over workerpool's protocol. Results, errors, progress events, timeout
 * from the start, cancel (queued, running, with jobs sent ahead on the same worker), crash
 * isolation and retry, recycling by job count and by peak RSS, min/max and idle shrink,
 * misbehaving workers, terminate. */
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>

#include "pool_rec.h"

static uvproc_pool_options_t wopts(rec_t *rec, unsigned workers)
{
    uvproc_pool_options_t o = rec_options(rec, UVPROC_POOL_WORKERS, workers);
    o.worker_file = POOL_WORKER;
    return o;
}

TEST(results_in_and_out)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = wopts(rec, 2);
    rec_pool(rec, &o);
    uint64_t ids[200];
    for (int i = 0; i < 200; i++)
        ids[i] = rec_call(rec, "add", json_pack("[i,i]", i, 1000), 0);
    uint64_t s = rec_call(rec, "echo", json_pack("[{s:[s,n,b]}]", "k", "ü\"\n", 1), 0);
    uint64_t none = rec_call(rec, "pid", NULL, 0);
    rec_finish(rec);
    for (int i = 0; i < 200; i++) {
        rec_job_t *j = rec_find(rec, ids[i]);
        CHECK_EQ(j->error, 0);
        CHECK_EQ(json_integer_value(j->result), i + 1000);
        CHECK(j->pid > 0);
    }
    json_t *want = json_pack("{s:[s,n,b]}", "k", "ü\"\n", 1);
    CHECK(json_equal(rec_find(rec, s)->result, want));
    json_decref(want);
    CHECK(json_integer_value(rec_find(rec, none)->result) > 0);
    CHECK_EQ(rec->final.done, 202);
    CHECK_EQ(rec->final.workers, 0);
    CHECK(rec->final.workers_started <= 2);
}

TEST(method_errors)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = wopts(rec, 1);
    rec_pool(rec, &o);
    uint64_t typed = rec_call(rec, "fail", json_pack("[s,s]", "TypeError", "bad type"), 0);
    uint64_t unknown = rec_call(rec, "nope", NULL, 0);
    uint64_t after = rec_call(rec, "echo", json_pack("[i]", 5), 0);
    rec_finish(rec);
    CHECK_EQ(rec_find(rec, typed)->error, UVPROC_EJOBERROR);
    CHECK_STR(rec_find(rec, typed)->error_name, "TypeError");
    CHECK_STR(rec_find(rec, typed)->error_message, "bad type");
    CHECK_EQ(rec_find(rec, unknown)->error, UVPROC_EJOBERROR);
    CHECK_STR(rec_find(rec, unknown)->error_message, "Unknown method \"nope\"");
    CHECK_EQ(json_integer_value(rec_find(rec, after)->result), 5);
    CHECK_EQ(rec->final.workers_started, 1); /* an error is an answer, not a crash */
}

TEST(progress_events)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = wopts(rec, 1);
    rec_pool(rec, &o);
    uint64_t id = rec_call(rec, "emit", json_pack("[i]", 3), 0);
    rec_finish(rec);
    CHECK_EQ(rec->events, 3);
    CHECK_STR(json_string_value(rec_find(rec, id)->result), "emitted");
}

TEST(timeout_counts_from_start)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = wopts(rec, 1);
    rec_pool(rec, &o);
    uint64_t slow = rec_call(rec, "sleep", json_pack("[i,s]", 500, "slow"), 3000);
    uint64_t queued = rec_call(rec, "sleep", json_pack("[i,s]", 0, "queued"), 300);
    uint64_t hung = rec_call(rec, "sleep", json_pack("[i,s]", 100000, "never"), 200);
    uint64_t next = rec_call(rec, "echo", json_pack("[s]", "next"), 0);
    rec_finish(rec);
    CHECK_EQ(rec_find(rec, slow)->error, 0);
    CHECK_EQ(rec_find(rec, queued)->error, 0);
    CHECK_STR(json_string_value(rec_find(rec, queued)->result), "queued");
    CHECK_EQ(rec_find(rec, hung)->error, UV_ETIMEDOUT);
    CHECK_EQ(rec_find(rec, next)->error, 0);
    CHECK(rec_find(rec, next)->pid != rec_find(rec, slow)->pid); /* hung's worker replaced */
    CHECK_EQ(rec->final.workers_started, 2);
}

/* With jobs sent ahead, a job's clock still starts when its worker gets to it. */
TEST(timeout_counts_from_start_with_pipeline)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = wopts(rec, 1);
    o.pipeline = 3;
    rec_pool(rec, &o);
    uint64_t slow = rec_call(rec, "sleep", json_pack("[i,s]", 500, "slow"), 3000);
    uint64_t behind = rec_call(rec, "sleep", json_pack("[i,s]", 100, "behind"), 300);
    uint64_t hung = rec_call(rec, "sleep", json_pack("[i,s]", 100000, "never"), 200);
    rec_finish(rec);
    CHECK_EQ(rec_find(rec, slow)->error, 0);
    CHECK_EQ(rec_find(rec, behind)->error, 0);
    CHECK(rec_find(rec, behind)->run_ms < 400); /* its own 100 ms, not the 500 before it */
    CHECK_EQ(rec_find(rec, hung)->error, UV_ETIMEDOUT);
}

TEST(cancel_touches_only_its_job)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = wopts(rec, 2);
    o.min_workers = 2;
    rec_pool(rec, &o);
    /* One job per worker, one queued. */
    uint64_t running = rec_call(rec, "sleep", json_pack("[i,s]", 100000, "never"), 0);
    uint64_t bystander = rec_call(rec, "sleep", json_pack("[i,s]", 300, "fine"), 0);
    uint64_t queued = rec_call(rec, "echo", json_pack("[s]", "q"), 0);
    CHECK_OK(uvproc_pool_cancel(rec->pool, queued));
    /* wait until both are running (checked before every wait), then cancel the long one */
    uvproc_pool_counters_t c;
    for (uvproc_pool_counters(rec->pool, &c); c.running < 2; uvproc_pool_counters(rec->pool, &c))
        uv_run(&rec->loop, UV_RUN_ONCE);
    CHECK_OK(uvproc_pool_cancel(rec->pool, running));
    CHECK_EQ(uvproc_pool_cancel(rec->pool, running), UV_EALREADY);
    rec_finish(rec);
    CHECK_EQ(rec_find(rec, queued)->error, UV_ECANCELED);
    CHECK_EQ(rec_find(rec, queued)->attempts, 0);
    CHECK_EQ(rec_find(rec, running)->error, UV_ECANCELED);
    CHECK_EQ(rec_find(rec, bystander)->error, 0);
    CHECK_STR(json_string_value(rec_find(rec, bystander)->result), "fine");
}

TEST(cancel_with_jobs_sent_ahead)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = wopts(rec, 1);
    o.pipeline = 4;
    rec_pool(rec, &o);
    /* All four go to the one worker; killing it for the first must not fail the others. */
    uint64_t victim = rec_call(rec, "sleep", json_pack("[i,s]", 100000, "never"), 0);
    uint64_t others[3];
    for (int i = 0; i < 3; i++)
        others[i] = rec_call(rec, "echo", json_pack("[i]", i), 0);
    uvproc_pool_counters_t c;
    for (uvproc_pool_counters(rec->pool, &c); c.running < 4; uvproc_pool_counters(rec->pool, &c))
        uv_run(&rec->loop, UV_RUN_ONCE);
    CHECK_OK(uvproc_pool_cancel(rec->pool, victim));
    rec_finish(rec);
    CHECK_EQ(rec_find(rec, victim)->error, UV_ECANCELED);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(rec_find(rec, others[i])->error, 0);
        CHECK_EQ(json_integer_value(rec_find(rec, others[i])->result), i);
    }
}

TEST(crash_fails_only_its_job_and_heals)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = wopts(rec, 1);
    rec_pool(rec, &o);
    uint64_t before = rec_call(rec, "pid", NULL, 0);
    uint64_t crash = rec_call(rec, "crash", json_pack("[i]", 9), 0);
    uint64_t after = rec_call(rec, "pid", NULL, 0);
    rec_finish(rec);
    CHECK_EQ(rec_find(rec, before)->error, 0);
    CHECK_EQ(rec_find(rec, crash)->error, UVPROC_EWORKERDIED);
    CHECK_EQ(rec_find(rec, after)->error, 0);
    CHECK(json_integer_value(rec_find(rec, after)->result) !=
          json_integer_value(rec_find(rec, before)->result));
    CHECK_EQ(rec->final.workers_started, 2);
}

TEST(crash_retried_by_option)
{
    char dir[32], path[300];
    rec_tmpdir(dir);
    snprintf(path, sizeof path, "%s/crashed", dir);
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = wopts(rec, 1);
    o.retries = 1;
    o.retry_on_signal = 1;
    rec_pool(rec, &o);
    uint64_t id = rec_call(rec, "crash_once", json_pack("[s]", path), 0);
    rec_finish(rec);
    CHECK_EQ(rec_find(rec, id)->error, 0);
    CHECK_STR(json_string_value(rec_find(rec, id)->result), "survived");
    CHECK_EQ(rec_find(rec, id)->attempts, 2);
    CHECK_EQ(rec->final.retried, 1);
    rec_rmtree(dir);
}

static int distinct_pids(rec_t *rec)
{
    int n = 0;
    for (int i = 0; i < rec->n; i++) {
        int seen = 0;
        for (int k = 0; k < i; k++)
            seen |= rec->jobs[k].pid == rec->jobs[i].pid;
        n += !seen;
    }
    return n;
}

TEST(recycle_by_job_count)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = wopts(rec, 1);
    o.max_jobs_per_worker = 3;
    rec_pool(rec, &o);
    for (int i = 0; i < 10; i++)
        rec_call(rec, "pid", NULL, 0);
    rec_finish(rec);
    CHECK_EQ(rec->final.done, 10);
    CHECK_EQ(distinct_pids(rec), 4);
    CHECK_EQ(rec->final.workers_started, 4);
}

TEST(recycle_by_peak_rss)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = wopts(rec, 1);
    o.max_rss_kb = 40 * 1024;
    rec_pool(rec, &o);
    uint64_t small = rec_call(rec, "grow", json_pack("[i]", 1), 0);
    uint64_t same = rec_call(rec, "pid", NULL, 0);
    uint64_t big = rec_call(rec, "grow", json_pack("[i]", 64), 0);
    uint64_t fresh = rec_call(rec, "pid", NULL, 0);
    rec_finish(rec);
    CHECK_EQ(rec_find(rec, small)->pid, rec_find(rec, same)->pid);
    CHECK_EQ(rec_find(rec, big)->pid, rec_find(rec, same)->pid);
    CHECK_EQ(rec_find(rec, big)->error, 0);
    CHECK(rec_find(rec, fresh)->pid != rec_find(rec, big)->pid);
}

TEST(min_max_and_idle_shrink)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = wopts(rec, 3);
    o.min_workers = 1;
    o.idle_timeout_ms = 50;
    rec_pool(rec, &o);
    uvproc_pool_counters_t c;
    uvproc_pool_counters(rec->pool, &c);
    CHECK_EQ(c.workers, 1); /* min_workers start at once */
    for (int i = 0; i < 6; i++)
        rec_call(rec, "sleep", json_pack("[i,i]", 100, i), 0);
    uint64_t peak = 0;
    do { /* the queue grows the pool to max; idle workers above min then go */
        uv_run(&rec->loop, UV_RUN_ONCE);
        uvproc_pool_counters(rec->pool, &c);
        peak = c.workers > peak ? c.workers : peak;
    } while (c.done < 6 || c.workers > 1);
    CHECK_EQ(peak, 3);
    CHECK_EQ(c.workers, 1);
    CHECK_EQ(c.workers_started, 3);
    rec_finish(rec);
}

TEST(misbehaving_workers)
{
    static const char *const modes[] = {"garbage", "badid", "silent", "noready"};
    static const int want[] = {UVPROC_EPROTOCOL, UVPROC_EPROTOCOL, UV_ETIMEDOUT,
                               UVPROC_EWORKERSTART};
    for (int m = 0; m < 4; m++) {
        rec_t *rec = rec_new();
        uvproc_pool_options_t o = wopts(rec, 1);
        const char *const args[] = {modes[m], NULL};
        o.worker_args = args;
        rec_pool(rec, &o);
        uint64_t a = rec_call(rec, "echo", json_pack("[i]", 1), 300);
        uint64_t b = rec_call(rec, "echo", json_pack("[i]", 2), 300);
        rec_finish(rec);
        CHECK_EQ(rec_find(rec, a)->error, want[m]);
        CHECK_EQ(rec_find(rec, b)->error, want[m]); /* the pool went on, and told again */
        if (m != 2)
            CHECK(rec->worker_errors >= 2);
    }
    /* a worker program that does not exist */
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = wopts(rec, 2);
    o.worker_file = "/nonexistent/worker";
    o.min_workers = 2;
    rec_pool(rec, &o);
    uint64_t a = rec_call(rec, "echo", json_pack("[i]", 1), 0);
    rec_finish(rec);
    CHECK_EQ(rec_find(rec, a)->error, UV_ENOENT);
    CHECK_EQ(rec->last_worker_error, UV_ENOENT);
}

/* Issue 16, fault 1: with max_workers > 1, workers that exit before "ready" were restarted
 * forever and no job ended (one slot was always "still starting"). Now: a bounded number of
 * starts with backoff, then every queued job fails with UVPROC_EWORKERSTART; the pool stays
 * usable: a later job gets a fresh try, and runs once the worker is fixed. */
TEST(early_exit_with_many_slots_is_bounded)
{
    char dir[64], flag[128], script[512];
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = wopts(rec, 4);
    uvproc_pool_counters_t c;
    uint64_t ids[10], later, fixed;

    rec_tmpdir(dir);
    snprintf(flag, sizeof flag, "%s/fixed", dir);
    /* Exits 3 before "ready" until the flag exists, then is the real worker. */
    snprintf(script, sizeof script, "[ -e '%s' ] && exec '%s'; exit 3", flag, POOL_WORKER);
    const char *const args[] = {"-c", script, NULL};
    o.worker_file = "/bin/sh";
    o.worker_args = args;
    rec_pool(rec, &o);
    for (int i = 0; i < 10; i++)
        ids[i] = rec_call(rec, "echo", json_pack("[i]", i), 0);
    do {
        uv_run(&rec->loop, UV_RUN_ONCE);
        uvproc_pool_counters(rec->pool, &c);
        CHECK(c.workers_started <= 5); /* the old code started 50-800 here */
    } while (rec->n < 10);
    for (int i = 0; i < 10; i++)
        CHECK_EQ(rec_find(rec, ids[i])->error, UVPROC_EWORKERSTART);
    CHECK_EQ(rec->last_worker_error, UVPROC_EWORKERDIED);
    CHECK_EQ((uint64_t)rec->worker_errors, c.workers_started);

    /* Still usable: one fresh try for a new job (no backoff, no loop)... */
    later = rec_call(rec, "echo", json_pack("[i]", 10), 0);
    while (rec->n < 11)
        uv_run(&rec->loop, UV_RUN_ONCE);
    uvproc_pool_counters(rec->pool, &c);
    CHECK(c.workers_started <= 6);
    CHECK_EQ(rec_find(rec, later)->error, UVPROC_EWORKERSTART);
    /* ...and once the worker starts again, jobs run. */
    FILE *f = fopen(flag, "w");
    CHECK(f != NULL);
    fclose(f);
    fixed = rec_call(rec, "echo", json_pack("[i]", 11), 0);
    rec_finish(rec);
    CHECK_EQ(rec_find(rec, fixed)->error, 0);
    rec_rmtree(dir);
}

/* Issue 16 (smaller): forked with serialization 'advanced' (or run by hand), the C worker
 * says why on stderr and exits with the documented status instead of a silent exit. */
TEST(serve_refuses_advanced_with_a_word)
{
    char cmd[1024];
    uvproc_exec_result_t r;
    snprintf(cmd, sizeof cmd,
             "NODE_CHANNEL_FD=3 NODE_CHANNEL_SERIALIZATION_MODE=advanced exec '%s'", POOL_WORKER);
    CHECK_OK(uvproc_exec_sync(cmd, NULL, &r) == UVPROC_EEXITCODE ? 0 : -1);
    CHECK_EQ(r.exit_code, UVPROC_POOL_SERVE_EXIT_NOCHANNEL);
    CHECK(strstr(r.err, "NODE_CHANNEL_SERIALIZATION_MODE=advanced is not supported") != NULL);
    uvproc_exec_result_free(&r);
    snprintf(cmd, sizeof cmd, "exec '%s' </dev/null", POOL_WORKER);
    CHECK_OK(uvproc_exec_sync(cmd, NULL, &r) == UVPROC_EEXITCODE ? 0 : -1);
    CHECK_EQ(r.exit_code, UVPROC_POOL_SERVE_EXIT_NOCHANNEL);
    CHECK(strstr(r.err, "uvproc_pool_serve: no channel to the pool") != NULL);
    uvproc_exec_result_free(&r);
}

/* A worker that hangs up its channel but lives on is killed; its job fails, the pool goes on. */
TEST(worker_that_hangs_up)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = wopts(rec, 1);
    const char *const args[] = {"hangup", NULL};
    o.worker_args = args;
    rec_pool(rec, &o);
    uint64_t a = rec_call(rec, "echo", json_pack("[i]", 1), 0);
    rec_finish(rec);
    CHECK_EQ(rec_find(rec, a)->error, UVPROC_EWORKERDIED);
}

/* Drained before its workers said "ready": they are told to terminate at once; one that
 * ignores it is killed after the grace period. */
TEST(drain_before_ready_and_terminate_ignored)
{
    for (int silent = 0; silent <= 1; silent++) {
        rec_t *rec = rec_new();
        uvproc_pool_options_t o = wopts(rec, 2);
        const char *const args[] = {"silent", NULL};
        o.min_workers = 2;
        o.stop.first.grace_ms = 100;
        if (silent)
            o.worker_args = args;
        rec_pool(rec, &o);
        uint64_t t0 = uv_hrtime();
        rec_finish(rec);
        CHECK_EQ(rec->final.workers_started, 2);
        CHECK((uv_hrtime() - t0) / 1000000 < 1500); /* the grace, not the default 2 s */
    }
}

TEST(terminate_with_running_jobs)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = wopts(rec, 2);
    rec_pool(rec, &o);
    for (int i = 0; i < 5; i++)
        rec_call(rec, "sleep", json_pack("[i,i]", 100000, i), 0);
    uvproc_pool_counters_t c;
    for (uvproc_pool_counters(rec->pool, &c); c.running < 2; uvproc_pool_counters(rec->pool, &c))
        uv_run(&rec->loop, UV_RUN_ONCE);
    CHECK_OK(uvproc_pool_terminate(rec->pool));
    CHECK_EQ(uvproc_pool_call(rec->pool, "echo", NULL, NULL, NULL), UVPROC_EPOOLCLOSED);
    rec_finish(rec);
    CHECK_EQ(rec->n, 5);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(rec->jobs[i].error, UV_ECANCELED);
    CHECK_EQ(rec->final.workers, 0);
}

/* Many jobs sent ahead, cancels landing on queued, sent-ahead and running jobs from on_done:
 * every job is delivered exactly once, right or cancelled, nothing else. */
static void cancel_some(uvproc_pool_t *pool, const uvproc_pool_result_t *r)
{
    if (r->id % 97 == 0)
        uvproc_pool_cancel(pool, r->id + 3); /* may be queued, in flight or done already */
}

TEST(many_jobs_with_cancels)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = wopts(rec, 2);
    o.pipeline = 4;
    rec->after_done = cancel_some;
    rec_pool(rec, &o);
    enum { N = 1500 };
    for (int i = 0; i < N; i++)
        rec_call(rec, "add", json_pack("[i,i]", i, 1), 0);
    for (uint64_t id = 50; id <= N; id += 200)
        CHECK_OK(uvproc_pool_cancel(rec->pool, id));
    rec_finish(rec);
    CHECK_EQ(rec->n, N);
    int cancelled = 0;
    for (int i = 0; i < N; i++) {
        rec_job_t *j = &rec->jobs[i];
        for (int k = 0; k < i; k++)
            CHECK(rec->jobs[k].id != j->id);
        if (j->error == UV_ECANCELED)
            cancelled++;
        else {
            CHECK_EQ(j->error, 0);
            CHECK_EQ(json_integer_value(j->result), (long long)j->id); /* (id - 1) + 1 */
        }
    }
    CHECK(cancelled >= 8);
    CHECK_EQ(rec->final.cancelled, cancelled);
    CHECK_EQ(rec->final.done + rec->final.failed, N);
}

TEST(bounded_queue)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = wopts(rec, 1);
    o.max_queue = 3;
    rec_pool(rec, &o);
    json_t *notarray = json_object();
    CHECK_EQ(uvproc_pool_call(rec->pool, "echo", notarray, NULL, NULL), UV_EINVAL);
    json_decref(notarray);
    CHECK_EQ(uvproc_pool_submit_shell(rec->pool, "true", NULL, NULL), UV_EINVAL); /* kind */
    /* No worker is ready yet: all three wait in the queue, which is then full. */
    for (int i = 0; i < 3; i++)
        rec_call(rec, "echo", json_pack("[i]", i), 0);
    CHECK_EQ(uvproc_pool_call(rec->pool, "echo", NULL, NULL, NULL), UVPROC_EQUEUEFULL);
    rec_finish(rec);
    CHECK_EQ(rec->final.done, 3);
}

TEST(keep_order_and_joblog)
{
    char dir[32], log[300], line[320];
    rec_tmpdir(dir);
    snprintf(log, sizeof log, "%s/log", dir);
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = wopts(rec, 2);
    o.keep_order = 1;
    o.joblog = log;
    rec_pool(rec, &o);
    rec_call(rec, "sleep", json_pack("[i,i]", 300, 1), 0);
    rec_call(rec, "sleep", json_pack("[i,i]", 0, 2), 0);
    rec_call(rec, "fail", json_pack("[s,s]", "Error", "x"), 0);
    rec_finish(rec);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(rec->jobs[i].id, (uint64_t)i + 1);
    FILE *f = fopen(log, "r");
    int lines = 0, fails = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        lines++;
        fails += strstr(line, "\t1\t0\tfail [") != NULL;
    }
    fclose(f);
    CHECK_EQ(lines, 4);
    CHECK_EQ(fails, 1);
    rec_rmtree(dir);
}

int main(int argc, char **argv)
{
    RUN(results_in_and_out);
    RUN(method_errors);
    RUN(progress_events);
    RUN(timeout_counts_from_start);
    RUN(timeout_counts_from_start_with_pipeline);
    RUN(cancel_touches_only_its_job);
    RUN(cancel_with_jobs_sent_ahead);
    RUN(crash_fails_only_its_job_and_heals);
    RUN(crash_retried_by_option);
    RUN(recycle_by_job_count);
    RUN(recycle_by_peak_rss);
    RUN(min_max_and_idle_shrink);
    RUN(misbehaving_workers);
    RUN(worker_that_hangs_up);
    RUN(drain_before_ready_and_terminate_ignored);
    RUN(early_exit_with_many_slots_is_bounded);
    RUN(serve_refuses_advanced_with_a_word);
    RUN(terminate_with_running_jobs);
    RUN(many_jobs_with_cancels);
    RUN(bounded_queue);
    RUN(keep_order_and_joblog);
    return check_done();
}
