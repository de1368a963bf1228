/* uvproc/pool.h: a concurrency-limited job queue over processes: command jobs, workerpool
 * worker jobs, hosts, and the serving side.
 * Included by uvproc.h (include that one); the conventions at its top hold here. */
#include "uvproc.h" /* first: it includes this file, then its siblings, in order */
#ifndef UVPROC_POOL_H
#define UVPROC_POOL_H

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------- */
/* pool: a concurrency-limited job queue over processes (docs/pool.md)                      */
/*                                                                                          */
/* One pool runs one kind of job:                                                           */
/* - command jobs: one process per job, with exec's semantics (xargs -P, GNU parallel);     */
/* - worker jobs: a method name + JSON params sent to persistent forked workers that speak  */
/*   npm workerpool's wire protocol, so a Node `workerpool.worker({...})` script serves a   */
/*   C pool, and a C worker (uvproc_pool_serve, below) serves Node's workerpool.           */
/* A job's timeout counts from when it starts, never while it waits in the queue; cancel and */
/* crashes touch only their own job. The pool object is freed after its on_close returns.   */

typedef struct uvproc_pool_s uvproc_pool_t;


typedef enum {
    UVPROC_POOL_COMMANDS = 0, /* one process per job */
    UVPROC_POOL_WORKERS,      /* persistent workers, workerpool protocol */
} uvproc_pool_kind_t;

/* What a command job's output does. */
typedef enum {
    UVPROC_POOL_CAPTURE = 0, /* exec's: stdout/stderr captured (max_buffer), in the result */
    UVPROC_POOL_INHERIT,     /* the job writes to the pool's own stdout/stderr */
    UVPROC_POOL_DISCARD,     /* /dev/null */
    UVPROC_POOL_STREAM,      /* each chunk to on_output as it arrives; nothing kept */
} uvproc_pool_output_t;

/* What the first job that fails for good (retries spent) does to the rest (parallel --halt). */
typedef enum {
    UVPROC_HALT_NEVER = 0, /* go on */
    UVPROC_HALT_SOON, /* start no new job (queued ones end UV_ECANCELED); running ones finish */
    UVPROC_HALT_NOW,  /* also stop running jobs (UV_ECANCELED) */
} uvproc_halt_t;

typedef struct {
    uint64_t submitted;       /* accepted by submit */
    uint64_t queued;          /* waiting now */
    uint64_t running;         /* started, not finished */
    uint64_t done;            /* finished with error 0 */
    uint64_t failed;          /* finished with an error (cancelled ones included) */
    uint64_t retried;         /* restarts after a failure */
    uint64_t cancelled;       /* finished with UV_ECANCELED */
    uint64_t skipped;         /* finished without running: the resumed job log shows them done */
    uint64_t workers;         /* worker processes alive now (worker pools) */
    uint64_t workers_started; /* over the pool's life, replacements and recycling included */
} uvproc_pool_counters_t;

/* The outcome of one job, given to on_done. Pointers are borrowed for the callback. */
typedef struct {
    uint64_t id;       /* submission number, from 1 (the job log's Seq) */
    void *data;        /* the job's user pointer */
    int error;         /* 0, or: UVPROC_EEXITCODE, UVPROC_ESIGNALED, UV_ETIMEDOUT,
                          UV_ECANCELED, UVPROC_EMAXBUFFER, a spawn error (UV_ENOENT, ...),
                          UVPROC_EWORKERDIED, UVPROC_EJOBERROR, UVPROC_EPROTOCOL */
    unsigned attempts; /* runs, retries included (0: never started) */
    int skipped;       /* resume: not run, the job log says it succeeded before */
    uv_pid_t pid;      /* the (last) process that ran it */
    int64_t exit_code; /* command jobs: -1 unless it exited */
    int term_signal;   /* command jobs */
    const char *out;   /* command jobs in CAPTURE mode (NUL-terminated, may hold NULs) */
    size_t out_len;
    const char *err;
    size_t err_len;
    int has_rusage; /* command jobs not in CAPTURE mode, posix launcher */
    struct rusage rusage;
    json_t *result;            /* worker jobs: the reply's result (borrowed; incref to keep) */
    json_t *error_value;       /* worker jobs with UVPROC_EJOBERROR: the serialized error object */
    const char *error_name;    /* "Error", "TypeError", ... or NULL */
    const char *error_message; /* the worker's message, or NULL */
    double start_time;         /* seconds since the epoch when the (last) attempt started */
    double run_ms;             /* wall time of the last attempt */
    const char *host;          /* pools with hosts: where the last attempt ran (":" is this host) */
} uvproc_pool_result_t;

/* Pool across hosts: uvproc_pool_options_t.hosts. Each host has slots (worker processes, or
 * command jobs at once); jobs go to free slots across all hosts, the least loaded host first.
 * A remote slot is started through `launcher` + the host name, with the channel over stdio.
 * A host whose launcher exits with `failure_exit_code` (ssh's 255: connection refused or lost,
 * login failed) is marked down at once: its in-flight jobs go back to the front of the queue
 * (the one each worker was running counts as a retry, in counters.retried and in its
 * attempts, whatever `retries` says; those sent ahead behind it do not; a job that lost its
 * host more often than retries + number of hosts fails with UVPROC_EWORKERDIED or
 * UVPROC_EEXITCODE); on_done still comes once per job. The host gets no work for
 * `backoff_ms`, then one probe
 * slot: a worker that says "ready" (or a command that exits with another code) brings it
 * back, another failure doubles the backoff (up to backoff_max_ms). While every host is down
 * queued jobs wait. The pool's max_workers is replaced by the sum of the slots.
 * ssh also exits 255 when the remote command is killed by a signal (or exits 255 itself):
 * run C workers behind `remote.relay` too (the relay exits 128+N instead) so that a crashing
 * job is not taken for a lost host; a remote command job that exits 255 is taken for one. */
typedef struct uvproc_pool_hosts_s {
    /* GNU parallel's --sshlogin list: comma-separated [N/]HOST, N slots on HOST (default 1),
     * ":" for this machine. "4/127.0.0.2,4/127.0.0.3,2/:". At most 1024 hosts. */
    const char *spec;
    /* The argv each remote host's name is appended to; NULL: {"ssh", NULL}. */
    const char *const *launcher;
    /* quote, cwd, env and relay (worker pools) for every remote host; its launcher is unused. */
    uvproc_remote_t remote;
    int failure_exit_code;   /* 0: 255 */
    uint64_t backoff_ms;     /* 0: 1000 */
    uint64_t backoff_max_ms; /* 0: 30000 */
    /* Command pools in UVPROC_POOL_INHERIT mode: every line a job writes to stdout or stderr
     * goes to the pool's own fd 1 or 2 with "HOST\t" in front (GNU parallel's --tag); lines
     * of different jobs never interleave (a line longer than 64 KiB is cut there). */
    int tag_output;
    /* Optional: a host went down (up = 0; exit_code: its launcher's) or came back (up = 1). */
    void (*on_host)(uvproc_pool_t *pool, const char *host, int up, int64_t exit_code);
} uvproc_pool_hosts_t;


typedef struct uvproc_pool_options_s {
    uvproc_pool_kind_t kind;
    unsigned max_workers;     /* concurrency (command jobs) / worker processes; 0: CPU count */
    unsigned min_workers;     /* worker pools: started at once, never shrunk below */
    uint64_t idle_timeout_ms; /* worker pools: stop a worker above min idle this long; 0: 1000 */
    size_t max_queue;         /* queued (not running) jobs; 0: unbounded */
    uint64_t timeout_ms;      /* per job, from its start; 0: none (a job may override) */
    unsigned retries;         /* re-runs after a failure (non-zero exit, method error) */
    int retry_on_signal;      /* also retry jobs killed by a signal / whose worker crashed */
    uint64_t retry_delay_ms;  /* wait before a retry, doubling per retry (x64 at most); 0: none */
    uvproc_halt_t halt;
    int keep_order;     /* on_done in submission order (parallel --keep-order) */
    const char *joblog; /* append one line per finished job (parallel's format) */
    int resume;         /* with joblog: skip jobs whose Seq the log shows exited 0 */
    uvproc_stop_t stop; /* how a timeout / cancel / terminate stops a command job */

    /* Command jobs: the exec options every job gets (timeout_ms in it is ignored: use the
     * pool's), and what their output does. */
    uvproc_exec_options_t exec;
    uvproc_pool_output_t output;

    /* Worker jobs: the worker program, started with uvproc_fork (exec_path "node" for a Node
     * workerpool script). worker_fork.spawn's callbacks and .channel's are the pool's. */
    const char *worker_file;
    const char *const *worker_args;
    uvproc_fork_options_t worker_fork;
    unsigned max_jobs_per_worker; /* recycle a worker after this many jobs; 0: never */
    uint64_t max_rss_kb;          /* recycle a worker whose peak RSS (VmHWM) passed this; 0: off */
    unsigned pipeline;            /* jobs sent ahead to one worker; 0 or 1: one at a time, as
                                     workerpool. More hides the round trip (docs/pool.md). */

    void *data; /* uvproc_pool_data() */
    /* Every job once, when it finishes (in submission order with keep_order). */
    void (*on_done)(uvproc_pool_t *pool, const uvproc_pool_result_t *result);
    /* STREAM mode: `len` bytes job `id` wrote on `fd` (1 or 2), borrowed, in order, all
     * before its on_done. */
    void (*on_output)(uvproc_pool_t *pool, uint64_t id, void *job_data, int fd, const char *buf,
                      size_t len);
    /* A worker's workerEmit(payload) while running job `id` (payload borrowed). */
    void (*on_event)(uvproc_pool_t *pool, uint64_t id, void *job_data, json_t *payload);
    /* After each job finishes, counters rising. It may run inside a call you made (cancel,
     * terminate, submit): read the counters there, call nothing. */
    void (*on_progress)(uvproc_pool_t *pool, const uvproc_pool_counters_t *counters);
    /* A worker that misbehaved, or could not start (err, its pid or 0); the pool goes on. */
    void (*on_worker_error)(uvproc_pool_t *pool, int err, uv_pid_t pid);
    /* Last: every job delivered, every child reaped. The pool is freed when it returns. */
    void (*on_close)(uvproc_pool_t *pool);

    /* Scale-out: slots on several hosts, local and remote (see "Pool across hosts" at the end
     * of this header). NULL: every slot is local. Copied by uvproc_pool_new. */
    const uvproc_pool_hosts_t *hosts;
} uvproc_pool_options_t;

/* Per job; NULL means the pool's defaults. */
typedef struct {
    void *data;          /* result->data */
    uint64_t timeout_ms; /* overrides the pool's; 0: the pool's */
    const void *input;   /* command jobs in CAPTURE mode: bytes for stdin (copied) */
    size_t input_len;
} uvproc_pool_job_options_t;

/* Creates a pool on `loop` (strings of `options` are copied). Worker pools start min_workers
 * now. End it with uvproc_pool_drain or uvproc_pool_terminate: until then it keeps workers.
 * UV_EINVAL for a bad option (worker pool without worker_file, resume without joblog), or the
 * error of opening the job log. */
UVPROC_EXTERN int uvproc_pool_new(uv_loop_t *loop, uvproc_pool_t **out,
                                  const uvproc_pool_options_t *options);

/* Queues a command job (`file` + `args`, as uvproc_exec_file; copied). Returns 0 and sets *id
 * (may be NULL); UVPROC_EQUEUEFULL, UVPROC_EPOOLCLOSED, UV_EINVAL (wrong kind of pool). A job
 * that cannot start (missing program) is reported through on_done, never here. */
UVPROC_EXTERN int uvproc_pool_submit(uvproc_pool_t *pool, const char *file, const char *const *args,
                                     const uvproc_pool_job_options_t *options, uint64_t *id);
/* The same for a shell line (as uvproc_exec). */
UVPROC_EXTERN int uvproc_pool_submit_shell(uvproc_pool_t *pool, const char *command,
                                           const uvproc_pool_job_options_t *options, uint64_t *id);
/* Queues a worker job: `method` with `params` (a JSON array, borrowed; NULL: []). */
UVPROC_EXTERN int uvproc_pool_call(uvproc_pool_t *pool, const char *method, const json_t *params,
                                   const uvproc_pool_job_options_t *options, uint64_t *id);
/* Cancels job `id`: queued, it is removed; running, its process (its worker) is stopped and
 * replaced, no other job is touched. Either way on_done gets UV_ECANCELED. UV_EALREADY if it
 * finished or is already being stopped, UV_ENOENT for an unknown id. */
UVPROC_EXTERN int uvproc_pool_cancel(uvproc_pool_t *pool, uint64_t id);
/* No more submits; queued and running jobs finish, workers are told to terminate, then
 * on_close. UV_EALREADY when already draining or terminating. */
UVPROC_EXTERN int uvproc_pool_drain(uvproc_pool_t *pool);
/* The halt policy, applied now whatever `halt` says (a caller's own rule, e.g. parallel's
 * --halt soon,fail=3): UVPROC_HALT_SOON ends the queued jobs UV_ECANCELED and starts nothing
 * new (later submits end UV_ECANCELED too), running ones finish; UVPROC_HALT_NOW also stops
 * them (UV_ECANCELED). The pool still needs drain or terminate to close. UV_EINVAL for
 * UVPROC_HALT_NEVER, UV_EALREADY when already halted or terminating. */
UVPROC_EXTERN int uvproc_pool_halt(uvproc_pool_t *pool, uvproc_halt_t how);
/* No more submits; queued jobs end UV_ECANCELED, running ones are stopped (UV_ECANCELED),
 * workers killed, then on_close once every child is reaped. */
UVPROC_EXTERN int uvproc_pool_terminate(uvproc_pool_t *pool);
UVPROC_EXTERN void uvproc_pool_counters(const uvproc_pool_t *pool, uvproc_pool_counters_t *out);
UVPROC_EXTERN void *uvproc_pool_data(const uvproc_pool_t *pool);

/* Worker side (a C program that serves a uvproc pool or npm workerpool, forked with an IPC
 * channel): register methods, then uvproc_pool_serve. A method gets a call and its params
 * (a JSON array, borrowed) and completes the call exactly once, now or later, with
 * uvproc_pool_call_resolve_new or uvproc_pool_call_reject; it may uvproc_pool_call_emit_new
 * progress events before that. */
typedef struct uvproc_pool_call_s uvproc_pool_call_t;
typedef void (*uvproc_pool_method_fn)(uvproc_pool_call_t *call, json_t *params, void *data);
typedef struct {
    const char *name;
    uvproc_pool_method_fn fn;
    void *data;
} uvproc_pool_method_t;

/* Adopts the parent's channel (uvproc_channel_from_parent's errors), says "ready", serves
 * calls on `loop` until the parent sends "__workerpool-terminate__" or goes away; returns 0,
 * or 1 when the parent disconnected without telling (workerpool's worker exits 1 then).
 * When the channel cannot be adopted (not forked with one: UVPROC_ENOCHANNEL; forked with
 * serialization 'advanced': UVPROC_ESERIALIZATION) it writes one line saying so on stderr,
 * the only place the parent's user will look, and returns that negative code: exit with
 * UVPROC_POOL_SERVE_EXIT_NOCHANNEL (2) then, as docs/pool.md's example does.
 * `methods` (count n) must outlive the call. A built-in "methods" lists them, as workerpool. */
#define UVPROC_POOL_SERVE_EXIT_NOCHANNEL 2
UVPROC_EXTERN int uvproc_pool_serve(uv_loop_t *loop, const uvproc_pool_method_t *methods,
                                    size_t n);
/* Completes the call with `result` (stolen; NULL means null). The call is freed. */
UVPROC_EXTERN int uvproc_pool_call_resolve_new(uvproc_pool_call_t *call, json_t *result);
/* Completes the call with an error {name, message} (name NULL: "Error"). The call is freed. */
UVPROC_EXTERN int uvproc_pool_call_reject(uvproc_pool_call_t *call, const char *name,
                                       const char *message);
/* workerEmit: an event for the caller's on_event (payload stolen). */
UVPROC_EXTERN int uvproc_pool_call_emit_new(uvproc_pool_call_t *call, json_t *payload);
/* The call's id on the wire (the pool's job id when the parent is a uvproc pool). */
UVPROC_EXTERN int64_t uvproc_pool_call_id(const uvproc_pool_call_t *call);

#ifdef __cplusplus
}
#endif
#endif /* UVPROC_POOL_H */
