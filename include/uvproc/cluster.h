/* uvproc/cluster.h: a primary supervising N workers on a shared port, and the worker side.
 * Included by uvproc.h (include that one); the conventions at its top hold here. */
#include "uvproc.h" /* first: it includes this file, then its siblings, in order */
#ifndef UVPROC_CLUSTER_H
#define UVPROC_CLUSTER_H

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------- */
/* cluster: a primary supervising N workers on a shared port (Node's NODE_CLUSTER protocol)  */

/* The primary starts N workers of any program (C workers linking uvproc, or unmodified Node
 * `cluster` workers run with `node`), answers their listen requests on one shared socket,
 * restarts a worker that dies with exponential backoff, stops gracefully and reloads with no
 * failed request. Docs: docs/cluster.md. */
typedef struct uvproc_cluster_s uvproc_cluster_t;
typedef struct uvproc_cluster_worker_s uvproc_cluster_worker_t;

typedef enum {
    /* Node's SCHED_RR (its default on Unix): the primary listens, accepts, and passes each
     * connection to one worker over the channel, one in flight per worker. Even balance. */
    UVPROC_CLUSTER_RR = 0,
    /* Node's SCHED_NONE: the primary binds and hands the socket to every worker, which
     * listens and accepts itself. No per-connection cost, but one accept queue: the worker
     * that wakes first takes a burst of connections (uneven, as Node's docs warn). */
    UVPROC_CLUSTER_SHARED,
} uvproc_cluster_policy_t;

/* A worker slot's state. A slot lives across restarts (its process and id change). */
typedef enum {
    UVPROC_WORKER_STARTING = 0, /* forked, not yet online */
    UVPROC_WORKER_ONLINE,       /* said online, not yet listening */
    UVPROC_WORKER_LISTENING,    /* a server listens: the worker is ready */
    UVPROC_WORKER_STOPPING,     /* told to disconnect; SIGKILL when the grace period ends */
    UVPROC_WORKER_BACKOFF,      /* died; its replacement starts when the delay ends */
    UVPROC_WORKER_DEAD,         /* gone for good (stopped, left on its own, or a crash loop) */
} uvproc_cluster_worker_state_t;

/* Restart policy, as data. Zero fields mean the defaults in brackets (PM2's, for the delay).
 * The first restart after a stable period is immediate; the n-th (n >= 2) waits
 * delay_ms * factor^(n-2), at most max_delay_ms. A worker that stays up reset_after_ms
 * starts the sequence over. More than crash_loop_restarts restarts within crash_loop_window_ms
 * is a crash loop: the slot stops restarting (DEAD) and on_crash_loop reports it. */
typedef struct {
    uint64_t delay_ms;             /* [100] */
    double factor;                 /* [1.5] */
    uint64_t max_delay_ms;         /* [15000] */
    uint64_t reset_after_ms;       /* [30000] */
    unsigned crash_loop_restarts;  /* [10]; UINT32_MAX: never give up */
    uint64_t crash_loop_window_ms; /* [60000] */
    int disabled;                  /* non-zero: never restart */
} uvproc_cluster_restart_t;

/* Where a worker's server listens, as its `listening` message says. Strings borrowed. */
typedef struct {
    const char *address; /* IP address, Unix socket path, or NULL (all interfaces) */
    int port;            /* -1 for a Unix socket */
    int address_type;    /* 4, 6, or -1 (Unix socket): Node's addressType */
} uvproc_cluster_address_t;

typedef struct uvproc_cluster_options_s {
    /* How each worker is started (uvproc_fork's options: exec_path "node" runs a Node
     * script); its strings and arrays are copied. The library adds NODE_UNIQUE_ID=<worker
     * id> to the environment and sets kill_on_parent_death (where the kernel has pidfds), so
     * that workers die with the primary. The channel callbacks and spawn event callbacks are
     * the cluster's: those fields are ignored. */
    uvproc_fork_options_t fork;
    unsigned workers; /* 0: uv_available_parallelism() */
    uvproc_cluster_policy_t policy;
    uvproc_cluster_restart_t restart;
    uint64_t grace_ms; /* stop: SIGKILL a worker this long after asking it to leave [5000] */
    /* A worker that asks to listen on no particular address (Node's listen(port)) gets this
     * one; NULL: all interfaces ("::", else "0.0.0.0"), as Node does. */
    const char *host;
    void *data; /* uvproc_cluster_data() */

    /* Events; any may be NULL. A worker pointer stays valid until the event that says it is
     * DEAD (on_exit, then on_crash_loop if that is why) has returned. */
    void (*on_fork)(uvproc_cluster_t *c, uvproc_cluster_worker_t *w);
    void (*on_online)(uvproc_cluster_t *c, uvproc_cluster_worker_t *w);
    void (*on_listening)(uvproc_cluster_t *c, uvproc_cluster_worker_t *w,
                         const uvproc_cluster_address_t *address);
    /* A user message from the worker (borrowed). */
    void (*on_message)(uvproc_cluster_t *c, uvproc_cluster_worker_t *w, json_t *msg);
    void (*on_disconnect)(uvproc_cluster_t *c, uvproc_cluster_worker_t *w);
    /* The worker's process is gone (code -1 and `signal` set when killed; code < -1 is the
     * spawn error when it never started). The state tells what follows: BACKOFF (a restart
     * comes after on_restart), DEAD (none). rusage and uptime are those of this process. */
    void (*on_exit)(uvproc_cluster_t *c, uvproc_cluster_worker_t *w, int64_t code, int signal);
    /* A restart is scheduled `delay_ms` from now. */
    void (*on_restart)(uvproc_cluster_t *c, uvproc_cluster_worker_t *w, uint64_t delay_ms);
    /* Too many restarts within the window: this slot stops restarting. */
    void (*on_crash_loop)(uvproc_cluster_t *c, uvproc_cluster_worker_t *w);
    /* Bad input from a worker (UVPROC_EBADMSG garbage line, UV_EMSGSIZE, UV_EPROTO: a
     * NODE_CLUSTER message with an unknown act or missing fields; `msg` is it, may be NULL)
     * or a failure on its behalf (the spawn error, UV_EADDRINUSE answered to a listen). The
     * primary and the other workers go on. */
    void (*on_error)(uvproc_cluster_t *c, uvproc_cluster_worker_t *w, int err, json_t *msg);

    /* Listening sockets already open, from systemd's socket activation or from the primary
     * this one upgrades (uvproc_cluster_listen_fds() collects both). A worker asking for
     * the address one of them is bound to gets it instead of a new bind (TCP: same port, and
     * the same address, "all interfaces" matching "::" or "0.0.0.0"), so the port never
     * closes. The cluster owns them once uvproc_cluster_start() succeeds. */
    const int *listen_fds;
    size_t listen_fds_count;
} uvproc_cluster_options_t;

/* Starts the workers. `file` and `args` as uvproc_fork's (copied). Returns 0, or UV_EINVAL /
 * UV_ENOMEM with nothing started. The cluster runs until uvproc_cluster_stop(). */
UVPROC_EXTERN int uvproc_cluster_start(uv_loop_t *loop, uvproc_cluster_t **out, const char *file,
                                       const char *const *args,
                                       const uvproc_cluster_options_t *options);
/* Graceful stop: listening sockets close, every worker is asked to disconnect (it closes its
 * servers and finishes in-flight requests), SIGKILL after grace_ms, no restarts. `cb` runs once
 * every worker has exited; the cluster is freed when it returns. UV_EALREADY if stopping. */
UVPROC_EXTERN int uvproc_cluster_stop(uvproc_cluster_t *c,
                                      void (*cb)(uvproc_cluster_t *c, void *data), void *data);
/* Zero-downtime rolling reload: for each current worker in turn, start a new one, wait for
 * its `listening`, then stop the old one gracefully. `cb` (may be NULL) gets 0 when every
 * worker was replaced, UV_ECANCELED if the cluster was stopped first, UVPROC_ECRASHLOOP if
 * a replacement crash-looped. UV_EBUSY while a reload runs, UV_EALREADY while stopping. */
UVPROC_EXTERN int uvproc_cluster_reload(uvproc_cluster_t *c,
                                        void (*cb)(uvproc_cluster_t *c, int status, void *data),
                                        void *data);
/* Grows (new workers start now) or shrinks (the newest workers stop gracefully) to n. */
UVPROC_EXTERN int uvproc_cluster_resize(uvproc_cluster_t *c, unsigned n);
/* Sends a user message (borrowed) to one worker / to every connected worker. UV_EPIPE when
 * the worker has no channel now; broadcast returns how many workers it was sent to. */
UVPROC_EXTERN int uvproc_cluster_send(uvproc_cluster_worker_t *w, const json_t *msg);
UVPROC_EXTERN int uvproc_cluster_broadcast(uvproc_cluster_t *c, const json_t *msg);
/* Node's worker.disconnect(): stops this worker gracefully, without a restart. */
UVPROC_EXTERN int uvproc_cluster_worker_stop(uvproc_cluster_worker_t *w);
/* Live (not DEAD) worker slots, up to max; returns how many there are. */
UVPROC_EXTERN size_t uvproc_cluster_workers(const uvproc_cluster_t *c,
                                            uvproc_cluster_worker_t **out, size_t max);
UVPROC_EXTERN void *uvproc_cluster_data(const uvproc_cluster_t *c);

UVPROC_EXTERN unsigned uvproc_cluster_worker_id(const uvproc_cluster_worker_t *w);  /* current */
UVPROC_EXTERN uv_pid_t uvproc_cluster_worker_pid(const uvproc_cluster_worker_t *w); /* 0: none */
UVPROC_EXTERN uvproc_cluster_worker_state_t
uvproc_cluster_worker_state(const uvproc_cluster_worker_t *w);
UVPROC_EXTERN const char *uvproc_cluster_state_name(uvproc_cluster_worker_state_t state);
UVPROC_EXTERN unsigned uvproc_cluster_worker_restarts(const uvproc_cluster_worker_t *w);
/* Milliseconds since the current (or, in on_exit, the last) process started. */
UVPROC_EXTERN uint64_t uvproc_cluster_worker_uptime(const uvproc_cluster_worker_t *w);
/* The last exited process's rusage (uvproc_rusage's errors; UV_EAGAIN before any exit). */
UVPROC_EXTERN int uvproc_cluster_worker_rusage(const uvproc_cluster_worker_t *w,
                                               struct rusage *usage);
UVPROC_EXTERN uvproc_cluster_t *uvproc_cluster_worker_cluster(const uvproc_cluster_worker_t *w);

/* ---------------------------------------------------------------------------------------- */
/* service helpers: systemd readiness, socket activation, the primary's upgrade, metrics     */

/* sd_notify(3) without libsystemd: sends `state` ("READY=1", "STATUS=...", several lines
 * joined by '\n') as one datagram to $NOTIFY_SOCKET (a path, or "@name" in the abstract
 * namespace). Returns 1 when sent, 0 when NOTIFY_SOCKET is unset (not under systemd), else a
 * negative error. One non-blocking sendmsg: it never waits. */
UVPROC_EXTERN int uvproc_cluster_notify(const char *state);

/* The longest LISTEN_FDNAMES entry kept, with its NUL (systemd allows 255 characters). */
#define UVPROC_CLUSTER_FDNAME_MAX 256

/* Takes the listening sockets this process was given: by an upgrading primary
 * (UVPROC_CLUSTER_FDS, set by uvproc_cluster_upgrade) or by systemd's socket activation
 * (LISTEN_FDS from fd 3 on, only when LISTEN_PID is this process; names from LISTEN_FDNAMES,
 * "" when absent). Sets CLOEXEC on them (workers never inherit them by accident) and unsets
 * the variables, as sd_listen_fds(1) does. Fills up to `max` fds (and names, when `names` is
 * not NULL) and returns how many there are; 0 when none; UV_EINVAL when the variables are
 * malformed (nothing taken), UV_E2BIG when more than `max` were passed. Pass them to the
 * cluster in listen_fds. */
UVPROC_EXTERN int uvproc_cluster_listen_fds(int *fds, char (*names)[UVPROC_CLUSTER_FDNAME_MAX],
                                            size_t max);

/* The primary's upgrade (nginx's and gunicorn's USR2): starts `file` (argv[0] `argv0`, NULL:
 * file; `args` after it) as a new primary that inherits every listening socket of this
 * cluster (handed over as open fds, never rebound, so no instant where the port refuses), plus
 * a pipe on which it says it is ready (uvproc_cluster_upgrade_ready()). `cb` gets status 0
 * and the new primary's pid once it is ready: both primaries serve; the caller then stops
 * this one (uvproc_cluster_stop drains its workers gracefully) and exits. A failure leaves
 * this cluster serving untouched: `cb` gets the spawn error, UVPROC_EUPGRADE (the new
 * primary exited before it was ready) or UV_ETIMEDOUT (not ready within timeout_ms [30000];
 * it is killed), or UV_ECANCELED (this cluster was stopped first). The new primary is not
 * reaped by this process: it is unref'd, and outlives it. Returns 0, UV_EBUSY while an
 * upgrade runs, UV_EALREADY while stopping, UV_ENOMEM. */
UVPROC_EXTERN int uvproc_cluster_upgrade(uvproc_cluster_t *c, const char *file, const char *argv0,
                                         const char *const *args, uint64_t timeout_ms,
                                         void (*cb)(uvproc_cluster_t *c, int status, uv_pid_t pid,
                                                    void *data),
                                         void *data);
/* In a primary started by uvproc_cluster_upgrade: non-zero. The first call (or
 * uvproc_cluster_listen_fds) takes the readiness fd out of the environment. */
UVPROC_EXTERN int uvproc_cluster_upgrading(void);
/* Tells the primary that started this one that it serves (call it once its workers listen):
 * returns 1 when told, 0 when this process was not started by an upgrade, else a negative
 * error. After it, the old primary drains and exits. */
UVPROC_EXTERN int uvproc_cluster_upgrade_ready(void);

/* Resize by one, within bounds (TTIN / TTOU): `delta` +1 or -1 on the target count, clamped
 * to [min, max]. Returns the new target, or UV_ERANGE when it is already at the bound,
 * UV_EALREADY while stopping. */
UVPROC_EXTERN int uvproc_cluster_resize_by(uvproc_cluster_t *c, int delta, unsigned min,
                                           unsigned max);
/* The target worker count (what start, resize and TTIN/TTOU set). */
UVPROC_EXTERN unsigned uvproc_cluster_target(const uvproc_cluster_t *c);

/* One worker slot, as a metrics snapshot sees it. */
typedef struct {
    unsigned id;
    uv_pid_t pid; /* 0: no process now (backoff) */
    uvproc_cluster_worker_state_t state;
    unsigned restarts;
    uint64_t uptime_ms;
    uint64_t rss_bytes;  /* resident set now (/proc/PID/statm); 0 when unknown */
    double cpu_seconds;  /* user + system CPU of the current process; 0 when unknown */
} uvproc_cluster_worker_stats_t;

/* The cluster at one instant: the primary's counters since start, and every live slot. */
typedef struct {
    unsigned target;                 /* workers wanted */
    uint64_t forks, exits, restarts; /* processes started, exited; restarts scheduled */
    uint64_t crash_loops;            /* slots given up */
    uint64_t reloads, reload_failures;
    uint64_t upgrades, upgrade_failures; /* uvproc_cluster_upgrade outcomes */
    uint64_t uptime_ms;                  /* since uvproc_cluster_start */
    uint64_t primary_rss_bytes;
    double primary_cpu_seconds;
    size_t nworkers;
    uvproc_cluster_worker_stats_t *workers; /* nworkers, malloc()ed: uvproc_cluster_stats_free */
} uvproc_cluster_stats_t;

/* Fills `out` (0, or UV_ENOMEM); never blocks beyond reading /proc. */
UVPROC_EXTERN int uvproc_cluster_stats(const uvproc_cluster_t *c, uvproc_cluster_stats_t *out);
UVPROC_EXTERN void uvproc_cluster_stats_free(uvproc_cluster_stats_t *s);
/* The snapshot in Prometheus' text exposition format (version 0.0.4), metric names prefixed
 * `prefix` (NULL: "uvproc_cluster"): a malloc()ed NUL-terminated text in *out, its length in
 * *len. 0 or UV_ENOMEM. */
UVPROC_EXTERN int uvproc_cluster_stats_prometheus(const uvproc_cluster_stats_t *s,
                                                  const char *prefix, char **out, size_t *len);

/* Worker side, for C workers: join the primary (uvproc's or Node's) and listen through it. */
typedef struct uvproc_cluster_child_s uvproc_cluster_child_t;
typedef struct uvproc_cluster_server_s uvproc_cluster_server_t;

/* Non-zero when this process was started as a cluster worker (NODE_UNIQUE_ID is set). */
UVPROC_EXTERN int uvproc_cluster_is_worker(void);

typedef struct uvproc_cluster_child_options_s {
    void *data;
    void (*on_message)(uvproc_cluster_child_t *w, json_t *msg); /* borrowed */
    /* The channel is gone. `asked` non-zero: the primary asked this worker to leave (its
     * servers are already closed: finish in-flight work and let the loop end) or the worker
     * called uvproc_cluster_child_disconnect(); zero: the primary died (Node's worker exits
     * then). The child object is freed when this returns. */
    void (*on_disconnect)(uvproc_cluster_child_t *w, int asked);
    void (*on_error)(uvproc_cluster_child_t *w, int err);
} uvproc_cluster_child_options_t;

/* Adopts the channel (uvproc_channel_from_parent's errors; UVPROC_ENOCHANNEL also when
 * NODE_UNIQUE_ID is unset), unsets NODE_UNIQUE_ID and tells the primary it is online. */
UVPROC_EXTERN int uvproc_cluster_child_start(uv_loop_t *loop, uvproc_cluster_child_t **out,
                                             const uvproc_cluster_child_options_t *options);
UVPROC_EXTERN unsigned uvproc_cluster_child_id(const uvproc_cluster_child_t *w);
UVPROC_EXTERN void *uvproc_cluster_child_data(const uvproc_cluster_child_t *w);
UVPROC_EXTERN int uvproc_cluster_child_send(uvproc_cluster_child_t *w, const json_t *msg);
/* Node's worker.disconnect(): closes every server, tells the primary this exit is wanted
 * (no restart), then closes the channel; on_disconnect(w, 1) follows. */
UVPROC_EXTERN int uvproc_cluster_child_disconnect(uvproc_cluster_child_t *w);

typedef struct uvproc_cluster_listen_options_s {
    const char *host; /* NULL: the primary's choice (all interfaces unless it says otherwise) */
    int port;         /* 0: a free port (shared by every worker asking for 0) */
    const char *path; /* non-NULL: a Unix socket at this path instead of host/port */
    int backlog;      /* 0: 511 */
    void *data;
    /* Once: status 0 when the server listens, else why not (UV_EADDRINUSE, ...); after a
     * failure the server is freed when this returns. */
    void (*on_listening)(uvproc_cluster_server_t *s, int status);
    /* A connection, in either policy: `client` (a uv_tcp_t, or a uv_pipe_t for a Unix
     * socket) is connected, initialised on the loop and the user's: end it with
     * uvproc_handle_close(client). */
    void (*on_connection)(uvproc_cluster_server_t *s, uv_stream_t *client);
} uvproc_cluster_listen_options_t;

/* Asks the primary for a server (Node's queryServer): on_listening tells the outcome. */
UVPROC_EXTERN int uvproc_cluster_listen(uvproc_cluster_child_t *w, uvproc_cluster_server_t **out,
                                        const uvproc_cluster_listen_options_t *options);
/* The port the server listens on (0 before on_listening(0), -1 for a Unix socket). */
UVPROC_EXTERN int uvproc_cluster_server_port(const uvproc_cluster_server_t *s);
UVPROC_EXTERN void *uvproc_cluster_server_data(const uvproc_cluster_server_t *s);
/* Stops accepting and tells the primary; the server is freed later. */
UVPROC_EXTERN int uvproc_cluster_server_close(uvproc_cluster_server_t *s);

#ifdef __cplusplus
}
#endif
#endif /* UVPROC_CLUSTER_H */
