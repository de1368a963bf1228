/* Pool across hosts (src/pool_hosts.c): slots per host, the host state table (every cell that
 * can happen), jobs of a lost host re-queued elsewhere, results tagged with their host.
 * First with test/remote/fake_launcher.sh standing in for ssh (hosts "a" and "b" that fail on
 * demand, fast), then through real sshd on 127.0.0.1-3 (test/remote/engines.sh): a worker
 * pool across three hosts with one sshd killed mid-run, command jobs, a Node worker behind
 * uvproc-relay. */
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <time.h>

#include "check.h"
#include "remote/remote.h"
#include "uvproc.h"

#define MAX_DONE 4096

typedef struct {
    char host[32];
    int up;
    int64_t code;
    uint64_t at_ns;   /* uv_hrtime */
    uint64_t wall_ns; /* CLOCK_REALTIME, to compare with the fake launcher's `date +%s%N` */
} host_ev_t;

typedef struct {
    uv_loop_t loop;
    uvproc_pool_t *pool;
    int done, failed, closed;
    unsigned char seen[MAX_DONE + 1]; /* on_done per id: exactly once */
    int errors[MAX_DONE + 1];
    char where[MAX_DONE + 1][16];
    json_t *result[MAX_DONE + 1]; /* owned; released by fx_finish */
    char error_name[MAX_DONE + 1][16];
    unsigned max_attempts;
    host_ev_t ev[64];
    int nev;
    uvproc_pool_counters_t final;
    void (*on_host_hook)(const host_ev_t *e);
    void (*on_done_hook)(int done, const char *host);
} fx_t;

static fx_t fx;
static char fake_dir[64];

static void on_done(uvproc_pool_t *pool, const uvproc_pool_result_t *r)
{
    (void)pool;
    CHECK(r->id <= MAX_DONE);
    CHECK_EQ(fx.seen[r->id], 0);
    fx.seen[r->id] = 1;
    fx.errors[r->id] = r->error;
    snprintf(fx.where[r->id], sizeof fx.where[r->id], "%s", r->host != NULL ? r->host : "");
    fx.result[r->id] = json_incref(r->result);
    snprintf(fx.error_name[r->id], sizeof fx.error_name[r->id], "%s",
             r->error_name != NULL ? r->error_name : "");
    if (r->attempts > fx.max_attempts)
        fx.max_attempts = r->attempts;
    fx.done++;
    if (r->error != 0 && fx.failed++ < 3)
        fprintf(stderr, "job %llu on %s: %s (attempts %u)\n", (unsigned long long)r->id,
                r->host != NULL ? r->host : "-", uvproc_err_name(r->error), r->attempts);
    if (fx.on_done_hook != NULL)
        fx.on_done_hook(fx.done, fx.where[r->id]);
}

static void on_host(uvproc_pool_t *pool, const char *host, int up, int64_t code)
{
    host_ev_t *e = &fx.ev[fx.nev];
    (void)pool;
    CHECK(fx.nev < 64);
    snprintf(e->host, sizeof e->host, "%s", host);
    e->up = up;
    e->code = code;
    e->at_ns = uv_hrtime();
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        e->wall_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    }
    fx.nev++;
    if (getenv("DEBUG_HOSTS") != NULL)
        fprintf(stderr, "host %s %s (%lld) at %.1f ms\n", host, up ? "up" : "down", (long long)code,
                (double)e->at_ns / 1e6);
    if (fx.on_host_hook != NULL)
        fx.on_host_hook(e);
}

static void on_close(uvproc_pool_t *pool)
{
    uvproc_pool_counters(pool, &fx.final);
    fx.closed = 1;
}

static void fx_init(void)
{
    memset(&fx, 0, sizeof fx);
    CHECK_OK(uv_loop_init(&fx.loop));
}

static uvproc_pool_options_t fx_options(uvproc_pool_kind_t kind, uvproc_pool_hosts_t *hosts)
{
    hosts->on_host = on_host;
    return (uvproc_pool_options_t){
        .kind = kind,
        .worker_file = POOL_WORKER,
        .on_done = on_done,
        .on_close = on_close,
        .hosts = hosts,
    };
}

static void fx_call(const char *method, json_t *params)
{
    CHECK_OK(uvproc_pool_call(fx.pool, method, params, NULL, NULL));
    json_decref(params);
}

static void fx_run_until(int done)
{
    while (fx.done < done)
        CHECK(uv_run(&fx.loop, UV_RUN_ONCE) != 0 || fx.done >= done);
}

static void fx_finish(void)
{
    int r = uvproc_pool_drain(fx.pool);
    CHECK(r == 0 || r == UV_EALREADY);
    uv_run(&fx.loop, UV_RUN_DEFAULT);
    CHECK(fx.closed);
    CHECK_LOOP_CLOSE(&fx.loop);
    for (int id = 0; id <= MAX_DONE; id++)
        json_decref(fx.result[id]);
}

static int count_events(const char *host, int up)
{
    int n = 0;
    for (int i = 0; i < fx.nev; i++)
        n += strcmp(fx.ev[i].host, host) == 0 && fx.ev[i].up == up;
    return n;
}

static void fake_flag(const char *host, const char *what, int on)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s.%s", fake_dir, host, what);
    if (on) {
        FILE *f = fopen(path, "w");
        CHECK(f != NULL);
        fclose(f);
    } else {
        unlink(path);
    }
}

static const char *const *fake_launcher(void)
{
    static const char *v[4];
    v[0] = "sh";
    v[1] = FAKE_LAUNCHER;
    v[2] = fake_dir;
    v[3] = NULL;
    return v;
}

TEST(bad_specs)
{
    static const char *const bad[] = {"", "0/a", "x/a", "4/", ",", "a,", "2/ ", "1/a,,b", NULL};
    uvproc_pool_hosts_t h = {0};
    uvproc_pool_options_t o = fx_options(UVPROC_POOL_COMMANDS, &h);
    uvproc_pool_t *p;
    uv_loop_t loop;
    CHECK_OK(uv_loop_init(&loop));
    for (int i = 0; bad[i] != NULL; i++) {
        h.spec = bad[i];
        CHECK_EQ(uvproc_pool_new(&loop, &p, &o), UV_EINVAL);
    }
    h.spec = "1/a";
    h.failure_exit_code = 300;
    CHECK_EQ(uvproc_pool_new(&loop, &p, &o), UV_EINVAL);
    CHECK_LOOP_CLOSE(&loop);
}

/* a is down from the start: UP x FAILED (once for two failing starts: then DOWN x FAILED),
 * DOWN x EXPIRED -> PROBING, PROBING x FAILED (backoff doubled), then the host is repaired:
 * PROBING x OK. The jobs never wait for a: b serves them. */
static void repair_a_on_second_down(const host_ev_t *e)
{
    if (strcmp(e->host, "a") == 0 && !e->up && count_events("a", 0) == 2)
        fake_flag("a", "down", 0);
}

TEST(host_down_probed_and_back)
{
    uvproc_pool_hosts_t h = {
        .spec = "2/a,2/b", .launcher = fake_launcher(), .backoff_ms = 50, .backoff_max_ms = 400};
    uvproc_pool_options_t o = fx_options(UVPROC_POOL_WORKERS, &h);
    int a_jobs = 0;

    fx_init();
    fake_flag("a", "down", 1);
    fx.on_host_hook = repair_a_on_second_down;
    o.min_workers = 4;
    CHECK_OK(uvproc_pool_new(&fx.loop, &fx.pool, &o));
    for (int k = 0; k < 200; k++)
        fx_call("echo", json_pack("[i]", k));
    fx_run_until(200);
    CHECK_EQ(fx.failed, 0);
    /* Wait for a to come back (its probe after the second backoff), then use it. */
    while (count_events("a", 1) == 0)
        CHECK(uv_run(&fx.loop, UV_RUN_ONCE) != 0);
    CHECK_EQ(count_events("a", 0), 2);
    CHECK_EQ(fx.ev[0].code, 255);
    {
        /* Detection: the host is down within 100 ms of its launcher's exit. */
        char path[128];
        unsigned long long exited_ns = 0;
        FILE *f;
        snprintf(path, sizeof path, "%s/a.exited", fake_dir);
        f = fopen(path, "r");
        CHECK(f != NULL && fscanf(f, "%llu", &exited_ns) == 1);
        fclose(f);
        unlink(path);
        fprintf(stderr, "a marked down %.1f ms after its launcher exited\n",
                (double)(fx.ev[1].wall_ns - exited_ns) / 1e6);
        CHECK(fx.ev[1].wall_ns > exited_ns && fx.ev[1].wall_ns - exited_ns <= 100 * 1000000ull);
    }
    /* The second backoff (100 ms) is twice the first (50 ms). */
    CHECK(fx.ev[1].at_ns - fx.ev[0].at_ns >= 50 * 1000000ull);
    CHECK(fx.ev[2].at_ns - fx.ev[1].at_ns >= 100 * 1000000ull);
    for (int k = 0; k < 400; k++)
        fx_call("sleep", json_pack("[i,i]", 1, k));
    fx_run_until(600);
    for (int id = 201; id <= 600; id++)
        a_jobs += strcmp(fx.where[id], "a") == 0;
    CHECK(a_jobs > 0);
    CHECK_EQ(fx.failed, 0);
    for (int id = 1; id <= 200; id++)
        CHECK_STR(fx.where[id], "b");
    fx_finish();
}

/* DOWN x OK: one start on a fails, another one started before that failure (a slow
 * connection) comes up while a is down: a is up again without waiting for its backoff. */
TEST(host_back_by_a_slot_started_before)
{
    uvproc_pool_hosts_t h = {.spec = "2/a", .launcher = fake_launcher(), .backoff_ms = 10000};
    uvproc_pool_options_t o = fx_options(UVPROC_POOL_WORKERS, &h);

    fx_init();
    fake_flag("a", "downonce", 1);
    fake_flag("a", "slow", 1);
    o.min_workers = 2;
    CHECK_OK(uvproc_pool_new(&fx.loop, &fx.pool, &o));
    fx_call("echo", json_pack("[s]", "x"));
    fx_run_until(1);
    CHECK_EQ(fx.failed, 0);
    CHECK_EQ(fx.nev, 2);
    CHECK(!fx.ev[0].up && fx.ev[1].up);
    /* Well within the 10 s backoff: it came back through the slot that was already starting. */
    CHECK(fx.ev[1].at_ns - fx.ev[0].at_ns < 5000 * 1000000ull);
    fake_flag("a", "slow", 0);
    fx_finish();
}

/* A job whose worker exits 255 looks like a lost host everywhere: it moves (a retry), brings
 * each host down in turn, and fails after retries + hosts attempts instead of forever. A job
 * sent ahead to the same worker moves and succeeds. */
TEST(job_that_kills_every_host_fails_in_the_end)
{
    uvproc_pool_hosts_t h = {.spec = "1/a,1/b", .launcher = fake_launcher(), .backoff_ms = 20};
    uvproc_pool_options_t o = fx_options(UVPROC_POOL_WORKERS, &h);

    fx_init();
    o.pipeline = 2;
    CHECK_OK(uvproc_pool_new(&fx.loop, &fx.pool, &o));
    fx_call("crash", json_pack("[i]", 255));
    fx_call("echo", json_pack("[i]", 7));
    fx_run_until(2);
    CHECK_EQ(fx.errors[1], UVPROC_EWORKERDIED);
    CHECK_EQ(fx.errors[2], 0);
    CHECK_EQ(fx.max_attempts, 3);
    CHECK(count_events("a", 0) >= 1 && count_events("b", 0) >= 1);
    fx_finish();
    CHECK(fx.final.retried >= 2);
}

/* Command jobs: a refuses every connection; its jobs run on this host, tagged ":". */
TEST(command_jobs_move_off_a_down_host)
{
    static const char *const args[] = {"hi", NULL};
    uvproc_pool_hosts_t h = {.spec = "1/a,1/:", .launcher = fake_launcher(), .backoff_ms = 5000};
    uvproc_pool_options_t o = fx_options(UVPROC_POOL_COMMANDS, &h);

    fx_init();
    fake_flag("a", "down", 1);
    CHECK_OK(uvproc_pool_new(&fx.loop, &fx.pool, &o));
    for (int k = 0; k < 10; k++)
        CHECK_OK(uvproc_pool_submit(fx.pool, "echo", args, NULL, NULL));
    fx_run_until(10);
    CHECK_EQ(fx.failed, 0);
    for (int id = 1; id <= 10; id++)
        CHECK_STR(fx.where[id], ":");
    CHECK_EQ(count_events("a", 0), 1);
    fx_finish();
    CHECK(fx.final.retried >= 1);
    fake_flag("a", "down", 0);
}

/* tag_output: each line of a command job's stdout and stderr comes out with "HOST\t" in
 * front, a line without a final newline too. The pool's fds 1 and 2 are files here. */
static int count_tagged(const char *path, const char *text, int *bad)
{
    char line[256];
    int n = 0;
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    while (fgets(line, sizeof line, f) != NULL) {
        int ok = (strncmp(line, "a\t", 2) == 0 || strncmp(line, "b\t", 2) == 0) &&
                 strcmp(line + 2, text) == 0;
        n += ok;
        *bad += !ok;
    }
    fclose(f);
    return n;
}

TEST(command_output_tagged_by_host)
{
    static const char *const args[] = {"-c", "echo one; echo two >&2; printf three", NULL};
    uvproc_pool_hosts_t h = {.spec = "1/a,1/b", .launcher = fake_launcher(), .tag_output = 1};
    uvproc_pool_options_t o = fx_options(UVPROC_POOL_COMMANDS, &h);
    char out_path[96], err_path[96];
    int saved1 = dup(1), saved2 = dup(2), fd1, fd2, bad = 0;

    snprintf(out_path, sizeof out_path, "%s/out", fake_dir);
    snprintf(err_path, sizeof err_path, "%s/err", fake_dir);
    fd1 = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    fd2 = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd1 >= 0 && fd2 >= 0 && saved1 >= 0 && saved2 >= 0);
    fflush(stdout);
    dup2(fd1, 1);
    dup2(fd2, 2);
    fx_init();
    o.output = UVPROC_POOL_INHERIT;
    CHECK_OK(uvproc_pool_new(&fx.loop, &fx.pool, &o));
    for (int k = 0; k < 6; k++)
        CHECK_OK(uvproc_pool_submit(fx.pool, "sh", args, NULL, NULL));
    fx_run_until(6);
    fx_finish();
    dup2(saved1, 1);
    dup2(saved2, 2);
    close(saved1);
    close(saved2);
    close(fd1);
    close(fd2);
    CHECK_EQ(fx.failed, 0);
    CHECK_EQ(count_tagged(out_path, "one\n", &bad), 6);
    CHECK_EQ(count_tagged(out_path, "three\n", &bad), 6);
    CHECK_EQ(count_tagged(err_path, "two\n", &bad), 6);
    CHECK_EQ(bad, 12); /* stdout read twice: each time the 6 lines of the other text */
    unlink(out_path);
    unlink(err_path);
}

/* ---- through real sshd ---- */

/* uvproc-runner on an ssh host: commands run there, one ssh session for all of them; exit
 * codes, stdout and stderr come back as results (bytes that are not UTF-8 as U+FFFD); a
 * program that cannot start is the job's error, named. */
TEST(ssh_runner_runs_commands_on_its_host)
{
    const char *launcher[4] = {"ssh", "-F", remote_ssh_config(), NULL};
    uvproc_pool_hosts_t h = {
        .spec = "1/127.0.0.2", .launcher = launcher, .remote = {.relay = RELAY}};
    uvproc_pool_options_t o = fx_options(UVPROC_POOL_WORKERS, &h);
    json_t *r;

    fx_init();
    o.worker_file = RUNNER;
    o.pipeline = 4;
    CHECK_OK(uvproc_pool_new(&fx.loop, &fx.pool, &o));
    for (int k = 0; k < 20; k++)
        fx_call("shell", json_pack("[s]", "echo $SSH_CONNECTION; echo err >&2; exit 3"));
    /* printf turns the octal escapes into the bytes: UTF-8 "é", then a lone 0xff. */
    fx_call("exec", json_pack("[s,s]", "printf", "caf\\303\\251 \\377!"));
    fx_call("exec", json_pack("[s]", "uvproc-no-such-program"));
    fx_run_until(22);
    for (int id = 1; id <= 20; id++) {
        r = fx.result[id];
        CHECK_EQ(fx.errors[id], 0);
        CHECK_EQ(json_integer_value(json_object_get(r, "code")), 3);
        CHECK(strstr(json_string_value(json_object_get(r, "out")), " 127.0.0.2 ") != NULL);
        CHECK_STR(json_string_value(json_object_get(r, "err")), "err\n");
    }
    CHECK_STR(json_string_value(json_object_get(fx.result[21], "out")),
              "caf\xc3\xa9 \xef\xbf\xbd!");
    CHECK_EQ(fx.errors[22], UVPROC_EJOBERROR);
    CHECK_STR(fx.error_name[22], "ENOENT");
    fx.failed = 0;
    fx_finish();
}

static uint64_t killed_at;

/* After 300 jobs, at the next answer from 127.0.0.3: its worker then still has the jobs sent
 * ahead of it (pipeline 4) in flight, and they must move. */
static void kill_host3_after_300(int done, const char *host)
{
    if (done >= 300 && killed_at == 0 && strcmp(host, "127.0.0.3") == 0) {
        killed_at = uv_hrtime();
        remote_kill_host(2);
    }
}

/* Six workers on three hosts; 127.0.0.3's sshd and all its sessions are SIGKILLed mid-run:
 * its jobs move (retries), nothing is lost or delivered twice, the loss is seen at once. */
TEST(ssh_pool_survives_a_host_dying)
{
    static const char *const ssh[] = {"ssh", "-F", NULL, NULL};
    const char *launcher[4] = {ssh[0], ssh[1], remote_ssh_config(), NULL};
    uvproc_pool_hosts_t h = {.spec = "2/127.0.0.1,2/127.0.0.2,2/127.0.0.3",
                             .launcher = launcher,
                             .remote = {.relay = RELAY},
                             .backoff_ms = 200};
    uvproc_pool_options_t o = fx_options(UVPROC_POOL_WORKERS, &h);
    int after_kill_on_3 = 0;
    double detect_ms = -1;

    fx_init();
    o.min_workers = 6;
    o.pipeline = 4;
    fx.on_done_hook = kill_host3_after_300;
    CHECK_OK(uvproc_pool_new(&fx.loop, &fx.pool, &o));
    for (int k = 0; k < 1500; k++)
        fx_call("sleep", json_pack("[i,i]", 2, k));
    fx_run_until(1500);
    CHECK_EQ(fx.failed, 0);
    for (int id = 1; id <= 1500; id++)
        CHECK(fx.seen[id]);
    for (int i = 0; i < fx.nev; i++)
        if (strcmp(fx.ev[i].host, "127.0.0.3") == 0 && !fx.ev[i].up && detect_ms < 0)
            detect_ms = (double)(fx.ev[i].at_ns - killed_at) / 1e6;
    /* From the kill, this includes ssh noticing the dropped connection (the 100 ms from the
     * launcher's exit is checked exactly in host_down_probed_and_back). */
    fprintf(stderr, "127.0.0.3 marked down %.1f ms after its sshd was killed\n", detect_ms);
    CHECK(detect_ms >= 0 && detect_ms <= 1000);
    fx_finish();
    CHECK(fx.final.retried >= 1);
    for (int id = 1; id <= 1500; id++)
        after_kill_on_3 += strcmp(fx.where[id], "127.0.0.3") == 0;
    fprintf(stderr, "retried %llu; jobs done on 127.0.0.3: %d\n",
            (unsigned long long)fx.final.retried, after_kill_on_3);
}

/* Command jobs through ssh: 127.0.0.9 refuses (down at once), 127.0.0.2 runs them. */
TEST(ssh_command_jobs_tagged_by_host)
{
    static const char *const args[] = {"-c", "echo $SSH_CONNECTION", NULL};
    const char *launcher[4] = {"ssh", "-F", remote_ssh_config(), NULL};
    uvproc_pool_hosts_t h = {
        .spec = "2/127.0.0.2,1/127.0.0.9", .launcher = launcher, .backoff_ms = 10000};
    uvproc_pool_options_t o = fx_options(UVPROC_POOL_COMMANDS, &h);

    fx_init();
    CHECK_OK(uvproc_pool_new(&fx.loop, &fx.pool, &o));
    for (int k = 0; k < 6; k++)
        CHECK_OK(uvproc_pool_submit(fx.pool, "sh", args, NULL, NULL));
    fx_run_until(6);
    CHECK_EQ(fx.failed, 0);
    for (int id = 1; id <= 6; id++)
        CHECK_STR(fx.where[id], "127.0.0.2");
    CHECK_EQ(count_events("127.0.0.9", 0), 1);
    fx_finish();
}

/* An unmodified npm workerpool worker script (test/node/pool_worker.js: workerpool.worker),
 * behind uvproc-relay on two ssh hosts, serving the C pool. */
TEST(ssh_pool_of_node_workerpool_workers_through_relay)
{
    const char *launcher[4] = {"ssh", "-F", remote_ssh_config(), NULL};
    uvproc_pool_hosts_t h = {
        .spec = "1/127.0.0.2,1/127.0.0.3", .launcher = launcher, .remote = {.relay = RELAY}};
    uvproc_pool_options_t o = fx_options(UVPROC_POOL_WORKERS, &h);
    const char *node = getenv("UVPROC_TEST_NODE");
    struct stat st;

    if (node == NULL || node[0] == '\0' ||
        stat(NODE_SCRIPTS "/node_modules/workerpool", &st) != 0) {
        fprintf(stderr, "no node or no workerpool (npm ci in test/node): skipped\n");
        return;
    }
    fx_init();
    o.worker_file = NODE_SCRIPTS "/pool_worker.js";
    o.worker_fork.exec_path = "node";
    o.min_workers = 2;
    CHECK_OK(uvproc_pool_new(&fx.loop, &fx.pool, &o));
    for (int k = 0; k < 300; k++)
        fx_call("add", json_pack("[i,i]", k, 1));
    fx_run_until(300);
    CHECK_EQ(fx.failed, 0);
    for (int id = 1; id <= 300; id++)
        CHECK(strcmp(fx.where[id], "127.0.0.2") == 0 || strcmp(fx.where[id], "127.0.0.3") == 0);
    fx_finish();
}

/* The fake hosts' flag files, then their directory. */
static void remove_fake_dir(void)
{
    DIR *d = opendir(fake_dir);
    struct dirent *e;
    char path[512];
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", fake_dir, e->d_name);
        unlink(path);
    }
    if (d != NULL)
        closedir(d);
    rmdir(fake_dir);
}

int main(int argc, char **argv)
{
    snprintf(fake_dir, sizeof fake_dir, "/tmp/uvproc-fake.%d", (int)getpid());
    CHECK(mkdir(fake_dir, 0700) == 0);
    RUN(bad_specs);
    RUN(host_down_probed_and_back);
    RUN(host_back_by_a_slot_started_before);
    RUN(job_that_kills_every_host_fails_in_the_end);
    RUN(command_jobs_move_off_a_down_host);
    RUN(command_output_tagged_by_host);
    if (getenv("UVPROC_SSH_CONFIG") != NULL) {
        RUN(ssh_command_jobs_tagged_by_host);
        RUN(ssh_runner_runs_commands_on_its_host);
        RUN(ssh_pool_of_node_workerpool_workers_through_relay);
        RUN(ssh_pool_survives_a_host_dying); /* last: host 3 stays dead */
    }
    remove_fake_dir();
    return check_done();
}
