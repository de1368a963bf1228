/* The primary's internals shared by cluster.c (worker slots, the state table, the public API)
 * and cluster_handle.c (the shared listening sockets, both policies). Not public. */
#ifndef UVPROC__CLUSTER_H
#define UVPROC__CLUSTER_H

#include "cluster_proto.h"
#include "common/fifo.h"
#include "common/list.h"
#include "uvproc.h"

typedef struct uvproc__cluster_handle_s uvproc__cluster_handle_t;

struct uvproc_cluster_worker_s {
    uvproc_cluster_t *cluster;
    uvproc_cluster_worker_state_t state;
    unsigned id; /* NODE_UNIQUE_ID of the current process */
    uvproc_process_t *proc;
    uvproc__cluster_peer_t peer; /* peer.ch: the channel while connected */
    uv_timer_t timer;            /* backoff delay, or the stop grace period */
    uint64_t started_ms, exited_ms;
    unsigned restarts;     /* in the slot's lifetime */
    unsigned streak;       /* restarts since the delay was last reset */
    unsigned window_count; /* restarts in the current crash-loop window */
    uint64_t window_start_ms;
    uint64_t next_delay_ms;
    int voluntary; /* exitedAfterDisconnect: this exit is wanted */
    int64_t exit_code;
    int exit_signal;
    int has_usage, usage_err;
    struct rusage usage;
    uvproc__common_fifo_t pending; /* events raised while a cell runs (a json_t ref each) */
    int dispatching;
    uvproc_cluster_worker_t *replaces; /* reload: the old slot this one takes over from */
    uvproc__common_list_t node; /* on the cluster's workers list */
};

/* The slot whose node `n` is. */
#define UVPROC__CLUSTER_WORKER(n) uvproc__common_list_entry(n, uvproc_cluster_worker_t, node)

struct uvproc_cluster_s {
    uv_loop_t *loop;
    uvproc_cluster_options_t o;
    char *file;
    char **args;
    char **env; /* user env + NODE_UNIQUE_ID slot (last entry before NULL) */
    size_t env_len;
    uvproc_env_mode_t env_mode;
    char *exec_path, **exec_args, *cwd, *argv0; /* copies of the fork options' strings */
    uvproc_stdio_t *extra_stdio;                /* and of its extra stdio slots */
    unsigned nslots; /* allocated slots, freed ones not yet counted down */
    int pdeath;      /* workers get kill_on_parent_death (where the kernel can) */
    unsigned next_id;
    unsigned target; /* workers wanted */
    uvproc__common_list_t workers; /* every slot not yet freed, newest first */
    uvproc__common_list_t handles; /* newest first; zeroed = empty (cluster_handle.c) */
    int stopping;
    void (*stop_cb)(uvproc_cluster_t *c, void *data);
    void *stop_data;
    /* reload */
    int reloading;
    uvproc_cluster_worker_t **reload_old;
    size_t reload_count, reload_next;
    uvproc_cluster_worker_t *reload_new;
    void (*reload_cb)(uvproc_cluster_t *c, int status, void *data);
    void *reload_data;
    int pending_closes; /* handles still closing */
    uv_idle_t finisher; /* ends the stop on a clean stack */
    /* the service side: cluster_activation.c, cluster_upgrade.c, cluster_metrics.c */
    int *inherited; /* listen_fds not yet taken by a handle (-1 once taken) */
    size_t ninherited;
    struct uvproc__cluster_upgrade_s *upgrade; /* the upgrade under way, or NULL */
    uint64_t started_ms;
    struct {
        uint64_t forks, exits, restarts, crash_loops, reloads, reload_failures, upgrades,
            upgrade_failures;
    } count;
};

/* cluster_handle.c */

/* A worker's queryServer: finds or creates the handle for its key and answers the worker. */
void uvproc__cluster_query_server(uvproc_cluster_worker_t *w, json_t *msg);
/* A worker's act:'close' for a key. */
void uvproc__cluster_close_server(uvproc_cluster_worker_t *w, json_t *msg);
/* The worker gets no more connections (disconnecting, gone). */
void uvproc__cluster_forget_worker(uvproc_cluster_worker_t *w);
/* The slot will not be restarted: the handles kept for its replacement close. */
void uvproc__cluster_release_orphans(uvproc_cluster_worker_t *w);
/* Closes every listening socket; uvproc__cluster_handles_closed() when the last one has. */
void uvproc__cluster_close_handles(uvproc_cluster_t *c);
/* Frees them all, once closed (the cluster's end). */
void uvproc__cluster_free_handles(uvproc_cluster_t *c);

/* cluster.c: the slot table. Everything that happens to a slot is one of these events. */
typedef enum {
    UVPROC__EV_ONLINE,
    UVPROC__EV_LISTENING,
    UVPROC__EV_DISCONNECT,
    UVPROC__EV_EXIT,
    UVPROC__EV_STOP,
    UVPROC__EV_TIMER,
    UVPROC__EV_COUNT
} uvproc__cluster_event_t;

/* Runs the table's cell for (w's state, ev); may free w (when it ends DEAD). */
void uvproc__cluster_event(uvproc_cluster_worker_t *w, uvproc__cluster_event_t ev, json_t *msg);
/* A new slot with a worker starting; NULL if it failed at once (already reported). */
uvproc_cluster_worker_t *uvproc__cluster_add_worker(uvproc_cluster_t *c);
/* Runs per cell of the state x event table ([state][event], events in the table's column
 * order: online, listening, disconnect, exit, stop, timer), for the tests. */
extern unsigned long uvproc__cluster_cells[6][6];

/* cluster_activation.c: the sockets the cluster was given (listen_fds). */
int uvproc__cluster_inherit(uvproc_cluster_t *c, const int *fds, size_t n);
/* An inherited socket bound where this query asks (address NULL: the cluster's host), taken
 * out of the list; -1 when none. */
int uvproc__cluster_take_inherited(uvproc_cluster_t *c, const char *address, int port,
                                   int address_type);
/* Closes the ones never taken (the cluster's end). */
void uvproc__cluster_close_inherited(uvproc_cluster_t *c);

/* cluster_handle.c: the fds of every open listening socket, up to max; returns the count. */
size_t uvproc__cluster_handle_fds(uvproc_cluster_t *c, int *fds, size_t max);

/* cluster_upgrade.c: a stop cancels an upgrade under way (its new primary is killed). */
void uvproc__cluster_upgrade_cancel(uvproc_cluster_t *c);

/* cluster_control.c: what slots tell the cluster. */
void uvproc__cluster_handles_closed(uvproc_cluster_t *c);
/* A slot reached LISTENING: if it is a reload's replacement, the reload moves on. */
void uvproc__cluster_reload_ready(uvproc_cluster_t *c, uvproc_cluster_worker_t *w);
void uvproc__cluster_reload_end(uvproc_cluster_t *c, int status);
/* A slot was freed: a stop may be complete. */
void uvproc__cluster_maybe_finish(uvproc_cluster_t *c);
void uvproc__cluster_report(uvproc_cluster_worker_t *w, int err, json_t *msg);

#endif
