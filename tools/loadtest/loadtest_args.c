/* loadtest_args: loadtest's command line: --help, the options and their hard caps. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loadtest.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: loadtest [-c CHILDREN] [-k CONNECTIONS] [-d SECONDS | -n REQUESTS] [--rate R]\n"
            "                [--ramp] [--timeout MS] [--json] [--live|--no-live]\n"
            "                [--hosts N/HOST,... [--launcher CMD]] [URL]\n"
            "\n"
            "Forks CHILDREN load processes, each keeping CONNECTIONS keep-alive HTTP/1.1\n"
            "connections to URL busy, merges their counts and latency histograms (reported over\n"
            "the IPC channel every 250 ms) and prints a summary. With no URL it starts the\n"
            "cluster-server demo on a free port of 127.0.0.1, loads it for 3 s and stops it.\n"
            "\n"
            "  -c N           load children (default 2, at most %d)\n"
            "  -k N           connections per child (default 25, at most %d)\n"
            "  -d SECONDS     duration (default 5, 3 for the embedded server; at most %.0f)\n"
            "  -n REQUESTS    send exactly this many requests, then stop\n"
            "  --rate R       R requests/s in all (open model): each latency counts from the\n"
            "                 request's intended send time, as wrk2, so stalls are not hidden\n"
            "  --ramp         add one child per step until the error rate or p99 crosses its\n"
            "                 threshold, a child dies, or -c children run; report the largest\n"
            "                 sustained step\n"
            "  --ramp-step S  seconds per step (default 2)\n"
            "  --ramp-errors PCT  error rate that ends the ramp (default 1)\n"
            "  --ramp-p99 MS  p99 latency that ends the ramp (default 1000)\n"
            "  --timeout MS   a request without a whole response by then fails (default 2000)\n"
            "  --json         print the result as JSON on stdout (no table)\n"
            "  --live         the live line on stderr even when it is not a terminal;\n"
            "  --no-live      never (default: only on a terminal)\n"
            "  --hosts LIST   run the children on these hosts: N/HOST,... (parallel's\n"
            "                 --sshlogin; \":\" is this machine), dealt out by their N; -c\n"
            "                 defaults to the sum of the N. Each remote child is this program\n"
            "                 at the same path, started as LAUNCHER HOST, its IPC channel over\n"
            "                 the launcher's stdio (docs/scale-out.md)\n"
            "  --launcher CMD what reaches a host (default \"ssh\"; e.g. \"ssh -F cfg\",\n"
            "                 \"srun -N1 -n1 --quiet -u -w\")\n"
            "\n"
            "Ctrl-C stops the children and still prints the summary (exit code 130).\n"
            "Exit codes: 0 done, 1 the target or the children could not be set up, 2 usage.\n",
            LT_MAX_CHILDREN, LT_MAX_CONNECTIONS, LT_MAX_SECONDS);
}

/* Numeric options, with their hard caps. */
typedef struct {
    const char *name;
    double min, max, value;
} num_opt_t;

enum { OPT_C, OPT_K, OPT_D, OPT_N, OPT_RATE, OPT_STEP, OPT_ERRS, OPT_P99, OPT_TIMEOUT, OPT_COUNT };

int lt_parse_args(int argc, char **argv, lt_options_t *opt)
{
    num_opt_t num[OPT_COUNT] = {
        [OPT_C] = {"-c", 1, LT_MAX_CHILDREN, 2},       [OPT_K] = {"-k", 1, LT_MAX_CONNECTIONS, 25},
        [OPT_D] = {"-d", 0.1, LT_MAX_SECONDS, 0},      [OPT_N] = {"-n", 1, 1e12, 0},
        [OPT_RATE] = {"--rate", 0.1, 1e8, 0},          [OPT_STEP] = {"--ramp-step", 0.25, 600, 2},
        [OPT_ERRS] = {"--ramp-errors", 0, 100, 1},     [OPT_P99] = {"--ramp-p99", 0.001, 1e7, 1000},
        [OPT_TIMEOUT] = {"--timeout", 1, 3.6e6, 2000},
    };
    opt->live = isatty(STDERR_FILENO);
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        int k = 0;
        while (k < OPT_COUNT && strcmp(o, num[k].name) != 0)
            k++;
        if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(o, "--json") == 0) {
            opt->json = 1;
        } else if (strcmp(o, "--ramp") == 0) {
            opt->ramp = 1;
        } else if (strcmp(o, "--live") == 0) {
            opt->live = 1;
        } else if (strcmp(o, "--no-live") == 0) {
            opt->live = 0;
        } else if ((strcmp(o, "--hosts") == 0 || strcmp(o, "--launcher") == 0) && i + 1 < argc) {
            *(o[2] == 'h' ? &opt->hosts_spec : &opt->launcher) = argv[++i];
        } else if (k < OPT_COUNT) {
            const char *v = i + 1 < argc ? argv[++i] : NULL;
            char *end = NULL;
            double x = v != NULL ? strtod(v, &end) : 0;
            if (v == NULL || end == v || *end != '\0' || !(x >= num[k].min && x <= num[k].max)) {
                fprintf(stderr, "loadtest: %s needs a number from %g to %g%s%s\n", o, num[k].min,
                        num[k].max, v != NULL ? ", not " : "", v != NULL ? v : "");
                return -1;
            }
            num[k].value = x;
            if (k == OPT_D)
                opt->seconds_given = 1;
            if (k == OPT_C)
                opt->children_given = 1;
        } else if (o[0] == '-' && o[1] != '\0') {
            fprintf(stderr, "loadtest: unknown option %s (try --help)\n", o);
            return -1;
        } else if (opt->url == NULL) {
            opt->url = o;
        } else {
            fprintf(stderr, "loadtest: one URL only (try --help)\n");
            return -1;
        }
    }
    opt->children = (int)num[OPT_C].value;
    if (opt->hosts_spec != NULL) {
        if (lt_hosts_parse(opt->hosts_spec, &opt->hosts) != 0) {
            fprintf(stderr, "loadtest: --hosts wants N/HOST,... (try --help)\n");
            return -1;
        }
        if (!opt->children_given) /* one child per slot, as parallel runs N jobs per host */
            opt->children = opt->hosts.total < LT_MAX_CHILDREN ? opt->hosts.total : LT_MAX_CHILDREN;
    }
    if (opt->launcher == NULL)
        opt->launcher = "ssh";
    opt->connections = (int)num[OPT_K].value;
    opt->requests = (uint64_t)num[OPT_N].value;
    opt->rate = num[OPT_RATE].value;
    opt->ramp_step_s = num[OPT_STEP].value;
    opt->ramp_errors_pct = num[OPT_ERRS].value;
    opt->ramp_p99_ms = num[OPT_P99].value;
    opt->timeout_ms = (uint64_t)num[OPT_TIMEOUT].value;
    if (opt->ramp && (opt->rate > 0 || opt->requests != 0)) {
        fprintf(stderr, "loadtest: --ramp adds children by time: no --rate or -n with it\n");
        return -1;
    }
    /* Without -d: 5 s, 3 s for the embedded server, the hard cap when -n counts requests. */
    opt->seconds = opt->seconds_given   ? num[OPT_D].value
                   : opt->requests != 0 ? LT_MAX_SECONDS
                   : opt->url == NULL   ? 3
                                        : 5;
    if (opt->requests != 0 && opt->requests < (uint64_t)opt->children)
        opt->children = (int)opt->requests;
    return 0;
}
