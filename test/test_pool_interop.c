/* The pool and npm workerpool (10.0.3, test/node/package.json), both ways:
 * - an unmodified `workerpool.worker({...})` script (test/node/pool_worker.js) serves uvproc's
 *   pool: results, thrown errors, workerEmit events, a timeout, terminate;
 * - npm workerpool in process mode drives the C worker (test/helpers/pool_worker.c) through
 *   test/node/pool_parent.js: results, errors, events, its timeout + cleanup, terminate.
 * Exits 77 (meson's "skipped") when node cannot be found; fails, saying how to fix it, when
 * node is there but workerpool is not installed (.ci/install-deps installs it). */
#include <stdio.h>
#include <sys/stat.h>

#include "find_node.h"
#include "pool_rec.h"

TEST(node_workerpool_script_serves_c_pool)
{
    rec_t *rec = rec_new();
    uvproc_pool_options_t o = rec_options(rec, UVPROC_POOL_WORKERS, 2);
    o.worker_file = NODE_SCRIPTS "/pool_worker.js";
    o.worker_fork.exec_path = node_path;
    rec_pool(rec, &o);
    uint64_t primes[20];
    for (int i = 0; i < 20; i++)
        primes[i] = rec_call(rec, "isPrime", json_pack("[i]", 90 + i), 0);
    uint64_t sum = rec_call(rec, "add", json_pack("[i,i]", 2, 40), 0);
    uint64_t thrown = rec_call(rec, "fail", json_pack("[s]", "not a number"), 0);
    uint64_t unknown = rec_call(rec, "nope", NULL, 0);
    uint64_t emitted = rec_call(rec, "emit", json_pack("[i]", 4), 0);
    uint64_t hung = rec_call(rec, "sleep", json_pack("[i,s]", 100000, "never"), 300);
    uint64_t promised = rec_call(rec, "sleep", json_pack("[i,s]", 10, "later"), 0);
    rec_finish(rec);
    for (int i = 0; i < 20; i++) {
        json_t *r = rec_find(rec, primes[i])->result;
        int n = 90 + i, prime = n == 97 || n == 101 || n == 103 || n == 107 || n == 109;
        CHECK_EQ(json_integer_value(json_object_get(r, "number")), n);
        CHECK_EQ(json_is_true(json_object_get(r, "isPrime")), prime);
    }
    CHECK_EQ(json_integer_value(rec_find(rec, sum)->result), 42);
    CHECK_EQ(rec_find(rec, thrown)->error, UVPROC_EJOBERROR);
    CHECK_STR(rec_find(rec, thrown)->error_name, "TypeError");
    CHECK_STR(rec_find(rec, thrown)->error_message, "not a number");
    CHECK_EQ(rec_find(rec, unknown)->error, UVPROC_EJOBERROR);
    CHECK_STR(rec_find(rec, unknown)->error_message, "Unknown method \"nope\"");
    CHECK_STR(json_string_value(rec_find(rec, emitted)->result), "emitted");
    CHECK_EQ(rec->events, 4);
    CHECK_EQ(rec_find(rec, hung)->error, UV_ETIMEDOUT);
    CHECK_STR(json_string_value(rec_find(rec, promised)->result), "later");
    CHECK_EQ(rec->final.workers, 0);
}

TEST(npm_workerpool_drives_c_worker)
{
    const char *const args[] = {NODE_SCRIPTS "/pool_parent.js", POOL_WORKER, NULL};
    uvproc_exec_options_t eo = {.timeout_ms = 30000};
    uvproc_exec_result_t r;
    int err = uvproc_exec_file_sync(node_path, args, &eo, &r);
    if (err != 0)
        fprintf(stderr, "pool_parent.js: %s\n%s", uvproc_err_name(err), r.err);
    CHECK_EQ(err, 0);
    json_t *out = json_loads(r.out, 0, NULL);
    CHECK(out != NULL);
    json_t *sums = json_object_get(out, "sums");
    CHECK_EQ(json_array_size(sums), 50);
    for (int i = 0; i < 50; i++)
        CHECK_EQ(json_integer_value(json_array_get(sums, (size_t)i)), 1000 + i);
    CHECK(json_is_true(json_object_get(json_object_get(out, "prime"), "isPrime")));
    json_t *want = json_pack("{s:[s,n,b]}", "k", "ü\"\n", 1);
    CHECK(json_equal(json_object_get(out, "echo"), want));
    json_decref(want);
    json_t *e = json_object_get(out, "error");
    CHECK_STR(json_string_value(json_object_get(e, "name")), "RangeError");
    CHECK_STR(json_string_value(json_object_get(e, "message")), "out of range");
    CHECK(json_is_true(json_object_get(e, "isError")));
    CHECK_STR(json_string_value(json_object_get(out, "unknown")), "Unknown method \"nope\"");
    CHECK_EQ(json_array_size(json_object_get(out, "events")), 3);
    CHECK_STR(json_string_value(json_object_get(out, "emitted")), "emitted");
    CHECK_STR(json_string_value(json_object_get(out, "timeout")), "TimeoutError");
    CHECK_EQ(json_integer_value(json_object_get(out, "afterTimeout")), 3);
    json_decref(out);
    uvproc_exec_result_free(&r);
}

int main(int argc, char **argv)
{
    struct stat st;
    if (!find_node()) {
        fprintf(stderr, "node not found: skipping the workerpool interop tests\n");
        return 77;
    }
    if (stat(NODE_SCRIPTS "/node_modules/workerpool/package.json", &st) != 0) {
        fprintf(stderr, "npm workerpool is not installed in " NODE_SCRIPTS
                        ": run .ci/install-deps (or npm ci there)\n");
        return 1;
    }
    RUN(node_workerpool_script_serves_c_pool);
    RUN(npm_workerpool_drives_c_worker);
    return check_done();
}
