/* loadtest: what the parent (loadtest.c), the load children (loadtest_child.c), the stats
 * that travel between them (loadtest_stats.c), the output (loadtest_report.c) and the
 * embedded target server (loadtest_target.c) share. Internal to the demo. */
#ifndef LOADTEST_H
#define LOADTEST_H

#include <stdint.h>
#include <stdio.h>

#include <uvproc.h>

#include <http_parser.h>

#include "hdr_histogram.h"

/* Hard caps: a typo must not fork a thousand children or run for a day. */
#define LT_MAX_CHILDREN 64
#define LT_MAX_CONNECTIONS 10000 /* per child */
#define LT_MAX_SECONDS 3600.0
#define LT_REPORT_MS 250 /* children report this often; the live line refreshes as often */

/* Why a request or a connection failed; non-2xx answers are responses, counted by status.
 * The first three and the last fail a connection with no request out, the others a request:
 * with -n N, requests + reset + closed + timeout + parse + upgrade + other == N. */
typedef enum {
    LT_ERR_REFUSED, /* connect: ECONNREFUSED (nothing listening, or a full backlog) */
    LT_ERR_CONNECT, /* connect: any other error, or no connect within --timeout */
    LT_ERR_TLS,     /* the TLS handshake failed (certificate rejected, no common cipher...) */
    LT_ERR_RESET,   /* the server reset the connection (ECONNRESET, EPIPE) */
    LT_ERR_CLOSED,  /* the server closed the connection before a whole response */
    LT_ERR_TIMEOUT, /* no whole response within --timeout */
    LT_ERR_PARSE,   /* the response is not HTTP/1.x (http_parser said so) */
    LT_ERR_UPGRADE, /* 101 Switching Protocols: the connection is no longer HTTP; not reused */
    LT_ERR_OTHER,   /* any other read or write error (a TLS record error after the handshake) */
    LT_ERR_UNASKED, /* bytes after a whole response, or with no request out */
    LT_ERR_COUNT
} lt_err_t;

/* Connection-level kinds: no request was lost with them. */
#define LT_ERR_IS_CONNECTION(k)                                                                    \
    ((k) == LT_ERR_REFUSED || (k) == LT_ERR_CONNECT || (k) == LT_ERR_TLS || (k) == LT_ERR_UNASKED)

extern const char *const lt_err_names[LT_ERR_COUNT];

#define LT_STATUS_MAX 600

/* Counts of one child, or merged. Latencies in microseconds. */
typedef struct {
    uint64_t requests; /* whole responses, any status */
    uint64_t bytes;    /* response bytes read */
    uint64_t errors[LT_ERR_COUNT];
    uint64_t status[LT_STATUS_MAX]; /* by status code; 0 holds codes out of 100..599 */
    uint64_t unfinished;            /* requests still in flight when the run stopped */
    uint64_t handshakes, resumed;   /* TLS: handshakes done, of which abbreviated (resumed) */
    char note[160]; /* the first error's own words ("certificate verify failed: ..."), or "" */
    hdr_histogram_t latency;
} lt_stats_t;

void lt_stats_init(lt_stats_t *s);
void lt_stats_reset(lt_stats_t *s);
void lt_stats_merge(lt_stats_t *dst, const lt_stats_t *src);
uint64_t lt_stats_errors(const lt_stats_t *s);
uint64_t lt_stats_non2xx(const lt_stats_t *s);
/* A child's report over the IPC channel: {"t":"stats","final":b,"open":n,"req":n,"bytes":n,
 * "err":[n,...],"st":{"200":n,...},"h":[index,count,...],"min":us,"max":us,"sum":us,
 * "unf":n, "tls":[handshakes,resumed], "note":"..."}; the last two only when non-empty.
 * Counts are deltas since the previous report. */
json_t *lt_stats_encode(const lt_stats_t *s, int final, int open_conns);
/* Adds a report to *dst. Returns 0, or -1 for a message that is not a valid report (nothing
 * is added then). */
int lt_stats_decode_add(lt_stats_t *dst, const json_t *msg);

#define LT_MAX_REQUEST (1024 * 1024) /* the whole request, body included */

/* What every load child is told (the first message on its channel). */
typedef struct {
    char ip[64]; /* numeric address to connect to */
    int port;
    char *request; /* the whole request, sent as is on every round (malloc'd) */
    size_t request_len;
    int tls;        /* https: TLS over the connection */
    int insecure;   /* -k: do not verify the server's certificate */
    char host[256]; /* the URL's host: SNI and certificate name */
    int connections;
    uint64_t budget;     /* requests this child may send; 0: unlimited */
    double rate;         /* requests/s for this child; 0: as fast as responses come back */
    uint64_t timeout_ms; /* per request */
    int index;           /* 1-based, for messages */
} lt_child_config_t;

json_t *lt_child_config_encode(const lt_child_config_t *c);
/* Fills *c (c->request malloc'd: lt_child_config_free). 0, or -1 for a bad message. */
int lt_child_config_decode(lt_child_config_t *c, const json_t *msg);
void lt_child_config_free(lt_child_config_t *c);

/* --- one HTTP/1.x response (loadtest_http.c) ------------------------------------------ */

typedef enum {
    LT_HTTP_MORE,    /* not whole yet */
    LT_HTTP_DONE,    /* a whole final response; `used` says where it ended */
    LT_HTTP_UPGRADE, /* 101 Switching Protocols: what follows is not HTTP */
    LT_HTTP_ERROR,   /* not an HTTP/1.x response */
} lt_http_result_t;

typedef struct {
    http_parser parser;
    int done, upgrade;
} lt_http_t;

/* Before each request. */
void lt_http_start(lt_http_t *h);
/* Parses the next bytes of the answer. Interim 1xx responses (100 Continue, 103 Early Hints)
 * are skipped as RFC 9110 says: the final response follows them. *used: bytes consumed (for
 * DONE, anything past *used came unasked). */
lt_http_result_t lt_http_feed(lt_http_t *h, const char *data, size_t len, size_t *used);
/* The connection ended: DONE for a body delimited by the close, else ERROR. */
lt_http_result_t lt_http_eof(lt_http_t *h);
unsigned lt_http_status(const lt_http_t *h);
int lt_http_keep_alive(const lt_http_t *h);

/* The child's side: adopts the channel, waits for its config, loads until told to stop or its
 * budget is spent, reports every LT_REPORT_MS. Returns the process exit code. */
int lt_child_main(void);

/* --- TLS (loadtest_tls.c, built with OpenSSL only: LT_HAVE_TLS) ------------------------ */

typedef struct lt_tls_ctx_s lt_tls_ctx_t;
typedef struct lt_tls_s lt_tls_t;
lt_tls_ctx_t *lt_tls_ctx_new(const char *host, int insecure);
void lt_tls_ctx_free(lt_tls_ctx_t *t);
lt_tls_t *lt_tls_new(lt_tls_ctx_t *t);
void lt_tls_free(lt_tls_t *c);
/* Ciphertext read from the socket. 0, or -1. */
int lt_tls_received(lt_tls_t *c, const char *data, size_t len);
/* 1 done, 0 wants more bytes (send what lt_tls_take gives first), -1 failed. */
int lt_tls_handshake(lt_tls_t *c);
int lt_tls_resumed(const lt_tls_t *c);
/* Plaintext: > 0 bytes, 0 none for now, -1 error, -2 the server's close_notify. */
int lt_tls_read(lt_tls_t *c, char *buf, size_t size);
int lt_tls_write(lt_tls_t *c, const char *data, size_t len);
/* Ciphertext waiting to be sent, in place (no copy); 0 when none. lt_tls_consumed once all of
 * it has been written or copied. */
size_t lt_tls_peek(lt_tls_t *c, const char **data);
void lt_tls_consumed(lt_tls_t *c);
/* Whether lt_tls_read may give more without new ciphertext (saves a call that would only
 * say "want read"). */
int lt_tls_more(const lt_tls_t *c);
/* What went wrong last, in a few words ("certificate verify failed: ..."). */
const char *lt_tls_last_error(void);

/* --- load children on other hosts (loadtest_hosts.c, scale-out) ------------------------ */

#define LT_MAX_HOSTS 64

typedef struct {
    int n, total; /* hosts, and the sum of their slots */
    char name[LT_MAX_HOSTS][256];
    int slots[LT_MAX_HOSTS];
} lt_hosts_t;

/* "N/HOST,..." (":" is this machine; N defaults to 1). 0, or -1 for a malformed list. */
int lt_hosts_parse(const char *spec, lt_hosts_t *h);
/* The host of child `index` (0-based): round-robin, weighted by the slots. */
const char *lt_hosts_for_child(const lt_hosts_t *h, int index);
/* argv = the words of `cmd` (split on blanks, kept in buf) + host + NULL; -1 if too long. */
int lt_hosts_launcher(const char *cmd, const char *host, char *buf, size_t size, const char **argv,
                      int max);

/* --- command line (loadtest_args.c) --------------------------------------------------- */

#define LT_MAX_HEADERS 64

typedef struct {
    int tls;             /* https */
    char host[256];      /* without brackets */
    int port;            /* given, or 80/443 */
    char authority[300]; /* the Host header: host[:port] as written */
    char target[2048];   /* path and query, "/" when none */
} lt_url_t;

/* http:// or https:// URL into its parts; 0, or -1 (not such a URL, or too long). */
int lt_url_parse(const char *url, lt_url_t *u);
/* "2s", "500ms", "1m", "1h", "250us", or a bare number of seconds. 0, or -1. */
int lt_parse_duration(const char *s, double *seconds);

typedef struct {
    int processes, connections; /* load children; connections in all */
    int processes_given, connections_given;
    double seconds; /* -d, or its default */
    int seconds_given;
    uint64_t requests; /* -n; 0: by time */
    double rate;       /* -R; 0: closed loop */
    int ramp;
    double ramp_step_s, ramp_errors_pct, ramp_p99_ms;
    uint64_t timeout_ms;
    int json, live, latency, insecure;
    const char *hgrm, *report; /* files to write, or NULL */
    double max_errors;         /* --max-errors: a count, or a percentage; < 0: none */
    int max_errors_pct;
    const char *method;
    const char *headers[LT_MAX_HEADERS];
    int header_count;
    char *body; /* -b or --body-file (malloc'd), or NULL */
    size_t body_len;
    const char *url; /* NULL: the embedded server */
    lt_url_t target;
    /* scale-out: --hosts, --launcher; the parsed list */
    const char *hosts_spec, *launcher;
    lt_hosts_t hosts;
} lt_options_t;

/* Fills *o from argv. Returns 0, or 1 after --help / --version (printed); a usage error is
 * said on stderr and exits 2 (cli_usage_error). */
int lt_parse_args(int argc, char **argv, lt_options_t *o);
/* The request every connection sends, built from the options (method, target, headers,
 * body); malloc'd, *len its length. NULL if too big (LT_MAX_REQUEST). */
char *lt_build_request(const lt_options_t *o, const lt_url_t *u, size_t *len);

/* --- output (loadtest_report.c) ------------------------------------------------------- */

typedef enum { LT_CHILD_RUNNING, LT_CHILD_DONE, LT_CHILD_CRASHED } lt_child_outcome_t;

typedef struct {
    int index;
    int pid;
    lt_child_outcome_t outcome;
    int64_t exit_code;
    int term_signal;
    double started_s, ended_s; /* since the run started */
    int open_conns;
    double cpu_s;    /* user + system CPU time, from uvproc_rusage once it exited; -1: unknown */
    long max_rss_kb; /* its peak resident memory; -1: unknown */
    lt_stats_t stats;
} lt_child_view_t;

typedef struct {
    int children;   /* at their peak */
    double seconds; /* after ramp: seconds of the whole run */
    double rps;
    double p99_ms;
    double error_rate; /* errors / (responses + errors) */
    uint64_t requests, errors;
    const char *stop_reason; /* why the ramp stopped after this step, or NULL */
} lt_ramp_step_t;

/* One point of the time series: what the reports of one interval carried. */
typedef struct {
    double t; /* end of the interval, seconds since the start */
    double seconds;
    uint64_t requests, errors, non2xx;
    uint64_t p50_us, p99_us, max_us; /* meaningful when requests > 0 */
} lt_interval_t;

#define LT_INTERVAL_MS 1000 /* one point per second, as autocannon and k6 sample */

typedef struct {
    const char *url;
    const char *target_note; /* "embedded cluster-server (2 workers)" or NULL */
    const char *method;
    int children, connections; /* processes started; connections in all */
    double rate;
    double seconds;      /* measured wall time of the load */
    double parent_cpu_s; /* loadtest's own CPU time: merging, the live line, the output */
    int interrupted;
    int tls;
    int show_distribution; /* --latency */
    const lt_stats_t *total;
    const lt_child_view_t *child;
    int child_count;
    const lt_interval_t *intervals;
    int interval_count;
    const lt_ramp_step_t *steps; /* --ramp only */
    int step_count;
    int sustained_step;              /* index into steps of the largest sustained step, -1: none */
    const char *max_errors_exceeded; /* "12 errors > --max-errors 10", or NULL */
} lt_summary_t;

void lt_report_table(FILE *out, const lt_summary_t *s);
json_t *lt_report_json(const lt_summary_t *s);
/* The latency distribution in HdrHistogram's percentile-distribution format (what its
 * plotter and wrk2 --u_latency read), values in milliseconds. */
void lt_report_hgrm(FILE *out, const hdr_histogram_t *h);
/* The HTML report: one self-contained page (data, script and style inline) drawn from
 * lt_report_json's object. 0, or -1 on a write error. */
int lt_report_html(FILE *out, const json_t *result);
/* One live line (no newline) into buf: elapsed, req/s, p50/p99 of the last second, errors,
 * children alive. */
void lt_report_live(char *buf, size_t size, double elapsed, double rps, const lt_stats_t *recent,
                    uint64_t errors, int alive, int children);
/* "1.23 ms", "850 us", "2.10 s"; "-" when the histogram has no sample. */
const char *lt_fmt_latency(char *buf, size_t size, const hdr_histogram_t *h, uint64_t us);

/* --- the parent's view of a load child (loadtest_slot.c) ------------------------------- */

typedef enum {
    LT_SLOT_RUNNING,
    LT_SLOT_STOPPING,
    LT_SLOT_FINISHING,
    LT_SLOT_DONE,
    LT_SLOT_CRASHED,
    LT_SLOT_STATES
} lt_slot_state_t;

typedef enum {
    LT_EV_REPORT,     /* a report came (counts since the previous one) */
    LT_EV_FINAL,      /* its last report came */
    LT_EV_STOP,       /* the run stops */
    LT_EV_EXIT_CLEAN, /* it exited with code 0 */
    LT_EV_EXIT_BAD,   /* it exited otherwise, or was killed */
    LT_EV_GRACE_OVER, /* the run stopped 3 s ago */
    LT_SLOT_EVENTS
} lt_slot_event_t;

typedef struct lt_slot_s {
    lt_child_view_t view; /* view.outcome follows state */
    lt_slot_state_t state;
    uvproc_process_t *proc; /* NULL once closed */
    uvproc_channel_t *chan; /* NULL once disconnected */
    /* The parent's hooks: a report to add to its own tallies, a crash to tell. */
    void (*on_report)(struct lt_slot_s *s, const lt_stats_t *report);
    void (*on_crash)(struct lt_slot_s *s);
} lt_slot_t;

/* Runs the table's cell for (s->state, ev); `report` for LT_EV_REPORT / LT_EV_FINAL. */
void lt_slot_event(lt_slot_t *s, lt_slot_event_t ev, const lt_stats_t *report);

/* --- embedded target (loadtest_target.c) ---------------------------------------------- */

typedef struct lt_target_s lt_target_t;
/* Starts the demo server next to this program on a free port of 127.0.0.1 and calls `ready`
 * with its URL (borrowed) once it listens, or with NULL and an error message. */
int lt_target_start(uv_loop_t *loop, lt_target_t **out,
                    void (*ready)(lt_target_t *t, const char *url, const char *error, void *data),
                    void *data);
/* "cluster-server (2 workers)": what is being loaded, for the summary. */
const char *lt_target_name(const lt_target_t *t);
/* Stops it (SIGTERM, then SIGKILL after a grace period); `done` runs once it has exited and
 * `t` is freed. */
void lt_target_stop(lt_target_t *t, void (*done)(void *data), void *data);

#endif
