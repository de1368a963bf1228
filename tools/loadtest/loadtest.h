/* loadtest: what the parent (loadtest.c), the load children (loadtest_child.c), the stats
 * that travel between them (loadtest_stats.c), the output (loadtest_report.c) and the
 * embedded target server (loadtest_target.c) share. Internal to the demo. */
#ifndef LOADTEST_H
#define LOADTEST_H

#include <stdint.h>
#include <stdio.h>

#include <uvproc.h>

#include "hdr_histogram.h"

/* Hard caps: a typo must not fork a thousand children or run for a day. */
#define LT_MAX_CHILDREN 64
#define LT_MAX_CONNECTIONS 10000 /* per child */
#define LT_MAX_SECONDS 3600.0
#define LT_REPORT_MS 250 /* children report this often; the live line refreshes as often */

/* Why a request or a connection failed; non-2xx answers are responses, counted by status. */
typedef enum {
    LT_ERR_REFUSED, /* connect: ECONNREFUSED (nothing listening, or a full backlog) */
    LT_ERR_CONNECT, /* connect: any other error (EADDRNOTAVAIL, ETIMEDOUT, ...) */
    LT_ERR_RESET,   /* the server reset the connection (ECONNRESET, EPIPE) */
    LT_ERR_CLOSED,  /* the server closed the connection before a whole response */
    LT_ERR_TIMEOUT, /* no whole response within --timeout */
    LT_ERR_PARSE,   /* the response is not HTTP/1.x (http_parser said so) */
    LT_ERR_OTHER,   /* any other read or write error */
    LT_ERR_COUNT
} lt_err_t;

extern const char *const lt_err_names[LT_ERR_COUNT];

#define LT_STATUS_MAX 600

/* Counts of one child, or merged. Latencies in microseconds. */
typedef struct {
    uint64_t requests; /* whole responses, any status */
    uint64_t bytes;    /* response bytes read */
    uint64_t errors[LT_ERR_COUNT];
    uint64_t status[LT_STATUS_MAX]; /* by status code; 0 holds codes out of 100..599 */
    uint64_t unfinished;            /* requests still in flight when the run stopped */
    hdr_histogram_t latency;
} lt_stats_t;

void lt_stats_init(lt_stats_t *s);
void lt_stats_reset(lt_stats_t *s);
void lt_stats_merge(lt_stats_t *dst, const lt_stats_t *src);
uint64_t lt_stats_errors(const lt_stats_t *s);
uint64_t lt_stats_non2xx(const lt_stats_t *s);
/* A child's report over the IPC channel: {"t":"stats","final":b,"open":n,"req":n,"bytes":n,
 * "err":[n,...],"st":{"200":n,...},"h":[index,count,...],"min":us,"max":us,"sum":us,
 * "unf":n}. Counts are deltas since the previous report. */
json_t *lt_stats_encode(const lt_stats_t *s, int final, int open_conns);
/* Adds a report to *dst. Returns 0, or -1 for a message that is not a valid report (nothing
 * is added then). */
int lt_stats_decode_add(lt_stats_t *dst, const json_t *msg);

/* What every load child is told (the first message on its channel). */
typedef struct {
    char ip[64]; /* numeric address to connect to */
    int port;
    char request[4096]; /* the whole request, sent as is on every round */
    int connections;
    uint64_t budget;     /* requests this child may send; 0: unlimited */
    double rate;         /* requests/s for this child; 0: as fast as responses come back */
    uint64_t timeout_ms; /* per request */
    int index;           /* 1-based, for messages */
} lt_child_config_t;

json_t *lt_child_config_encode(const lt_child_config_t *c);
int lt_child_config_decode(lt_child_config_t *c, const json_t *msg);

/* The child's side: adopts the channel, waits for its config, loads until told to stop or its
 * budget is spent, reports every LT_REPORT_MS. Returns the process exit code. */
int lt_child_main(void);

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

typedef struct {
    int children, connections;
    double seconds; /* -d, or its default */
    int seconds_given;
    uint64_t requests; /* -n; 0: by time */
    double rate;       /* --rate; 0: closed loop */
    int ramp;
    double ramp_step_s, ramp_errors_pct, ramp_p99_ms;
    uint64_t timeout_ms;
    int json, live;
    const char *url; /* NULL: the embedded server */
    /* scale-out: --hosts, --launcher; the parsed list; whether -c was given */
    const char *hosts_spec, *launcher;
    lt_hosts_t hosts;
    int children_given;
} lt_options_t;

/* Fills *o from argv. Returns 0, 1 after --help (printed), -1 after a usage error (said on
 * stderr). */
int lt_parse_args(int argc, char **argv, lt_options_t *o);

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

typedef struct {
    const char *url;
    const char *target_note; /* "embedded cluster-server (2 workers)" or NULL */
    int children, connections;
    double rate;
    double seconds;      /* measured wall time of the load */
    double parent_cpu_s; /* loadtest's own CPU time: merging, the live line, the output */
    int interrupted;
    const lt_stats_t *total;
    const lt_child_view_t *child;
    int child_count;
    const lt_ramp_step_t *steps; /* --ramp only */
    int step_count;
    int sustained_step; /* index into steps of the largest sustained step, -1: none */
} lt_summary_t;

void lt_report_table(FILE *out, const lt_summary_t *s);
json_t *lt_report_json(const lt_summary_t *s);
/* One live line (no newline) into buf: elapsed, req/s, p50/p99 of the last second, errors,
 * children alive. */
void lt_report_live(char *buf, size_t size, double elapsed, double rps, const lt_stats_t *recent,
                    uint64_t errors, int alive, int children);

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
