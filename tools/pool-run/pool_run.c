/* pool-run: GNU parallel's command lines on uvproc's pool.
 *
 *   pool-run -j 4 gzip -9 ::: *.log
 *   pool-run -k --joblog jobs.tsv 'convert {} {.}.png' :::: list.txt
 *
 * What it supports it does as parallel 20221122 does (docs/pool.md has the table and the few
 * differences kept on purpose); what it does not support it refuses with one line and exit
 * status 2, never reading an unknown option as a command or an input.
 *
 * Shape of a run: jobs are made from their number (pool_run_input.c) only when a slot is free,
 * so at most -j jobs are in the pool at once and {%} is known when a job is made; each job's
 * output is printed whole when it ends (-k: in input order), its job-log row written then. The
 * tool, not the library, writes the job log, because parallel's rows need what only the tool
 * knows: the command as the shell got it and which jobs a --halt or a signal cut short. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uvproc.h>

#include "cli.h"
#include "pool_run.h"

enum { HALT_NEVER, HALT_SOON, HALT_NOW };
enum { WHY_FAIL, WHY_SUCCESS, WHY_DONE };

typedef struct job_s {
    struct job_s *next; /* -k: the jobs not printed yet, in input order */
    uint64_t seq;
    unsigned slot;
    char *cmd;  /* as the shell gets it (--no-shell: the argv quoted): the job log's Command */
    char *prog; /* --no-shell: the program, for "command not found" */
    char *tag;
    int finished, silent;
    char *out, *err; /* -k: kept until the job's turn */
    size_t out_len, err_len;
} job_t;

typedef struct {
    /* options */
    unsigned slots;
    int keep_order, quote, no_shell, dry_run, tag, bar, eta, progress, json;
    int resume, resume_failed;
    int n0; /* -N0: each input makes a job but is given to it nowhere */
    const char *joblog_path, *tagstring;
    int halt_when, halt_why;
    double halt_pct; /* 0: halt_count is a count */
    uint64_t halt_count;
    /* state */
    uv_loop_t *loop;
    uvproc_pool_t *pool;
    pr_inputs_t in;
    pr_template_t cmd, tagt;
    uint64_t next_k, outstanding;
    unsigned window; /* jobs handed to the pool at once (started or queued there) */
    unsigned char *slot_busy;
    job_t *head, *tail;
    FILE *joblog;
    uint64_t *log_seen, *log_ok;
    size_t nseen, nok;
    uint64_t started, completed, failed, run_total;
    int stopping, drained, halted, halt_status, interrupted, nterm, sigint;
    uv_signal_t sig[3];
    uv_timer_t tick;
    uint64_t t0;
    double run_s; /* summed run time of completed jobs, for --eta */
} run_t;

static const char *prog = "pool-run";

/* ---------------------------------------------------------------------------------------- */
/* options                                                                                  */

static void usage(void)
{
    printf("usage: %s [OPTIONS] [COMMAND [ARG...]] [::: VALUE... | :::: FILE... | "
           ":::+ VALUE... | ::::+ FILE...]...\n"
           "Runs COMMAND once per input, as GNU parallel: through /bin/sh (or "
           "$PARALLEL_SHELL),\n"
           "with {} {.} {/} {//} {/.} {#} {%%} {n} {n.} {n/} {n//} {n/.} replaced by the "
           "input,\n"
           "quoted for the shell; without one the inputs are appended. Inputs come from :::\n"
           "values (several ::: are crossed, :::+ pairs with the one before), :::: or -a "
           "files,\n"
           "else stdin, one per line.\n"
           "  -j, --jobs N|N%%|+N|-N|0   jobs at once (default: one per CPU; 0: as many as "
           "possible)\n"
           "  -k, --keep-order         print outputs in input order\n"
           "  -q, --quote              quote the command's own words too\n"
           "      --no-shell           run COMMAND directly (argv), inputs as whole words\n"
           "  -a, --arg-file FILE      inputs from FILE (as :::: FILE)\n"
           "  -0, --null, -d, --delimiter C   input records end with NUL / C, not newline\n"
           "      --link               pair every source, the shorter ones wrap around\n"
           "  -N0                      each input makes a job but is not given to it\n"
           "      --joblog [+]FILE     parallel's job log (+: append; -: stdout)\n"
           "      --resume             skip the jobs the job log has, whatever their status\n"
           "      --resume-failed      run again the jobs the job log shows failed, skip the "
           "rest of it\n"
           "      --retries N          run a failing job up to N times in all\n"
           "      --timeout DURATION   stop a job after DURATION seconds (s, m, h, d "
           "suffixes)\n"
           "      --halt WHEN,WHY=N[%%] now|soon, fail|success|done=N or N%%; or 0, 1, 2, -1, "
           "-2\n"
           "      --tag, --tagstring STR  put the inputs (STR) and a tab before each output "
           "line\n"
           "  -S, --sshlogin [N/]HOST[,...]  run on these hosts through ssh (\":\": here)\n"
           "      --sshloginfile FILE  the hosts, one per line\n"
           "      --dry-run            print the commands, run nothing\n"
           "      --bar, --eta, --progress   a live line on stderr\n"
           "      --json               one JSON object per job and a summary on stdout\n"
           "      --will-cite          accepted for parallel's sake (nothing to cite)\n"
           "  -h, --help, -V, --version\n"
           "Exit status: 0, the number of failed jobs (101: more than 100), the --halt rules;\n"
           "2 for a command-line error, 255 for another error or a signal.\n",
           prog);
}

/* parallel's options pool-run knows but does not implement: named as such in the refusal. */
static const char *const parallel_only[] = {
    "pipe", "pipepart", "pipe-part", "block", "block-size", "recstart", "recend", "regexp",
    "line-buffer", "lb", "ungroup", "group", "files", "results", "res", "compress", "sqlmaster",
    "sqlworker", "sqlandworker", "semaphore", "fg", "bg", "transfer", "transferfile", "tf",
    "return", "cleanup", "trc", "basefile", "bf", "env", "nice", "memfree", "memsuspend", "load",
    "noswap", "delay", "shuf", "xargs", "max-args", "max-lines", "replace",
    "extensionreplace", "er", "basenamereplace", "bnr", "dirnamereplace", "dnr",
    "basenameextensionreplace", "bner", "seqreplace", "slotreplace", "plus", "colsep",
    "header", "tty", "interactive", "verbose", "tmux", "tmuxpane", "csv", "shellquote",
    "retry-failed", "termseq", "term-seq", "controlmaster", "ssh", "sshdelay", "workdir", "wd",
    "nonall", "onall", "keep-order-output", "joblog-append", "citation", "number-of-cpus",
    "number-of-cores", "number-of-sockets", "number-of-threads", "max-chars", "arg-sep",
    "arg-file-sep", "eof", "E", "timeout-pct", "total-jobs", "tmpdir", "use-cpus-instead-of-cores",
    "fifo", "cat", "filter-hosts", "round-robin", "rpl", "tagstring-color", "color", "ctag",
    "ctagstring", "silent", "quote-all", "progress-bar", "limit", "profile", "record-env",
    "session", "embed", "parens", "cr-nl", "open-tty", "o", "dr", NULL};

static void refuse(const char *what)
{
    const char *name = what;
    /* parallel's short options pool-run lacks: -X -m -n -N -L -l -I -i -E -e -C -u -p -t -v
     * -o -U -W -M -T -Y -H -s -x -w -r -g -c -b -f -F -G -J -K -O -R -D -y */
    if (what[0] == '-' && what[1] != '-' && what[1] != '\0' && what[2] == '\0' &&
        strchr("XmnLlIiEeCuptvoUWMTYHsxwrgcbfFGJKORDy", what[1]) != NULL)
        cli_usage_error(prog, "GNU parallel's option '%s' is not supported", what);
    while (*name == '-')
        name++;
    for (size_t i = 0; parallel_only[i] != NULL; i++) {
        size_t n = strlen(parallel_only[i]);
        if (strncmp(name, parallel_only[i], n) == 0 && (name[n] == '\0' || name[n] == '='))
            cli_usage_error(prog, "GNU parallel's option '%s' is not supported", what);
    }
    cli_usage_error(prog, "unknown option '%s'", what);
}

/* parallel's durations: seconds, or numbers each followed by s, m, h or d ("1h30m"). */
static int parse_duration(const char *s, double *out)
{
    double total = 0;
    if (*s == '\0')
        return -1;
    while (*s != '\0') {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (end == s || errno != 0 || v < 0 || !isfinite(v))
            return -1;
        switch (*end) {
        case '\0':
            total += v;
            s = end;
            continue;
        case 's': total += v; break;
        case 'm': total += v * 60; break;
        case 'h': total += v * 3600; break;
        case 'd': total += v * 86400; break;
        default: return -1;
        }
        s = end + 1;
    }
    *out = total;
    return 0;
}

/* -j: N, N% of the CPUs, +N / -N relative to them, 0 for as many as there are jobs. */
static int parse_jobs(const char *s, long *out)
{
    long cpus = (long)uv_available_parallelism(), v;
    size_t len = strlen(s);
    if (len > 1 && s[len - 1] == '%') {
        char num[32];
        if (len > sizeof num)
            return -1;
        memcpy(num, s, len - 1);
        num[len - 1] = '\0';
        if (cli_parse_long(num, 0, 1000000, &v) != 0)
            return -1;
        *out = cpus * v / 100;
    } else if (s[0] == '+' || s[0] == '-') {
        if (cli_parse_long(s + 1, 0, 1000000, &v) != 0)
            return -1;
        *out = s[0] == '+' ? cpus + v : cpus - v;
    } else {
        if (cli_parse_long(s, 0, 1000000, &v) != 0)
            return -1;
        *out = v == 0 ? 0 : v;
        return 0;
    }
    if (*out < 1)
        *out = 1;
    return 0;
}

static int parse_halt(run_t *r, const char *s)
{
    static const struct {
        const char *from, *to;
    } alias[] = {{"0", "never"},          {"1", "soon,fail=1"},    {"2", "now,fail=1"},
                 {"-1", "soon,success=1"}, {"-2", "now,success=1"}};
    char buf[128], *why, *num;
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
        if (strcmp(s, alias[i].from) == 0)
            s = alias[i].to;
    size_t len = strlen(s);
    if (len >= sizeof buf - 16)
        return -1;
    if (len > 1 && s[len - 1] == '%' && strspn(s, "0123456789") == len - 1)
        snprintf(buf, sizeof buf, "soon,fail=%s", s); /* --halt 5% is soon,fail=5% */
    else
        snprintf(buf, sizeof buf, "%s", s);
    if (strcmp(buf, "never") == 0) {
        r->halt_when = HALT_NEVER;
        return 0;
    }
    why = strchr(buf, ',');
    if (why == NULL)
        return -1;
    *why++ = '\0';
    num = strchr(why, '=');
    if (num == NULL)
        return -1;
    *num++ = '\0';
    if (strcmp(buf, "now") == 0)
        r->halt_when = HALT_NOW;
    else if (strcmp(buf, "soon") == 0)
        r->halt_when = HALT_SOON;
    else
        return -1;
    if (strcmp(why, "fail") == 0)
        r->halt_why = WHY_FAIL;
    else if (strcmp(why, "success") == 0)
        r->halt_why = WHY_SUCCESS;
    else if (strcmp(why, "done") == 0)
        r->halt_why = WHY_DONE;
    else
        return -1;
    len = strlen(num);
    long v;
    if (len > 1 && num[len - 1] == '%') {
        num[len - 1] = '\0';
        if (cli_parse_long(num, 1, 100, &v) != 0)
            return -1;
        r->halt_pct = (double)v / 100;
    } else {
        if (cli_parse_long(num, 1, LONG_MAX, &v) != 0)
            return -1;
        r->halt_count = (uint64_t)v;
    }
    return 0;
}

static char parse_delim(const char *s)
{
    if (strlen(s) == 1)
        return s[0];
    if (strcmp(s, "\\n") == 0)
        return '\n';
    if (strcmp(s, "\\t") == 0)
        return '\t';
    if (strcmp(s, "\\0") == 0)
        return '\0';
    if (strcmp(s, "\\\\") == 0)
        return '\\';
    cli_usage_error(prog, "--delimiter wants one character (or \\n, \\t, \\0), not '%s'", s);
}

/* --sshlogin values and --sshloginfile lines into the library's spec, each host without its
 * own "N/" given the -j slots (parallel's -j is per host). */
static void add_hosts(pr_buf_t *spec, const char *list, unsigned slots)
{
    char *copy = strdup(list), *save = NULL;
    for (char *h = strtok_r(copy, ",", &save); h != NULL; h = strtok_r(NULL, ",", &save)) {
        while (*h == ' ' || *h == '\t')
            h++;
        size_t n = strlen(h);
        while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t' || h[n - 1] == '\r'))
            h[--n] = '\0';
        if (n == 0 || h[0] == '#')
            continue;
        if (spec->len > 0)
            pr_buf_adds(spec, ",");
        if (strchr(h, '/') == NULL) {
            char num[24];
            snprintf(num, sizeof num, "%u/", slots);
            pr_buf_adds(spec, num);
        }
        pr_buf_adds(spec, h);
    }
    free(copy);
}

/* The slots a spec gives ("4/a,2/:"); 0 when a count is not a number. */
static unsigned spec_slots(const char *spec, int *remote)
{
    unsigned total = 0;
    char *copy = strdup(spec), *save = NULL;
    *remote = 0;
    for (char *h = strtok_r(copy, ",", &save); h != NULL; h = strtok_r(NULL, ",", &save)) {
        char *slash = strchr(h, '/');
        long n = 1;
        if (slash != NULL) {
            *slash = '\0';
            if (cli_parse_long(h, 1, 100000, &n) != 0) {
                free(copy);
                return 0;
            }
        }
        *remote |= strcmp(slash != NULL ? slash + 1 : h, ":") != 0;
        total += (unsigned)n;
    }
    free(copy);
    return total;
}

/* ---------------------------------------------------------------------------------------- */
/* no orphans: a guard process sweeps up what a killed pool-run leaves                      */

/* Every job's own child gets SIGKILL from the kernel when pool-run dies (kill_on_parent_death),
 * but a job's shell may have children of its own, and those would live on. So a guard forked
 * first thing holds a pipe from pool-run: at EOF without the "all done" byte (pool-run died
 * without getting to its end, SIGKILL included) it signals every process whose environment
 * carries this run's PARALLEL_PID (parallel sets that variable in its jobs too; children inherit
 * it), TERM then KILL, and exits. */
static int guard_fd = -1;
static pid_t guard_pid = -1;
static char marker[64]; /* "PARALLEL_PID=<our pid>" */

/* Signals every process with our marker (sig 0: only looks); 1 if there was one. */
static int sweep(int sig)
{
    char path[64], env[65536];
    int found = 0;
    DIR *proc = opendir("/proc");
    struct dirent *de;
    if (proc == NULL)
        return 0;
    while ((de = readdir(proc)) != NULL) {
        long pid = strtol(de->d_name, NULL, 10);
        if (pid <= 1 || pid == (long)getpid())
            continue;
        snprintf(path, sizeof path, "/proc/%ld/environ", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, env, sizeof env - 1);
        close(fd);
        if (n <= 0)
            continue;
        size_t mlen = strlen(marker);
        for (ssize_t i = 0; i < n; i += (ssize_t)strnlen(env + i, (size_t)(n - i)) + 1) {
            if ((size_t)(n - i) > mlen && memcmp(env + i, marker, mlen + 1) == 0) {
                kill((pid_t)pid, sig);
                found = 1;
                break;
            }
        }
    }
    closedir(proc);
    return found;
}

/* parallel's --term-seq, shortened: TERM, a grace, then KILL until none is left. */
static void sweep_all(void)
{
    if (sweep(SIGTERM)) {
        for (int i = 0; i < 10 && sweep(0); i++)
            usleep(50000);
        for (int i = 0; i < 20 && sweep(SIGKILL); i++)
            usleep(20000);
    }
}

static void guard_start(void)
{
    int p[2];
    snprintf(marker, sizeof marker, "PARALLEL_PID=%ld", (long)getpid());
    if (pipe2(p, O_CLOEXEC) != 0)
        return;
    fflush(NULL);
    guard_pid = fork();
    if (guard_pid < 0) {
        close(p[0]);
        close(p[1]);
        return;
    }
    if (guard_pid == 0) {
        char c;
        ssize_t n;
        int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
        close(p[1]);
        /* A terminal's Ctrl-C reaches the guard too: it must outlive pool-run to sweep. */
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);
        if (nul >= 0) { /* hold no pipe of pool-run's caller open */
            dup2(nul, 0);
            dup2(nul, 1);
            dup2(nul, 2);
        }
        while ((n = read(p[0], &c, 1)) < 0 && errno == EINTR)
            ;
        if (n == 1)
            _exit(0);
        sweep_all();
        _exit(0);
    }
    close(p[0]);
    guard_fd = p[1];
    setenv("PARALLEL_PID", marker + strlen("PARALLEL_PID="), 1);
}

static void guard_stop(void)
{
    if (guard_fd < 0)
        return;
    if (write(guard_fd, "x", 1) != 1) {
        /* the guard is gone: nothing to tell */
    }
    close(guard_fd);
    while (waitpid(guard_pid, NULL, 0) < 0 && errno == EINTR)
        ;
    guard_fd = -1;
}

/* ---------------------------------------------------------------------------------------- */
/* the job log                                                                              */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void push_u64(uint64_t **v, size_t *n, uint64_t x)
{
    if ((*n & (*n - 1)) == 0 || *n == 0) { /* grows at powers of two */
        uint64_t *nv = realloc(*v, (*n != 0 ? *n * 2 : 64) * sizeof *nv);
        if (nv == NULL) {
            fputs("pool-run: out of memory\n", stderr);
            exit(PR_EXIT_ERROR);
        }
        *v = nv;
    }
    (*v)[(*n)++] = x;
}

/* --resume / --resume-failed: the Seqs the log has, and those that succeeded. */
static void joblog_read(run_t *r)
{
    FILE *f = fopen(r->joblog_path, "re");
    char *line = NULL;
    size_t cap = 0;
    if (f == NULL)
        return; /* no log yet: nothing to skip */
    while (getline(&line, &cap, f) >= 0) {
        unsigned long long seq;
        char host[256];
        double start, runtime;
        long long send, recv, exitval;
        int sig;
        if (sscanf(line, "%llu\t%255s\t%lf\t%lf\t%lld\t%lld\t%lld\t%d", &seq, host, &start,
                   &runtime, &send, &recv, &exitval, &sig) != 8)
            continue; /* the header, a torn line, or a command's own newline */
        push_u64(&r->log_seen, &r->nseen, seq);
        if (exitval == 0 && sig == 0)
            push_u64(&r->log_ok, &r->nok, seq);
    }
    free(line);
    fclose(f);
    if (r->nseen > 0)
        qsort(r->log_seen, r->nseen, sizeof *r->log_seen, cmp_u64);
    if (r->nok > 0)
        qsort(r->log_ok, r->nok, sizeof *r->log_ok, cmp_u64);
}

static int in_set(const uint64_t *v, size_t n, uint64_t x)
{
    return n > 0 && bsearch(&x, v, n, sizeof x, cmp_u64) != NULL;
}

static void joblog_open(run_t *r)
{
    const char *path = r->joblog_path;
    int append = r->resume || r->resume_failed;
    if (path == NULL)
        return;
    if (path[0] == '+') {
        append = 1;
        r->joblog_path = ++path;
    }
    if (strcmp(path, "-") == 0) {
        r->joblog = stdout;
    } else {
        if (r->resume || r->resume_failed)
            joblog_read(r);
        r->joblog = fopen(path, append ? "ae" : "we");
        if (r->joblog == NULL) {
            fprintf(stderr, "%s: cannot open the job log %s: %s\n", prog, path, strerror(errno));
            exit(PR_EXIT_ERROR);
        }
    }
    if (r->joblog != stdout && ftell(r->joblog) > 0)
        return;
    fputs("Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n",
          r->joblog);
    fflush(r->joblog);
}

/* parallel's row; Exitval -1 for a job it killed (timeout), 0 with the Signal when the job
 * died of a signal of its own. One fwrite, so a killed run leaves only whole rows. */
static void joblog_write(run_t *r, const job_t *j, const uvproc_pool_result_t *res,
                         long long exitval)
{
    char *row = NULL;
    if (r->joblog == NULL)
        return;
    /* parallel writes a newline of the command (a -0 value) as a NUL: a row stays one line. */
    size_t cmd_len = strlen(j->cmd);
    int n = asprintf(&row, "%llu\t%s\t%.3f\t%10.3f\t0\t%zu\t%lld\t%d\t%s\n",
                     (unsigned long long)j->seq, res->host != NULL ? res->host : ":",
                     res->start_time, res->run_ms / 1000.0, res->out_len, exitval,
                     res->term_signal, j->cmd);
    if (n > 0) {
        for (char *p = row + n - 1 - cmd_len; p < row + n - 1; p++)
            if (*p == '\n')
                *p = '\0';
        fwrite(row, 1, (size_t)n, r->joblog);
        fflush(r->joblog);
    }
    free(row);
}

/* ---------------------------------------------------------------------------------------- */
/* output                                                                                   */

/* --tag: the tag and a tab before every line, the last one too when it has no newline. */
static void write_out(FILE *f, const char *tag, const char *p, size_t len)
{
    if (tag == NULL) {
        fwrite(p, 1, len, f);
        return;
    }
    while (len > 0) {
        const char *nl = memchr(p, '\n', len);
        size_t n = nl != NULL ? (size_t)(nl - p) + 1 : len;
        fputs(tag, f);
        fputc('\t', f);
        fwrite(p, 1, n, f);
        p += n;
        len -= n;
    }
}

static void print_job(run_t *r, const job_t *j, const char *out, size_t out_len, const char *err,
                      size_t err_len)
{
    if (r->bar || r->eta || r->progress)
        fputs("\r\033[K", stderr); /* the output goes where the live line was */
    write_out(stdout, j->tag, out, out_len);
    fflush(stdout);
    write_out(stderr, j->tag, err, err_len);
}

static void json_job(const job_t *j, const uvproc_pool_result_t *res, long long exitval)
{
    json_t *o = json_pack("{s:I,s:s,s:s,s:I,s:i,s:s,s:s#,s:s#,s:f,s:i}", "seq",
                          (json_int_t)j->seq, "host", res->host != NULL ? res->host : ":",
                          "command", j->cmd, "exit", (json_int_t)exitval, "signal",
                          res->term_signal, "error", res->error ? uvproc_err_name(res->error) : "",
                          "stdout", res->out ? res->out : "", (size_t)res->out_len, "stderr",
                          res->err ? res->err : "", (size_t)res->err_len, "seconds",
                          res->run_ms / 1000.0, "attempts", (int)res->attempts);
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s != NULL)
        printf("%s\n", s);
    fflush(stdout);
    free(s);
    json_decref(o);
}

static void live_line(run_t *r, int final)
{
    uint64_t left = r->run_total - r->completed, running = r->outstanding;
    double t = (double)(uv_hrtime() - r->t0) / 1e9;
    double avg = r->completed > 0 ? t / (double)r->completed : 0;
    double eta = avg * (double)left;
    int pct = r->run_total > 0 ? (int)(100 * r->completed / r->run_total) : 100;
    fputs("\r\033[K", stderr);
    if (r->progress)
        fprintf(stderr, "local:%llu/%llu/%d%%/%.1fs ", (unsigned long long)running,
                (unsigned long long)r->completed, pct, avg);
    if (r->eta)
        fprintf(stderr, "ETA: %.0fs Left: %llu AVG: %.2fs ", eta, (unsigned long long)left, avg);
    if (r->bar)
        fprintf(stderr, "%d%% %llu:%llu=%.0fs", pct, (unsigned long long)r->completed,
                (unsigned long long)left, eta);
    if (final)
        fputc('\n', stderr);
    fflush(stderr);
}

static void on_tick(uv_timer_t *t)
{
    live_line(t->data, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* the run                                                                                  */

static void job_free(job_t *j)
{
    free(j->cmd);
    free(j->prog);
    free(j->tag);
    free(j->out);
    free(j->err);
    free(j);
}

static void flush_ordered(run_t *r)
{
    while (r->head != NULL && r->head->finished) {
        job_t *j = r->head;
        r->head = j->next;
        if (r->head == NULL)
            r->tail = NULL;
        if (!j->silent)
            print_job(r, j, j->out, j->out_len, j->err, j->err_len);
        job_free(j);
    }
}

/* No more jobs: at the end of the inputs; `halt` (--halt soon, a first SIGTERM): the jobs
 * already handed to the pool but not started are cancelled too. */
static void stop_starting(run_t *r, int halt)
{
    r->stopping = 1;
    if (halt && r->pool != NULL)
        uvproc_pool_halt(r->pool, UVPROC_HALT_SOON);
    if (r->pool != NULL && !r->drained) {
        r->drained = 1;
        uvproc_pool_drain(r->pool);
    }
}

static void stop_now(run_t *r)
{
    r->stopping = 1;
    r->drained = 1;
    if (r->pool != NULL)
        uvproc_pool_terminate(r->pool);
}

static job_t *make_job(run_t *r, uint64_t k, const char **args)
{
    job_t *j = calloc(1, sizeof *j);
    pr_job_args_t a = {.args = args, .nargs = r->n0 ? 0 : r->in.nsrc, .seq = k + 1};
    if (j == NULL) {
        fputs("pool-run: out of memory\n", stderr);
        exit(PR_EXIT_ERROR);
    }
    j->seq = k + 1;
    for (unsigned s = 0; r->window == r->slots && s < r->slots; s++) {
        if (!r->slot_busy[s]) {
            j->slot = s + 1;
            break;
        }
    }
    a.slot = j->slot;
    pr_inputs_job(&r->in, k, args);
    if (r->no_shell) {
        char **v = pr_expand_argv(&r->cmd, &a);
        pr_buf_t b = {0};
        for (size_t i = 0; v[i] != NULL; i++) {
            if (i > 0)
                pr_buf_adds(&b, " ");
            pr_quote(&b, v[i]);
        }
        j->cmd = pr_buf_steal(&b);
        j->prog = v[0] != NULL ? strdup(v[0]) : NULL;
        for (size_t i = 0; v[i] != NULL; i++)
            free(v[i]);
        free(v);
    } else {
        j->cmd = pr_expand_shell(&r->cmd, &a, r->quote);
    }
    if (r->tagstring != NULL)
        j->tag = pr_expand_plain(&r->tagt, &a);
    else if (r->tag) {
        pr_buf_t b = {0};
        for (size_t i = 0; i < a.nargs; i++) {
            if (i > 0)
                pr_buf_adds(&b, " ");
            pr_buf_adds(&b, args[i]);
        }
        j->tag = pr_buf_steal(&b);
    }
    return j;
}

static int skipped_by_log(const run_t *r, uint64_t seq)
{
    if (r->resume)
        return in_set(r->log_seen, r->nseen, seq);
    if (r->resume_failed)
        return in_set(r->log_ok, r->nok, seq);
    return 0;
}

/* Starts jobs while slots are free; at the end of the inputs, tells the pool no more come. */
static void fill(run_t *r)
{
    const char **args = calloc(r->in.nsrc + 1, sizeof *args);
    while (!r->stopping && r->outstanding < r->window && r->next_k < r->in.total) {
        uint64_t k = r->next_k++;
        if (skipped_by_log(r, k + 1))
            continue;
        job_t *j = make_job(r, k, args);
        uvproc_pool_job_options_t jo = {.data = j};
        int err;
        if (r->no_shell) {
            char **v;
            pr_job_args_t a = {.args = args, .nargs = r->n0 ? 0 : r->in.nsrc, .seq = j->seq,
                               .slot = j->slot};
            v = pr_expand_argv(&r->cmd, &a);
            err = v[0] != NULL ? uvproc_pool_submit(r->pool, v[0], (const char *const *)v + 1,
                                                     &jo, NULL)
                               : UV_EINVAL;
            for (size_t i = 0; v[i] != NULL; i++)
                free(v[i]);
            free(v);
        } else {
            err = uvproc_pool_submit_shell(r->pool, j->cmd, &jo, NULL);
        }
        if (err != 0) {
            fprintf(stderr, "%s: job %llu: %s\n", prog, (unsigned long long)j->seq,
                    uvproc_strerror(err));
            job_free(j);
            r->interrupted = 1;
            break;
        }
        if (j->slot != 0)
            r->slot_busy[j->slot - 1] = 1;
        r->outstanding++;
        r->started++;
        if (r->keep_order) {
            if (r->tail != NULL)
                r->tail->next = j;
            else
                r->head = j;
            r->tail = j;
        }
    }
    free(args);
    if (r->next_k >= r->in.total || r->interrupted)
        stop_starting(r, 0);
}

/* parallel's should_we_halt(), for one finished job. */
static void check_halt(run_t *r, const job_t *j, int job_failed, long long exitval, int sig)
{
    static const char *const said[] = {"failed", "succeeded", "finished"};
    uint64_t limit;
    if (r->halt_when == HALT_NEVER || r->halted)
        return;
    if (r->halt_why == WHY_FAIL && job_failed)
        limit = r->failed;
    else if (r->halt_why == WHY_SUCCESS && !job_failed)
        limit = r->completed - r->failed;
    else if (r->halt_why == WHY_DONE)
        limit = r->completed;
    else
        return;
    fprintf(stderr, "%s: This job %s:\n%s\n", prog, said[r->halt_why], j->cmd);
    double need = r->halt_pct > 0 ? (double)r->in.total * r->halt_pct : (double)r->halt_count;
    if ((double)limit < need)
        return;
    r->halted = 1;
    if (r->halt_why == WHY_SUCCESS)
        r->halt_status = 0;
    else if (r->halt_pct > 0)
        r->halt_status = (int)ceil((double)r->failed / (double)r->in.total * 100);
    else if (r->halt_count == 1)
        r->halt_status = exitval != 0 ? (int)(exitval & 0xff) : (sig != 0 ? sig + 128 : 0);
    else
        r->halt_status = r->failed > 101 ? 101 : (int)r->failed;
    if (r->halt_when == HALT_NOW) {
        stop_now(r);
    } else {
        if (r->outstanding > 1)
            fprintf(stderr, "%s: Starting no more jobs. Waiting for %llu jobs to finish.\n",
                    prog, (unsigned long long)(r->outstanding - 1));
        stop_starting(r, 1);
    }
}

static void on_done(uvproc_pool_t *pool, const uvproc_pool_result_t *res)
{
    run_t *r = uvproc_pool_data(pool);
    job_t *j = res->data;
    long long exitval = res->exit_code;
    int job_failed = res->error != 0;

    r->outstanding--;
    if (j->slot != 0)
        r->slot_busy[j->slot - 1] = 0;
    /* A job a --halt now or a signal cut short: parallel neither prints nor logs it. */
    if (res->error == UV_ECANCELED && r->stopping) {
        j->finished = j->silent = 1;
        if (!r->keep_order)
            job_free(j);
        flush_ordered(r);
        return;
    }

    if (res->error == UV_ETIMEDOUT) {
        exitval = -1;
        fprintf(stderr, "%s: Warning: This job was killed because it timed out:\n"
                        "%s: Warning: %s\n", prog, prog, j->cmd);
    } else if (res->pid == 0 || (res->error != 0 && res->error != UVPROC_EEXITCODE &&
                                 res->error != UVPROC_ESIGNALED)) {
        /* never started (--no-shell): name the program, as a shell would, with its codes */
        exitval = res->error == UV_ENOENT ? 127 : 126;
        fprintf(stderr, "%s: %s: %s\n", prog, j->prog != NULL ? j->prog : j->cmd,
                res->error == UV_ENOENT ? "command not found" : uvproc_strerror(res->error));
    } else if (res->term_signal != 0) {
        exitval = 0;
    }
    r->completed++;
    if (job_failed)
        r->failed++;
    r->run_s += res->run_ms / 1000.0;
    joblog_write(r, j, res, exitval);

    if (r->json) {
        json_job(j, res, exitval);
        j->silent = 1;
    }
    if (r->keep_order) {
        j->finished = 1;
        if (!j->silent) {
            j->out = malloc(res->out_len + 1);
            j->err = malloc(res->err_len + 1);
            if (j->out != NULL && j->err != NULL) {
                memcpy(j->out, res->out, res->out_len);
                memcpy(j->err, res->err, res->err_len);
                j->out_len = res->out_len;
                j->err_len = res->err_len;
            }
        }
        flush_ordered(r);
    } else {
        if (!j->silent)
            print_job(r, j, res->out, res->out_len, res->err, res->err_len);
    }
    check_halt(r, j, job_failed, exitval, res->term_signal);
    if (!r->keep_order)
        job_free(j);
    if (r->bar || r->eta || r->progress)
        live_line(r, 0);
    fill(r);
}

static void on_close(uvproc_pool_t *pool)
{
    run_t *r = uvproc_pool_data(pool);
    flush_ordered(r);
    r->pool = NULL;
    for (int i = 0; i < 3; i++)
        uv_close((uv_handle_t *)&r->sig[i], NULL);
    if (r->bar || r->eta || r->progress) {
        uv_close((uv_handle_t *)&r->tick, NULL);
        live_line(r, 1);
    }
}

/* SIGINT: stop the running jobs now (parallel's Ctrl-C). SIGTERM / SIGHUP: start no more jobs
 * and let the running ones finish; a second SIGTERM (or a SIGINT) stops them now. */
static void on_signal(uv_signal_t *h, int signum)
{
    run_t *r = h->data;
    r->interrupted = 1;
    r->sigint |= signum == SIGINT;
    if (signum == SIGINT || r->nterm++ > 0) {
        stop_now(r);
        return;
    }
    if (r->outstanding > 0)
        fprintf(stderr,
                "%s: %s received. No new jobs will be started; waiting for %llu jobs to finish. "
                "Send SIGTERM again to stop them now.\n",
                prog, signum == SIGHUP ? "SIGHUP" : "SIGTERM",
                (unsigned long long)r->outstanding);
    stop_starting(r, 1);
}

static int dry_run(run_t *r)
{
    const char **args = calloc(r->in.nsrc + 1, sizeof *args);
    for (uint64_t k = 0; k < r->in.total; k++) {
        if (skipped_by_log(r, k + 1))
            continue;
        job_t *j = make_job(r, k, args);
        if (j->tag != NULL)
            printf("%s\t", j->tag);
        printf("%s\n", j->cmd);
        job_free(j);
    }
    free(args);
    fflush(stdout);
    return 0;
}

/* Everything main allocated: a return from main (not exit) must leave nothing behind. */
static int run_free(run_t *r, pr_buf_t *spec, int status)
{
    pr_inputs_free(&r->in);
    pr_template_free(&r->cmd);
    pr_template_free(&r->tagt);
    free(r->slot_busy);
    free(spec->p);
    free(r->log_seen);
    free(r->log_ok);
    if (r->joblog != NULL && r->joblog != stdout)
        fclose(r->joblog);
    return status;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"jobs", required_argument, NULL, 'j'},
        {"max-procs", required_argument, NULL, 'P'},
        {"keep-order", no_argument, NULL, 'k'},
        {"quote", no_argument, NULL, 'q'},
        {"arg-file", required_argument, NULL, 'a'},
        {"null", no_argument, NULL, '0'},
        {"max-replace-args", required_argument, NULL, 'N'},
        {"delimiter", required_argument, NULL, 'd'},
        {"sshlogin", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"no-shell", no_argument, NULL, 1000},
        {"link", no_argument, NULL, 1001},
        {"xapply", no_argument, NULL, 1001},
        {"joblog", required_argument, NULL, 1002},
        {"resume", no_argument, NULL, 1003},
        {"resume-failed", no_argument, NULL, 1004},
        {"retries", required_argument, NULL, 1005},
        {"timeout", required_argument, NULL, 1006},
        {"halt", required_argument, NULL, 1007},
        {"halt-on-error", required_argument, NULL, 1007},
        {"tag", no_argument, NULL, 1008},
        {"tagstring", required_argument, NULL, 1009},
        {"sshloginfile", required_argument, NULL, 1010},
        {"slf", required_argument, NULL, 1010},
        {"dry-run", no_argument, NULL, 1011},
        {"bar", no_argument, NULL, 1012},
        {"eta", no_argument, NULL, 1013},
        {"progress", no_argument, NULL, 1014},
        {"json", no_argument, NULL, 1015},
        {"will-cite", no_argument, NULL, 1016},
        {"no-notice", no_argument, NULL, 1016},
        {NULL, 0, NULL, 0},
    };
    run_t r = {.halt_when = HALT_NEVER};
    uvproc_pool_options_t o = {.kind = UVPROC_POOL_COMMANDS};
    uvproc_pool_hosts_t hosts = {0};
    pr_buf_t spec = {0};
    const char *jobs_arg = NULL, *argfiles[64];
    const char *sshlogins[64], *sshloginfiles[16];
    size_t nargfiles = 0, nsshlogins = 0, nsshloginfiles = 0;
    long retries = 0;
    double timeout_s = 0;
    int c, remote = 0;

    prog = cli_prog(argv[0]);
    r.in.delim = '\n';
    opterr = 0;
    /* "+": parallel's options end at the command; the command's own options are its. */
    while ((c = getopt_long(argc, argv, "+:j:P:kqa:0d:S:N:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
        case 'P': jobs_arg = optarg; break;
        case 'k': r.keep_order = 1; break;
        case 'q': r.quote = 1; break;
        case 'a':
            if (nargfiles == sizeof argfiles / sizeof argfiles[0])
                cli_usage_error(prog, "too many -a files");
            argfiles[nargfiles++] = optarg;
            break;
        case '0': r.in.delim = '\0'; break;
        case 'N':
            if (strcmp(optarg, "0") != 0)
                cli_usage_error(prog, "GNU parallel's option '-N %s' is not supported (only -N0)",
                                optarg);
            r.n0 = 1;
            break;
        case 'd': r.in.delim = parse_delim(optarg); break;
        case 'S':
            if (nsshlogins == sizeof sshlogins / sizeof sshlogins[0])
                cli_usage_error(prog, "too many -S options");
            sshlogins[nsshlogins++] = optarg;
            break;
        case 'h': usage(); return 0;
        case 'V': cli_print_version(prog); return 0;
        case 1000: r.no_shell = 1; break;
        case 1001: r.in.link_all = 1; break;
        case 1002: r.joblog_path = optarg; break;
        case 1003: r.resume = 1; break;
        case 1004: r.resume_failed = 1; break;
        case 1005:
            if (cli_parse_long(optarg, 0, 1000000, &retries) != 0)
                cli_usage_error(prog, "--retries wants a whole number, not '%s'", optarg);
            break;
        case 1006:
            if (optarg[0] != '\0' && optarg[strlen(optarg) - 1] == '%')
                cli_usage_error(prog, "--timeout %s: a percentage of the median run time is "
                                      "not supported", optarg);
            if (parse_duration(optarg, &timeout_s) != 0)
                cli_usage_error(prog, "--timeout wants seconds (or 2m, 1h30m, ...), not '%s'",
                                optarg);
            break;
        case 1007:
            if (parse_halt(&r, optarg) != 0)
                cli_usage_error(prog, "--halt wants never, or now|soon,fail|success|done=N[%%] "
                                      "(or 0, 1, 2, -1, -2), not '%s'", optarg);
            break;
        case 1008: r.tag = 1; break;
        case 1009: r.tagstring = optarg; break;
        case 1010:
            if (nsshloginfiles == sizeof sshloginfiles / sizeof sshloginfiles[0])
                cli_usage_error(prog, "too many --sshloginfile options");
            sshloginfiles[nsshloginfiles++] = optarg;
            break;
        case 1011: r.dry_run = 1; break;
        case 1012: r.bar = 1; break;
        case 1013: r.eta = 1; break;
        case 1014: r.progress = 1; break;
        case 1015: r.json = 1; break;
        case 1016: break;
        case ':': cli_usage_error(prog, "option '%s' needs a value", argv[optind - 1]);
        default: {
            char shortopt[3] = {'-', (char)optopt, '\0'};
            refuse(optopt != 0 ? shortopt : argv[optind - 1]);
        }
        }
    }
    if ((r.resume || r.resume_failed) && r.joblog_path == NULL)
        cli_usage_error(prog, "--resume and --resume-failed need --joblog");

    /* The command: the words up to the first source separator. */
    int cmd_first = optind, cmd_end = optind;
    while (cmd_end < argc && strcmp(argv[cmd_end], ":::") != 0 &&
           strcmp(argv[cmd_end], "::::") != 0 && strcmp(argv[cmd_end], ":::+") != 0 &&
           strcmp(argv[cmd_end], "::::+") != 0)
        cmd_end++;
    char *bad = NULL;
    if (pr_template_parse(&r.cmd, argv + cmd_first, (size_t)(cmd_end - cmd_first), &bad) != 0 ||
        (r.tagstring != NULL &&
         pr_template_parse(&r.tagt, (char **)&r.tagstring, 1, &bad) != 0))
        cli_usage_error(prog, "replacement string '%s' is not supported (Perl expression)", bad);
    if (r.no_shell && r.cmd.nw == 0)
        cli_usage_error(prog, "--no-shell needs a command");

    /* Slots per host, and the hosts. */
    long slots = (long)uv_available_parallelism();
    if (jobs_arg != NULL && parse_jobs(jobs_arg, &slots) != 0)
        cli_usage_error(prog, "-j wants N, N%%, +N, -N or 0, not '%s'", jobs_arg);

    /* The sources, in order: -a files, then what follows the command. */
    for (size_t i = 0; i < nargfiles; i++) {
        int err = pr_inputs_add_file(&r.in, argfiles[i], 0);
        if (err != 0) {
            fprintf(stderr, "%s: cannot open input file %s: %s\n", prog, argfiles[i],
                    strerror(-err));
            return run_free(&r, &spec, PR_EXIT_ERROR);
        }
    }
    for (int i = cmd_end; i < argc;) {
        const char *sep = argv[i++];
        int files = strncmp(sep, "::::", 4) == 0, linked = sep[strlen(sep) - 1] == '+';
        int first = i;
        while (i < argc && strcmp(argv[i], ":::") != 0 && strcmp(argv[i], "::::") != 0 &&
               strcmp(argv[i], ":::+") != 0 && strcmp(argv[i], "::::+") != 0)
            i++;
        if (!files) {
            if (pr_inputs_add_args(&r.in, argv + first, (size_t)(i - first), linked) != 0)
                return run_free(&r, &spec, PR_EXIT_ERROR);
            continue;
        }
        if (first == i)
            cli_usage_error(prog, "%s needs a file", sep);
        for (int f = first; f < i; f++) {
            int err = pr_inputs_add_file(&r.in, argv[f], linked);
            if (err != 0) {
                fprintf(stderr, "%s: cannot open input file %s: %s\n", prog, argv[f],
                        strerror(-err));
                return run_free(&r, &spec, PR_EXIT_ERROR);
            }
        }
    }
    if (r.in.nsrc == 0 && pr_inputs_add_file(&r.in, "-", 0) != 0) {
        fprintf(stderr, "%s: cannot read stdin: %s\n", prog, strerror(errno));
        return run_free(&r, &spec, PR_EXIT_ERROR);
    }
    pr_inputs_plan(&r.in);

    if (slots == 0) /* -j 0: as many as possible */
        slots = r.in.total > 0 ? (long)(r.in.total < 1024 ? r.in.total : 1024) : 1;
    for (size_t i = 0; i < nsshlogins; i++)
        add_hosts(&spec, sshlogins[i], (unsigned)slots);
    for (size_t i = 0; i < nsshloginfiles; i++) {
        FILE *f = fopen(sshloginfiles[i], "re");
        char *line = NULL;
        size_t cap = 0;
        if (f == NULL) {
            fprintf(stderr, "%s: cannot open %s: %s\n", prog, sshloginfiles[i], strerror(errno));
            return run_free(&r, &spec, PR_EXIT_ERROR);
        }
        while (getline(&line, &cap, f) >= 0) {
            line[strcspn(line, "\n")] = '\0';
            add_hosts(&spec, line, (unsigned)slots);
        }
        free(line);
        fclose(f);
    }
    r.slots = (unsigned)slots;
    if (spec.len > 0) {
        r.slots = spec_slots(spec.p, &remote);
        if (r.slots == 0)
            cli_usage_error(prog, "bad --sshlogin '%s'", spec.p);
    }
    r.slot_busy = calloc(r.slots, 1);
    /* The pool starts a queued job the moment one ends, with no turn of the loop in between:
     * so a few more jobs than slots are handed over, except when {%} must name the slot a job
     * gets (then a job is made only when a slot is free, and takes the lowest one). */
    r.window = r.cmd.has_slot || r.tagt.has_slot ? r.slots : r.slots * 2 + 2;

    if (r.dry_run) {
        if (r.resume || r.resume_failed)
            joblog_read(&r);
        return run_free(&r, &spec, dry_run(&r));
    }

    signal(SIGPIPE, SIG_IGN);
    guard_start();
    joblog_open(&r);
    r.run_total = r.in.total;
    if (r.resume || r.resume_failed)
        for (uint64_t k = 0; k < r.in.total; k++)
            r.run_total -= skipped_by_log(&r, k + 1) ? 1 : 0;

    r.loop = uv_default_loop();
    o.max_workers = r.slots;
    o.data = &r;
    o.on_done = on_done;
    o.on_close = on_close;
    o.exec.max_buffer = SIZE_MAX;
    /* A job pool-run stops on its own (--timeout, --halt now) must take its children with it:
     * the job gets a process group of its own for that. The library makes it with setsid,
     * and a session per job costs (the kernel's autogroup: about 2x the time of a /bin/true
     * job), so only runs that may stop a job pay it; a run stopped by a signal sweeps the
     * jobs' children by their PARALLEL_PID instead (sweep_all). */
    o.exec.kill_tree = timeout_s > 0 || r.halt_when == HALT_NOW;
    o.exec.spawn.kill_on_parent_death = 1;
    /* --no-shell jobs must not get one: the library would put a shell in front of them too. */
    const char *shell = getenv("PARALLEL_SHELL");
    o.exec.spawn.shell = !r.no_shell && shell != NULL && shell[0] != '\0' ? shell : NULL;
    o.timeout_ms = (uint64_t)(timeout_s * 1000 + 0.5);
    if (timeout_s > 0 && o.timeout_ms == 0)
        o.timeout_ms = 1;
    /* parallel's --term-seq TERM,200,TERM,100,TERM,50,KILL,25, as one grace then KILL. */
    o.stop.first.signal = SIGTERM;
    o.stop.first.grace_ms = 350;
    o.stop.second.signal = SIGKILL;
    if (retries > 1) {
        o.retries = (unsigned)retries - 1;
        o.retry_on_signal = 1;
    }
    if (remote) {
        hosts.spec = spec.p;
        o.hosts = &hosts;
    }
    int err = uvproc_pool_new(r.loop, &r.pool, &o);
    if (err != 0) {
        fprintf(stderr, "%s: %s\n", prog, uvproc_strerror(err));
        guard_stop();
        return run_free(&r, &spec, PR_EXIT_ERROR);
    }
    for (int i = 0; i < 3; i++) {
        static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
        uv_signal_init(r.loop, &r.sig[i]);
        r.sig[i].data = &r;
        uv_signal_start(&r.sig[i], on_signal, sigs[i]);
        uv_unref((uv_handle_t *)&r.sig[i]);
    }
    r.t0 = uv_hrtime();
    if (r.bar || r.eta || r.progress) {
        uv_timer_init(r.loop, &r.tick);
        r.tick.data = &r;
        uv_timer_start(&r.tick, on_tick, 250, 250);
        uv_unref((uv_handle_t *)&r.tick);
    }
    fill(&r);
    uv_run(r.loop, UV_RUN_DEFAULT);
    uv_loop_close(r.loop);
    if (r.nterm > 1 || r.sigint)
        sweep_all(); /* the running jobs were stopped: their children go too */
    guard_stop();

    if (r.json) {
        printf("{\"summary\":{\"jobs\":%llu,\"ok\":%llu,\"failed\":%llu,\"seconds\":%.3f}}\n",
               (unsigned long long)r.completed, (unsigned long long)(r.completed - r.failed),
               (unsigned long long)r.failed, (double)(uv_hrtime() - r.t0) / 1e9);
    }
    fflush(stdout);
    int status;
    if (r.halted)
        status = r.halt_status;
    else if (r.interrupted)
        status = PR_EXIT_ERROR;
    else if (r.halt_when != HALT_NEVER && r.halt_pct > 0)
        status = (int)ceil((double)r.failed / (double)(r.started > 0 ? r.started : 1) * 100);
    else
        status = r.failed > 101 ? 101 : (int)r.failed;
    return run_free(&r, &spec, status);
}
