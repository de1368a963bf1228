/* The pool's internals, shared by pool.c (queue, jobs' state table, lifecycle), pool_submit.c
 * (the public calls), pool_command.c (command jobs), pool_slot.c (worker processes, their
 * state table), pool_worker.c (workerpool's protocol, parent side), pool_joblog.c (job log
 * and resume) and pool_launch.c (how a child is started). */
#ifndef UVPROC__POOL_H
#define UVPROC__POOL_H

#include "uvproc.h"
#include "common/list.h"

/* A job's states and the events that move it (pool.c has the table). */
typedef enum {
    UVPROC__JOB_QUEUED,
    UVPROC__JOB_RUNNING,
    UVPROC__JOB_STOPPING, /* we asked its process to stop (timeout, cancel, halt, terminate) */
    UVPROC__JOB_WAITING,  /* failed, waiting retry_delay_ms (backoff) before it runs again */
    UVPROC__JOB_DONE,     /* finished; with keep_order it may wait here for earlier jobs */
    UVPROC__JOB_NSTATES
} uvproc__pool_job_state_t;

typedef enum {
    UVPROC__EV_START,    /* a slot is free: run it */
    UVPROC__EV_SUCCESS,  /* exit 0 / a result */
    UVPROC__EV_FAIL,     /* it ran and failed: non-zero exit, method error, spawn error, ... */
    UVPROC__EV_CRASH,    /* killed by a signal / its worker died */
    UVPROC__EV_TIMEOUT,  /* its own timer (started when it started) */
    UVPROC__EV_CANCEL,   /* user cancel, halt or terminate (the reason travels with it) */
    UVPROC__EV_REQUEUE,  /* its worker was replaced for another job's sake: run it again */
    UVPROC__EV_NOWORKER, /* queued, and no worker could be started for it */
    UVPROC__EV_HOSTLOST, /* scale-out: its host's launcher failed; run it elsewhere (a retry) */
    UVPROC__EV_NEVENTS
} uvproc__pool_job_event_t;

typedef struct uvproc__pool_job_s uvproc__pool_job_t;
typedef struct uvproc__pool_slot_s uvproc__pool_slot_t;

struct uvproc__pool_job_s {
    uvproc_pool_t *pool;
    uint64_t id;
    uvproc__pool_job_state_t state;
    uvproc__common_list_t qnode;       /* on pool->queue while QUEUED */
    uvproc__common_list_t snode;       /* on pool->submitted: every live job, in order */
    uvproc__common_list_t dnode;       /* on pool->done (finished, not delivered) */
    uvproc__common_list_t wnode;       /* on slot->jobs while in flight on a worker */
    void *data;
    uint64_t timeout_ms;
    uv_timer_t *timer; /* NULL until a timeout is armed; closed and freed with the job */

    /* command jobs */
    char *file;  /* NULL for a shell line */
    char **argv; /* file's args (NULL-terminated) or { command, NULL } for a shell line */
    char *input;
    size_t input_len;
    uvproc_exec_t *exec;    /* CAPTURE mode, while running */
    uvproc_process_t *proc; /* INHERIT / DISCARD modes, while running */

    /* worker jobs */
    char *method;
    json_t *params;
    uvproc__pool_slot_t *slot; /* the worker running it */
    struct uvproc__pool_host_s *host; /* scale-out: the host a command job runs on, or NULL */
    struct uvproc__pool_tag_s *tag;   /* scale-out: its output's partial lines (tag_output) */

    int stop_reason; /* why we stopped it: UV_ETIMEDOUT, UV_ECANCELED */
    uvproc_pool_result_t res;
    char *res_out, *res_err; /* owned copies behind res.out / res.err */
    char *res_error_name, *res_error_message;
    uint64_t start_ns;
};

/* One worker process. */
typedef enum {
    UVPROC__SLOT_STARTING, /* forked, waiting for "ready" */
    UVPROC__SLOT_READY,    /* takes jobs (idle when jobs == 0) */
    UVPROC__SLOT_RETIRING, /* told to terminate (recycle, shrink, drain), or killed */
    UVPROC__SLOT_GONE,     /* exited; freed once its handles closed */
    UVPROC__SLOT_NSTATES
} uvproc__pool_slot_state_t;

typedef enum {
    UVPROC__SLOT_EV_READY,  /* it said "ready" */
    UVPROC__SLOT_EV_IDLE,   /* idle for idle_timeout_ms */
    UVPROC__SLOT_EV_RETIRE, /* recycle, shrink, drain: ask it to exit */
    UVPROC__SLOT_EV_KILL,   /* a job's cancel or timeout, a protocol error, terminate */
    UVPROC__SLOT_EV_LOST,   /* it hung up its channel */
    UVPROC__SLOT_EV_GRACE,  /* asked to exit, it did not within the grace period */
    UVPROC__SLOT_EV_CLOSED, /* its process closed */
    UVPROC__SLOT_EV_NEVENTS
} uvproc__pool_slot_event_t;

struct uvproc__pool_slot_s {
    uvproc_pool_t *pool;
    uvproc__common_list_t node; /* on pool->slots until freed */
    uvproc__pool_slot_state_t state;
    uvproc_process_t *proc;
    uvproc_channel_t *ch;
    uv_timer_t timer;                /* idle shrink, then the grace before SIGKILL when retiring */
    uvproc__common_list_t jobs;      /* in flight, oldest first (wnode) */
    unsigned njobs;
    unsigned served;
    int pending;           /* handles/process not yet closed */
    unsigned char killed;  /* we sent SIGKILL: its jobs are being stopped or requeued */
    unsigned char recycle; /* takes no more jobs; retires once its last one is done */
    int start_error;       /* the spawn error, if it never started */
    struct uvproc__pool_host_s *host; /* scale-out: the host it runs on, or NULL (no hosts) */
    unsigned char host_lost;     /* its launcher failed: its jobs move to other hosts */
};

struct uvproc_pool_s {
    uv_loop_t *loop;
    uvproc_pool_options_t o; /* strings below are our copies */
    char *joblog_path;
    char *worker_file;
    char **worker_args;
    char *worker_exec_path;
    char **worker_exec_args;
    void *joblog;        /* FILE *, opened append */
    uint64_t *resume_ok; /* sorted Seqs the resumed log shows done */
    size_t resume_count;
    uv_timer_t kick; /* deferred work: dispatch and close, never from inside a user's call */
    uvproc__common_list_t queue;     /* the run queue: QUEUED jobs, next to run first (qnode) */
    uvproc__common_list_t submitted; /* every live job, in submission order (snode) */
    uvproc__common_list_t done;      /* finished, not yet delivered, completion order (dnode) */
    uvproc__common_list_t slots;     /* every slot until freed (GONE ones too), newest first */
    uvproc_pool_counters_t c;
    uint64_t next_id;
    unsigned live_slots; /* slots not GONE */
    unsigned ready_slots;
    unsigned start_failures; /* workers that died before "ready", in a row */
    int start_backoff;       /* a failed start's backoff runs (pool_slot.c): no start until it ends */
    int in_api;              /* inside a user's call: deliver on the next turn */
    int in_callback;         /* delivering: on_done may submit, cancel, ... */
    int dispatching, redispatch;
    int draining, terminating, halted, closed;
    struct uvproc__pool_hosts_s *hosts; /* scale-out (pool_hosts.c), or NULL */
};

/* pool.c */
/* The run queue's head (the next job to run), or NULL when nothing is queued. */
uvproc__pool_job_t *uvproc__pool_queue_first(const uvproc_pool_t *pool);
void uvproc__pool_job_queue_push(uvproc_pool_t *pool, uvproc__pool_job_t *j, int front);
/* The halt policy's action (o.halt when a job fails, or uvproc_pool_halt): queued jobs end
 * UV_ECANCELED and nothing new starts; NOW also stops the running ones. */
void uvproc__pool_halt(uvproc_pool_t *pool, uvproc_halt_t how);
void uvproc__pool_job_finish(uvproc__pool_job_t *j, int err);
void uvproc__pool_job_free_now(uvproc__pool_job_t *j);
void uvproc__pool_release(uvproc_pool_t *pool); /* frees what uvproc_pool_new allocated */
void uvproc__pool_job_begin(uvproc__pool_job_t *j); /* it really starts: its clock and timeout */
void uvproc__pool_job_event(uvproc__pool_job_t *j, uvproc__pool_job_event_t ev, int reason);
void uvproc__pool_dispatch(uvproc_pool_t *pool);
void uvproc__pool_kick(uvproc_pool_t *pool);
/* Cancels every QUEUED and WAITING job (a retry in its backoff), and the RUNNING ones too if
 * running_too (halt now, terminate). */
void uvproc__pool_cancel_unfinished(uvproc_pool_t *pool, int running_too);
uint64_t uvproc__pool_now_ns(void);

/* pool_command.c: start a command job; its end arrives as job events. */
int uvproc__pool_command_start(uvproc__pool_job_t *j);
void uvproc__pool_command_stop(uvproc__pool_job_t *j);

/* pool_slot.c: worker processes, their state table */
void uvproc__pool_slot_event(uvproc__pool_slot_t *s, uvproc__pool_slot_event_t ev);
void uvproc__pool_slot_arm_idle(uvproc__pool_slot_t *s);

/* pool_worker.c */
/* What a worker's message is (workerpool's protocol); *id is its id (0 without one). Pure:
 * the fuzz target test/fuzz/fuzz_pool_reply.c calls it on any bytes a worker could send. */
typedef enum {
    UVPROC__REPLY_READY,   /* the string "ready" */
    UVPROC__REPLY_CLEANUP, /* {"id","method":"__workerpool-cleanup__"} */
    UVPROC__REPLY_EVENT,   /* {"id","isEvent":true,"payload"} */
    UVPROC__REPLY_RESULT,  /* {"id","result"} (error absent or null) */
    UVPROC__REPLY_ERROR,   /* {"id","error"} */
    UVPROC__REPLY_BAD      /* anything else: a protocol error */
} uvproc__pool_reply_t;
uvproc__pool_reply_t uvproc__pool_worker_reply_kind(const json_t *msg, json_int_t *id);
/* An error reply's name: its "name", or the word before the first ':' of its "stack" (a
 * Node Error's own properties), malloc'd; NULL when neither. */
char *uvproc__pool_worker_error_name(const json_t *error);
void uvproc__pool_worker_channel_events(uvproc_channel_options_t *o, uvproc__pool_slot_t *s);
int uvproc__pool_worker_send(uvproc__pool_job_t *j); /* START of a worker job: send the request */
int uvproc__pool_worker_assign(uvproc_pool_t *pool); /* hand queued jobs to ready workers */
void uvproc__pool_worker_grow(uvproc_pool_t *pool);  /* start workers the queue needs */
void uvproc__pool_worker_stop_job(uvproc__pool_job_t *j); /* kill the job's worker for its sake */
void uvproc__pool_worker_retire_all(uvproc_pool_t *pool, int kill);
/* The oldest job in flight on the worker (the one it is running), or NULL. */
uvproc__pool_job_t *uvproc__pool_worker_first_job(const uvproc__pool_slot_t *s);
void uvproc__pool_worker_job_left(
    uvproc__pool_job_t *j); /* unlink a finished job from its worker */

/* pool_launch.c: HOW a worker or a command is started: the one place a remote launcher
 * prefix (ssh host --, srun) plugs in. */
int uvproc__pool_launch_worker(uvproc_pool_t *pool, uvproc__pool_slot_t *s,
                          const uvproc_fork_options_t *events);
int uvproc__pool_launch_command(uvproc__pool_job_t *j, uvproc_exec_cb cb,
                                const uvproc_process_events_t *events);

/* pool_hosts.c: scale-out. Hosts with slots, each UP, DOWN (backoff) or PROBING, as a
 * state x event table; the launcher each slot or command job gets. All are no-ops (NULL
 * host, the pool's max_workers) for a pool without hosts. */
int uvproc__pool_hosts_init(uvproc_pool_t *pool, const uvproc_pool_options_t *options);
void uvproc__pool_hosts_close(uvproc_pool_t *pool); /* at the pool's close: timer, memory */
/* How many slots (workers serving, or commands running) the pool may have now. */
unsigned uvproc__pool_hosts_capacity(uvproc_pool_t *pool);
/* Picks the host for a new worker or command job: *remote is the launcher to use (NULL:
 * local); the choice is recorded in s->host / j->host. UV_EAGAIN: no host has room. */
int uvproc__pool_hosts_pick_worker(uvproc__pool_slot_t *s, const uvproc_remote_t **remote);
int uvproc__pool_hosts_pick_command(uvproc__pool_job_t *j, const uvproc_remote_t **remote);
/* A worker said "ready": its host works. */
void uvproc__pool_hosts_worker_ready(uvproc__pool_slot_t *s);
/* A worker's process closed with this exit: returns 1 (and sets s->host_lost) when its
 * launcher failed, which marks the host down. */
int uvproc__pool_hosts_worker_closed(uvproc__pool_slot_t *s, int64_t code, int signal);
/* A command job's process ended (or never started: started = 0): frees its host slot;
 * returns 1 when its launcher failed (the job must move: UVPROC__EV_HOSTLOST). */
int uvproc__pool_hosts_command_ended(uvproc__pool_job_t *j, int started, int64_t code, int signal);
/* INHERIT-mode command jobs of a pool whose hosts ask for tag_output: turns stdout and stderr
 * into pipes whose lines go to the pool's own fds 1 and 2 with "HOST\t" in front. */
void uvproc__pool_hosts_tag_output(uvproc__pool_job_t *j,
                                   uvproc_spawn_options_t *so); /* pool_tag.c */
void uvproc__pool_hosts_tag_free(
    uvproc__pool_job_t *j); /* its buffers, once the job's process is gone */
int uvproc__pool_hosts_tagging(const uvproc_pool_t *pool); /* the pool's hosts ask for tag_output */
/* The host is reached through a launcher (NULL and ":" are not). */
int uvproc__pool_hosts_is_remote(const struct uvproc__pool_host_s *h);
/* The host's name for results, or NULL. */
const char *uvproc__pool_hosts_name(const struct uvproc__pool_host_s *h);
/* How many hosts the pool has (0 without hosts). */
unsigned uvproc__pool_hosts_count(const uvproc_pool_t *pool);

/* pool_joblog.c */
int uvproc__pool_joblog_open(uvproc_pool_t *pool);
int uvproc__pool_joblog_read(uvproc_pool_t *pool, void *file); /* FILE *: what resume reads */
void uvproc__pool_joblog_write(uvproc_pool_t *pool, const uvproc__pool_job_t *j);
int uvproc__pool_joblog_done_before(const uvproc_pool_t *pool, uint64_t id);
void uvproc__pool_joblog_close(uvproc_pool_t *pool);

#endif
