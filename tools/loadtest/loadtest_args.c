/* loadtest_args: uvproc-loadtest's command line, spelled as wrk's, hey's and autocannon's
 * (-c connections in all, -d 2s, -H, -m, -b, -R, --timeout 2s, --latency), parsed with
 * getopt_long under tools/common/cli.h; the URL; the request built from them. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "loadtest.h"

static void usage(const char *prog)
{
    printf("usage: %s [options] [URL]\n"
           "\n"
           "Loads URL (http:// or https://) with keep-alive HTTP/1.1 connections spread over\n"
           "load processes, merges their counts and latency histograms and prints a summary.\n"
           "With no URL it starts cluster-server (found next to it) on a free port of\n"
           "127.0.0.1, loads it for 3 s and stops it.\n"
           "\n"
           "  -c, --connections N  connections in all, split over the processes (default 50)\n"
           "  -p, --processes N    load processes (default: the CPU count, at most -c; at\n"
           "                       most %d)\n"
           "  -d, --duration T     how long: 2s, 500ms, 1m; a bare number is seconds\n"
           "                       (default 10s, 3s for the embedded server)\n"
           "  -n, --requests N     send exactly N requests, then stop\n"
           "  -R, --rate R         R requests/s in all, open model: each latency counts from\n"
           "                       the request's intended send time, as wrk2's\n"
           "  -m, --method M       request method (default GET)\n"
           "  -H, --header 'K: V'  add a header (repeatable; replaces Host or User-Agent)\n"
           "  -b, --body STRING    request body (Content-Length is set)\n"
           "      --body-file F    request body from a file\n"
           "      --timeout T      a request without a whole response by then fails\n"
           "                       (default 2s)\n"
           "  -k, --insecure       https: accept any certificate (self-signed, wrong name)\n"
           "      --latency        print the whole latency distribution\n"
           "      --json           print the result as JSON on stdout (no table)\n"
           "      --hgrm FILE      write the latency distribution in HdrHistogram's\n"
           "                       percentile-distribution format (.hgrm)\n"
           "      --report FILE    write a self-contained HTML report with charts\n"
           "      --max-errors N   exit 3 when errors exceed N (a count, or N%% of outcomes)\n"
           "      --ramp           add one process per step until the error rate or p99 crosses\n"
           "                       its threshold, a process dies, or -p run; each process has\n"
           "                       -c/-p connections. Report the largest sustained step\n"
           "      --ramp-step T    step length (default 2s)\n"
           "      --ramp-errors P  error rate in percent that ends the ramp (default 1)\n"
           "      --ramp-p99 T     p99 that ends the ramp (default 1s)\n"
           "      --hosts LIST     run the processes on these hosts: N/HOST,... (parallel's\n"
           "                       --sshlogin; \":\" is this machine); -p defaults to the sum\n"
           "                       of the N (docs/scale-out.md)\n"
           "      --launcher CMD   what reaches a host (default \"ssh\")\n"
           "      --live, --no-live  the live line on stderr always / never (default: on a\n"
           "                       terminal)\n"
           "  -h, --help           this help;  -v, --version  the version\n"
           "\n"
           "Ctrl-C stops the processes and still prints the summary.\n"
           "Exit status: 0 the run ended; 1 nothing answered (unable to connect) or the\n"
           "target could not be set up; 2 usage; 3 errors exceeded --max-errors; 130 Ctrl-C.\n",
           prog, LT_MAX_CHILDREN);
}

int lt_parse_duration(const char *s, double *seconds)
{
    static const struct {
        const char *unit;
        double scale;
    } units[] = {{"", 1}, {"s", 1}, {"ms", 1e-3}, {"us", 1e-6}, {"m", 60}, {"h", 3600}};
    char *end;
    if (s == NULL || *s == '\0' || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    double v = strtod(s, &end);
    if (end == s || !isfinite(v) || v < 0)
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].unit) == 0) {
            *seconds = v * units[i].scale;
            return 0;
        }
    }
    return -1;
}

int lt_url_parse(const char *url, lt_url_t *u)
{
    struct http_parser_url p;
    size_t slen;
    memset(u, 0, sizeof *u);
    http_parser_url_init(&p);
    if (http_parser_parse_url(url, strlen(url), 0, &p) != 0 || !(p.field_set & (1 << UF_HOST)) ||
        !(p.field_set & (1 << UF_SCHEMA)))
        return -1;
    slen = p.field_data[UF_SCHEMA].len;
    if (slen == 4 && strncasecmp(url + p.field_data[UF_SCHEMA].off, "http", 4) == 0)
        u->tls = 0;
    else if (slen == 5 && strncasecmp(url + p.field_data[UF_SCHEMA].off, "https", 5) == 0)
        u->tls = 1;
    else
        return -1;
    if (p.field_data[UF_HOST].len == 0 || p.field_data[UF_HOST].len >= sizeof u->host ||
        (p.field_set & (1 << UF_USERINFO)))
        return -1;
    memcpy(u->host, url + p.field_data[UF_HOST].off, p.field_data[UF_HOST].len);
    u->port = u->tls ? 443 : 80;
    if (p.field_set & (1 << UF_PORT)) {
        if (p.port == 0)
            return -1;
        u->port = p.port;
    }
    int v6 = strchr(u->host, ':') != NULL; /* an IPv6 literal goes back in its brackets */
    int n = snprintf(u->authority, sizeof u->authority, "%s%s%s%s%.*s", v6 ? "[" : "", u->host,
                     v6 ? "]" : "", p.field_set & (1 << UF_PORT) ? ":" : "",
                     p.field_set & (1 << UF_PORT) ? (int)p.field_data[UF_PORT].len : 0,
                     p.field_set & (1 << UF_PORT) ? url + p.field_data[UF_PORT].off : "");
    if (n < 0 || (size_t)n >= sizeof u->authority)
        return -1;
    /* The request target: the path and query as written, without the fragment. */
    if (p.field_set & (1 << UF_PATH))
        n = snprintf(u->target, sizeof u->target, "%s", url + p.field_data[UF_PATH].off);
    else if (p.field_set & (1 << UF_QUERY))
        n = snprintf(u->target, sizeof u->target, "/?%s", url + p.field_data[UF_QUERY].off);
    else
        n = snprintf(u->target, sizeof u->target, "/");
    if (n < 0 || (size_t)n >= sizeof u->target)
        return -1;
    if (strchr(u->target, '#') != NULL)
        *strchr(u->target, '#') = '\0';
    for (const char *c = u->target; *c != '\0'; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return -1; /* would break the request line */
    return 0;
}

/* A header as the user gave it: "Name: value", a token before the colon, no line breaks. */
static int header_ok(const char *h)
{
    const char *colon = strchr(h, ':');
    if (colon == NULL || colon == h)
        return 0;
    for (const char *c = h; c < colon; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f || strchr("\"(),/:;<=>?@[\\]{}", *c) != NULL)
            return 0;
    return strpbrk(h, "\r\n") == NULL;
}

static int has_header(const lt_options_t *o, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < o->header_count; i++)
        if (strncasecmp(o->headers[i], name, n) == 0 && o->headers[i][n] == ':')
            return 1;
    return 0;
}

char *lt_build_request(const lt_options_t *o, const lt_url_t *u, size_t *len)
{
    size_t size = 4096 + strlen(u->target) + o->body_len;
    for (int i = 0; i < o->header_count; i++)
        size += strlen(o->headers[i]) + 2;
    if (size > LT_MAX_REQUEST + 4096)
        return NULL;
    char *r = malloc(size), *p = r;
    if (r == NULL)
        return NULL;
    p += sprintf(p, "%s %s HTTP/1.1\r\n", o->method, u->target);
    if (!has_header(o, "Host"))
        p += sprintf(p, "Host: %s\r\n", u->authority);
    if (!has_header(o, "User-Agent"))
        p += sprintf(p, "User-Agent: uvproc-loadtest/%s\r\n", UVPROC_TOOL_VERSION);
    for (int i = 0; i < o->header_count; i++)
        p += sprintf(p, "%s\r\n", o->headers[i]);
    if (o->body != NULL && !has_header(o, "Content-Length"))
        p += sprintf(p, "Content-Length: %zu\r\n", o->body_len);
    p += sprintf(p, "\r\n");
    if (o->body != NULL) {
        memcpy(p, o->body, o->body_len);
        p += o->body_len;
    }
    *len = (size_t)(p - r);
    if (*len > LT_MAX_REQUEST) {
        free(r);
        return NULL;
    }
    return r;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;
    if (f == NULL)
        return NULL;
    buf = malloc(LT_MAX_REQUEST + 1);
    if (buf != NULL)
        n = fread(buf, 1, LT_MAX_REQUEST + 1, f);
    if (buf == NULL || ferror(f) || n > LT_MAX_REQUEST) {
        free(buf);
        buf = NULL;
        errno = n > LT_MAX_REQUEST ? EFBIG : errno;
    }
    fclose(f);
    *len = n;
    return buf;
}

enum {
    OPT_BODY_FILE = 256,
    OPT_TIMEOUT,
    OPT_LATENCY,
    OPT_JSON,
    OPT_HGRM,
    OPT_REPORT,
    OPT_MAX_ERRORS,
    OPT_RAMP,
    OPT_RAMP_STEP,
    OPT_RAMP_ERRORS,
    OPT_RAMP_P99,
    OPT_HOSTS,
    OPT_LAUNCHER,
    OPT_LIVE,
    OPT_NO_LIVE,
};

static const struct option longopts[] = {
    {"connections", required_argument, NULL, 'c'},
    {"processes", required_argument, NULL, 'p'},
    {"duration", required_argument, NULL, 'd'},
    {"requests", required_argument, NULL, 'n'},
    {"rate", required_argument, NULL, 'R'},
    {"method", required_argument, NULL, 'm'},
    {"header", required_argument, NULL, 'H'},
    {"body", required_argument, NULL, 'b'},
    {"body-file", required_argument, NULL, OPT_BODY_FILE},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"insecure", no_argument, NULL, 'k'},
    {"latency", no_argument, NULL, OPT_LATENCY},
    {"json", no_argument, NULL, OPT_JSON},
    {"hgrm", required_argument, NULL, OPT_HGRM},
    {"report", required_argument, NULL, OPT_REPORT},
    {"max-errors", required_argument, NULL, OPT_MAX_ERRORS},
    {"ramp", no_argument, NULL, OPT_RAMP},
    {"ramp-step", required_argument, NULL, OPT_RAMP_STEP},
    {"ramp-errors", required_argument, NULL, OPT_RAMP_ERRORS},
    {"ramp-p99", required_argument, NULL, OPT_RAMP_P99},
    {"hosts", required_argument, NULL, OPT_HOSTS},
    {"launcher", required_argument, NULL, OPT_LAUNCHER},
    {"live", no_argument, NULL, OPT_LIVE},
    {"no-live", no_argument, NULL, OPT_NO_LIVE},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'v'},
    {NULL, 0, NULL, 0},
};

static double number(const char *prog, const char *opt, const char *v, double min, double max)
{
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end != '\0' || !(x >= min && x <= max))
        cli_usage_error(prog, "%s needs a number from %g to %g, not '%s'", opt, min, max, v);
    return x;
}

static double duration(const char *prog, const char *opt, const char *v, double min, double max)
{
    double x;
    if (lt_parse_duration(v, &x) != 0)
        cli_usage_error(prog,
                        "%s needs a duration such as 2s, 500ms, 1m (a bare number is "
                        "seconds), not '%s'",
                        opt, v);
    if (!(x >= min && x <= max))
        cli_usage_error(prog, "%s must be from %gs to %gs, not '%s'", opt, min, max, v);
    return x;
}

static int cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > LT_MAX_CHILDREN ? LT_MAX_CHILDREN : (int)n;
}

int lt_parse_args(int argc, char **argv, lt_options_t *o)
{
    const char *prog = cli_prog(argv[0]);
    const char *body_file = NULL, *body = NULL;
    int c;
    o->live = isatty(STDERR_FILENO);
    o->method = "GET";
    o->timeout_ms = 2000;
    o->ramp_step_s = 2;
    o->ramp_errors_pct = 1;
    o->ramp_p99_ms = 1000;
    o->max_errors = -1;
    o->launcher = "ssh";
    o->connections = 50;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:p:d:n:R:m:H:b:khv", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->connections = (int)number(prog, "-c/--connections", optarg, 1,
                                         (double)LT_MAX_CHILDREN * LT_MAX_CONNECTIONS);
            o->connections_given = 1;
            break;
        case 'p':
            o->processes = (int)number(prog, "-p/--processes", optarg, 1, LT_MAX_CHILDREN);
            o->processes_given = 1;
            break;
        case 'd':
            o->seconds = duration(prog, "-d/--duration", optarg, 0.001, LT_MAX_SECONDS);
            o->seconds_given = 1;
            break;
        case 'n':
            o->requests = (uint64_t)number(prog, "-n/--requests", optarg, 1, 1e12);
            break;
        case 'R':
            o->rate = number(prog, "-R/--rate", optarg, 0.1, 1e8);
            break;
        case 'm':
            for (const char *m = optarg; *m != '\0'; m++)
                if ((unsigned char)*m <= ' ' || *m == 0x7f || strchr("\"(),/:;<=>?@[\\]{}", *m))
                    cli_usage_error(prog, "-m/--method: '%s' is not a method token", optarg);
            if (*optarg == '\0')
                cli_usage_error(prog, "-m/--method needs a method");
            o->method = optarg;
            break;
        case 'H':
            if (!header_ok(optarg))
                cli_usage_error(prog, "-H/--header wants 'Name: value', not '%s'", optarg);
            if (o->header_count == LT_MAX_HEADERS)
                cli_usage_error(prog, "at most %d headers", LT_MAX_HEADERS);
            o->headers[o->header_count++] = optarg;
            break;
        case 'b':
            body = optarg;
            break;
        case OPT_BODY_FILE:
            body_file = optarg;
            break;
        case OPT_TIMEOUT:
            o->timeout_ms = (uint64_t)llround(
                duration(prog, "--timeout", optarg, 0.001, LT_MAX_SECONDS) * 1000);
            break;
        case 'k':
            o->insecure = 1;
            break;
        case OPT_LATENCY:
            o->latency = 1;
            break;
        case OPT_JSON:
            o->json = 1;
            break;
        case OPT_HGRM:
            o->hgrm = optarg;
            break;
        case OPT_REPORT:
            o->report = optarg;
            break;
        case OPT_MAX_ERRORS: {
            size_t n = strlen(optarg);
            char num[64];
            o->max_errors_pct = n > 0 && optarg[n - 1] == '%';
            snprintf(num, sizeof num, "%.*s", (int)(n - (size_t)o->max_errors_pct), optarg);
            o->max_errors = number(prog, "--max-errors", num, 0, o->max_errors_pct ? 100 : 1e15);
            break;
        }
        case OPT_RAMP:
            o->ramp = 1;
            break;
        case OPT_RAMP_STEP:
            o->ramp_step_s = duration(prog, "--ramp-step", optarg, 0.25, 600);
            break;
        case OPT_RAMP_ERRORS:
            o->ramp_errors_pct = number(prog, "--ramp-errors", optarg, 0, 100);
            break;
        case OPT_RAMP_P99:
            o->ramp_p99_ms = duration(prog, "--ramp-p99", optarg, 1e-6, 1e4) * 1000;
            break;
        case OPT_HOSTS:
            o->hosts_spec = optarg;
            break;
        case OPT_LAUNCHER:
            o->launcher = optarg;
            break;
        case OPT_LIVE:
            o->live = 1;
            break;
        case OPT_NO_LIVE:
            o->live = 0;
            break;
        case 'h':
            usage(prog);
            return 1;
        case 'v':
            cli_print_version(prog);
            return 1;
        case ':':
            cli_usage_error(prog, "%s needs a value", argv[optind - 1]);
        default:
            if (optopt != 0)
                cli_usage_error(prog, "unknown option -%c", optopt);
            cli_usage_error(prog, "unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        o->url = argv[optind++];
    if (optind < argc)
        cli_usage_error(prog, "one URL only, not also '%s'", argv[optind]);
    if (o->url != NULL && lt_url_parse(o->url, &o->target) != 0)
        cli_usage_error(prog, "not an http:// or https:// URL: %s", o->url);
#ifndef LT_HAVE_TLS
    if (o->url != NULL && o->target.tls)
        cli_usage_error(prog, "https:// needs OpenSSL, and this build has none");
#endif
    if (body != NULL && body_file != NULL)
        cli_usage_error(prog, "-b/--body or --body-file, not both");
    if (body != NULL) {
        o->body_len = strlen(body);
        if (o->body_len > LT_MAX_REQUEST - 4096)
            cli_usage_error(prog, "-b/--body is too long (at most %d bytes)",
                            LT_MAX_REQUEST - 4096);
        o->body = malloc(o->body_len + 1);
        if (o->body == NULL)
            cli_usage_error(prog, "out of memory");
        memcpy(o->body, body, o->body_len + 1);
    } else if (body_file != NULL) {
        o->body = read_file(body_file, &o->body_len);
        if (o->body == NULL || o->body_len > LT_MAX_REQUEST - 4096)
            cli_usage_error(prog, "--body-file %s: %s", body_file,
                            o->body == NULL ? strerror(errno) : "too big");
    }
    if (o->hosts_spec != NULL) {
        if (lt_hosts_parse(o->hosts_spec, &o->hosts) != 0)
            cli_usage_error(prog, "--hosts wants N/HOST,..., not '%s'", o->hosts_spec);
        if (!o->processes_given) /* one process per slot, as parallel runs N jobs per host */
            o->processes = o->hosts.total < LT_MAX_CHILDREN ? o->hosts.total : LT_MAX_CHILDREN;
    }
    if (o->ramp && (o->rate > 0 || o->requests != 0))
        cli_usage_error(prog, "--ramp adds processes by time: no -R or -n with it");
    if (o->processes == 0) /* one per CPU, but not more than connections; a ramp climbs to 16 */
        o->processes = o->ramp ? 16 : cpu_count();
    if (o->processes > o->connections) {
        if (o->processes_given && o->connections_given)
            cli_usage_error(prog, "%d processes need at least as many connections (-c %d)",
                            o->processes, o->connections);
        o->processes = o->connections;
    }
    if ((o->connections + o->processes - 1) / o->processes > LT_MAX_CONNECTIONS)
        cli_usage_error(prog, "at most %d connections per process: add processes (-p)",
                        LT_MAX_CONNECTIONS);
    /* Without -d: 10 s as wrk, 3 s for the embedded server, the hard cap when -n counts. */
    if (!o->seconds_given)
        o->seconds = o->requests != 0 ? LT_MAX_SECONDS : o->url == NULL ? 3 : 10;
    if (o->requests != 0 && o->requests < (uint64_t)o->processes)
        o->processes = (int)o->requests;
    return 0;
}
