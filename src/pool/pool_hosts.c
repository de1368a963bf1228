/* Pool across hosts: slots on several hosts (GNU parallel's "4/host,2/:"), remote ones started
 * through a launcher prefix with the channel over stdio. Each host is supervised as a state x
 * event table (as s6-supervise does):
 *
 *              FAILED (launcher exit 255)   OK (worker ready, command ran)   EXPIRED (backoff)
 *   UP         -> DOWN, backoff             stays                            impossible
 *   DOWN       stays (a slot started        -> UP (a start from before the   -> PROBING
 *              before the failure failing)  failure went through)
 *   PROBING    -> DOWN, backoff x2          -> UP, backoff reset             impossible
 *
 * A DOWN host takes no new work; a PROBING one takes one slot. The slots a down host still
 * holds (their launchers not yet seen to exit) keep counting until they do, so that capacity
 * never promises a slot no host has. One timer serves every host: it is armed for the
 * earliest end of a backoff. */
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "pool.h"

#define MAX_HOSTS 1024
#define MAX_SLOTS 4096

typedef enum { HOST_UP, HOST_DOWN, HOST_PROBING, HOST_NSTATES } host_state_t;
typedef enum { HOST_FAILED, HOST_OK, HOST_EXPIRED, HOST_NEVENTS } host_event_t;

typedef struct uvproc__pool_host_s {
    struct uvproc__pool_hosts_s *all;
    char *name;
    unsigned slots;
    unsigned commands; /* command jobs running on it */
    host_state_t state;
    uint64_t backoff_ms;
    uint64_t until_ms;      /* DOWN: when the backoff ends (uv_now) */
    unsigned failures;      /* in a row */
    uvproc_remote_t remote; /* launcher NULL: local */
    char **launcher;
} uvproc__host_t;

typedef struct uvproc__pool_hosts_s {
    uvproc_pool_t *pool;
    uv_timer_t timer;
    int timer_init;
    uvproc_pool_hosts_t o; /* copies of the strings below */
    char **env;
    char *cwd, *relay;
    size_t n;
    uvproc__host_t h[];
} uvproc__hosts_t;

/* ---- the table ---- */

static void host_arm_timer(uvproc__hosts_t *all);

static void host_report(uvproc__host_t *h, int up, int64_t code)
{
    uvproc_pool_t *pool = h->all->pool;
    if (h->all->o.on_host != NULL)
        h->all->o.on_host(pool, h->name, up, code);
    uvproc__pool_kick(pool); /* capacity changed: dispatch again */
}

static void act_none(uvproc__host_t *h, int64_t code)
{
    (void)h;
    (void)code;
}

static void act_down(uvproc__host_t *h, int64_t code)
{
    const uvproc_pool_hosts_t *o = &h->all->o;
    h->backoff_ms = h->failures == 0 ? o->backoff_ms : h->backoff_ms * 2;
    if (h->backoff_ms > o->backoff_max_ms)
        h->backoff_ms = o->backoff_max_ms;
    h->failures++;
    h->state = HOST_DOWN;
    h->until_ms = uv_now(h->all->pool->loop) + h->backoff_ms;
    host_arm_timer(h->all);
    host_report(h, 0, code);
}

static void act_up(uvproc__host_t *h, int64_t code)
{
    int was_down = h->state != HOST_UP;
    (void)code;
    h->state = HOST_UP;
    h->failures = 0;
    h->backoff_ms = 0;
    if (was_down)
        host_report(h, 1, 0);
}

static void act_probe(uvproc__host_t *h, int64_t code)
{
    (void)code;
    h->state = HOST_PROBING;
    uvproc__pool_kick(h->all->pool);
}

typedef void (*host_action_t)(uvproc__host_t *h, int64_t code);

/* Every cell. The timer only expires DOWN hosts, so EXPIRED never reaches UP or PROBING
 * (act_none there); test_remote_pool.c reaches every other cell. */
static const host_action_t host_table[HOST_NSTATES][HOST_NEVENTS] = {
    [HOST_UP] = {[HOST_FAILED] = act_down, [HOST_OK] = act_none, [HOST_EXPIRED] = act_none},
    [HOST_DOWN] = {[HOST_FAILED] = act_none, [HOST_OK] = act_up, [HOST_EXPIRED] = act_probe},
    [HOST_PROBING] = {[HOST_FAILED] = act_down, [HOST_OK] = act_up, [HOST_EXPIRED] = act_none},
};

static void host_event(uvproc__host_t *h, host_event_t ev, int64_t code)
{
    host_table[h->state][ev](h, code);
}

static void host_timer_cb(uv_timer_t *t)
{
    uvproc__hosts_t *all = t->data;
    uint64_t now = uv_now(all->pool->loop);
    for (size_t i = 0; i < all->n; i++)
        if (all->h[i].state == HOST_DOWN && all->h[i].until_ms <= now)
            host_event(&all->h[i], HOST_EXPIRED, 0);
    host_arm_timer(all);
}

static void host_arm_timer(uvproc__hosts_t *all)
{
    uint64_t now = uv_now(all->pool->loop), next = UINT64_MAX;
    for (size_t i = 0; i < all->n; i++)
        if (all->h[i].state == HOST_DOWN && all->h[i].until_ms < next)
            next = all->h[i].until_ms;
    if (!all->timer_init)
        return;
    if (next == UINT64_MAX)
        uv_timer_stop(&all->timer);
    else
        uv_timer_start(&all->timer, host_timer_cb, next > now ? next - now : 0, 0);
}

/* ---- slots per host ---- */

/* New work a host may take in its state. */
static unsigned host_limit(const uvproc__host_t *h)
{
    return h->state == HOST_UP ? h->slots : h->state == HOST_PROBING ? 1 : 0;
}

/* Worker pools count serving slots (starting, or ready and not being recycled), as the pool's
 * own growth does; command pools their running jobs. */
static unsigned host_used(const uvproc__host_t *h)
{
    const uvproc_pool_t *pool = h->all->pool;
    const uvproc__common_list_t *n;
    unsigned used = 0;
    if (pool->o.kind == UVPROC_POOL_COMMANDS)
        return h->commands;
    uvproc__common_list_foreach(n, &pool->slots) {
        const uvproc__pool_slot_t *s = uvproc__common_list_entry(n, uvproc__pool_slot_t, node);
        if (s->host == h &&
            (s->state == UVPROC__SLOT_STARTING || (s->state == UVPROC__SLOT_READY && !s->recycle)))
            used++;
    }
    return used;
}

unsigned uvproc__pool_hosts_capacity(uvproc_pool_t *pool)
{
    uvproc__hosts_t *all = pool->hosts;
    unsigned cap = 0;
    if (all == NULL)
        return pool->o.max_workers;
    for (size_t i = 0; i < all->n; i++) {
        unsigned used = host_used(&all->h[i]), limit = host_limit(&all->h[i]);
        cap += used > limit ? used : limit;
    }
    return cap;
}

/* The host with room and the lowest load (used / slots), the first of equals. */
static uvproc__host_t *host_pick(uvproc__hosts_t *all)
{
    uvproc__host_t *best = NULL;
    unsigned best_used = 0;
    for (size_t i = 0; i < all->n; i++) {
        uvproc__host_t *h = &all->h[i];
        unsigned used = host_used(h);
        if (used >= host_limit(h))
            continue;
        if (best == NULL || (uint64_t)used * best->slots < (uint64_t)best_used * h->slots) {
            best = h;
            best_used = used;
        }
    }
    return best;
}

int uvproc__pool_hosts_pick_worker(uvproc__pool_slot_t *s, const uvproc_remote_t **remote)
{
    *remote = NULL;
    if (s->pool->hosts == NULL)
        return 0;
    s->host = host_pick(s->pool->hosts);
    if (s->host == NULL)
        return UV_EAGAIN;
    *remote = s->host->launcher != NULL ? &s->host->remote : NULL;
    return 0;
}

int uvproc__pool_hosts_pick_command(uvproc__pool_job_t *j, const uvproc_remote_t **remote)
{
    *remote = NULL;
    j->host = NULL;
    if (j->pool->hosts == NULL)
        return 0;
    j->host = host_pick(j->pool->hosts);
    if (j->host == NULL)
        return UV_EAGAIN;
    j->host->commands++;
    j->res.host = j->host->name;
    *remote = j->host->launcher != NULL ? &j->host->remote : NULL;
    return 0;
}

static int launcher_failed(const uvproc__host_t *h, int64_t code, int signal)
{
    return h != NULL && h->launcher != NULL && signal == 0 && code == h->all->o.failure_exit_code;
}

void uvproc__pool_hosts_worker_ready(uvproc__pool_slot_t *s)
{
    if (s->host != NULL)
        host_event(s->host, HOST_OK, 0);
}

int uvproc__pool_hosts_worker_closed(uvproc__pool_slot_t *s, int64_t code, int signal)
{
    if (!launcher_failed(s->host, code, signal))
        return 0;
    s->host_lost = 1;
    host_event(s->host, HOST_FAILED, code);
    return 1;
}

int uvproc__pool_hosts_command_ended(uvproc__pool_job_t *j, int started, int64_t code, int signal)
{
    uvproc__host_t *h = j->host;
    uvproc__pool_hosts_tag_free(j);
    if (h == NULL)
        return 0;
    j->host = NULL;
    h->commands--;
    if (!started)
        return 0;
    if (launcher_failed(h, code, signal)) {
        host_event(h, HOST_FAILED, code);
        return 1;
    }
    host_event(h, HOST_OK, code);
    return 0;
}

int uvproc__pool_hosts_tagging(const uvproc_pool_t *pool)
{
    return pool->hosts != NULL && pool->hosts->o.tag_output;
}

int uvproc__pool_hosts_is_remote(const struct uvproc__pool_host_s *h)
{
    return h != NULL && h->launcher != NULL;
}

const char *uvproc__pool_hosts_name(const struct uvproc__pool_host_s *h)
{
    return h != NULL ? h->name : NULL;
}

unsigned uvproc__pool_hosts_count(const uvproc_pool_t *pool)
{
    return pool->hosts != NULL ? (unsigned)pool->hosts->n : 0;
}

/* ---- set-up and teardown ---- */

static void hosts_free(uvproc__hosts_t *all)
{
    for (size_t i = 0; i < all->n; i++) {
        free(all->h[i].name);
        uvproc__common_strv_free(all->h[i].launcher);
    }
    uvproc__common_strv_free(all->env);
    free(all->cwd);
    free(all->relay);
    free(all);
}

static void hosts_timer_closed(uv_handle_t *h)
{
    hosts_free(h->data);
}

void uvproc__pool_hosts_close(uvproc_pool_t *pool)
{
    uvproc__hosts_t *all = pool->hosts;
    if (all == NULL)
        return;
    pool->hosts = NULL;
    if (all->timer_init)
        uv_close((uv_handle_t *)&all->timer, hosts_timer_closed);
    else
        hosts_free(all);
}

static size_t count_entries(const char *spec)
{
    size_t n = 1;
    for (const char *c = spec; *c != '\0'; c++)
        n += *c == ',';
    return n;
}

/* One "[N/]NAME" of the spec (len bytes at e) into h. */
static int parse_entry(const char *e, size_t len, uvproc__host_t *h)
{
    const char *slash = memchr(e, '/', len);
    unsigned long slots = 1;
    if (slash != NULL) {
        char *end;
        slots = strtoul(e, &end, 10);
        if (end != slash || slash == e || slots == 0 || slots > MAX_SLOTS)
            return UV_EINVAL;
        len -= (size_t)(slash + 1 - e);
        e = slash + 1;
    }
    while (len > 0 && (*e == ' ' || *e == '\t')) {
        e++;
        len--;
    }
    while (len > 0 && (e[len - 1] == ' ' || e[len - 1] == '\t'))
        len--;
    if (len == 0)
        return UV_EINVAL;
    h->name = strndup(e, len);
    h->slots = (unsigned)slots;
    return h->name != NULL ? 0 : UV_ENOMEM;
}

/* launcher + name: the host's whole launcher argv. */
static int host_launcher(uvproc__host_t *h, const char *const *launcher)
{
    static const char *const ssh[] = {"ssh", NULL};
    size_t n = 0;
    if (strcmp(h->name, ":") == 0)
        return 0;
    if (launcher == NULL)
        launcher = ssh;
    while (launcher[n] != NULL)
        n++;
    if (n == 0)
        return UV_EINVAL;
    /* Room for one more entry: the name goes there. */
    h->launcher = uvproc__common_strv_dup(NULL, launcher, 1);
    if (h->launcher == NULL || (h->launcher[n] = strdup(h->name)) == NULL)
        return UV_ENOMEM;
    return 0;
}

int uvproc__pool_hosts_init(uvproc_pool_t *pool, const uvproc_pool_options_t *options)
{
    const uvproc_pool_hosts_t *o = options->hosts;
    uvproc__hosts_t *all;
    size_t n;
    unsigned total = 0;
    int err = 0;

    if (o == NULL)
        return 0;
    if (o->spec == NULL || o->spec[0] == '\0' || o->failure_exit_code < 0 ||
        o->failure_exit_code > 255)
        return UV_EINVAL;
    n = count_entries(o->spec);
    if (n > MAX_HOSTS)
        return UV_EINVAL;
    all = calloc(1, sizeof *all + n * sizeof all->h[0]);
    if (all == NULL)
        return UV_ENOMEM;
    all->pool = pool;
    all->o = *o;
    all->o.spec = NULL;
    if (all->o.failure_exit_code == 0)
        all->o.failure_exit_code = 255;
    if (all->o.backoff_ms == 0)
        all->o.backoff_ms = 1000;
    if (all->o.backoff_max_ms == 0)
        all->o.backoff_max_ms = 30000;
    if (all->o.backoff_max_ms < all->o.backoff_ms)
        all->o.backoff_max_ms = all->o.backoff_ms;
    all->env = o->remote.env != NULL ? uvproc__common_strv_dup(NULL, o->remote.env, 0) : NULL;
    all->cwd = o->remote.cwd != NULL ? strdup(o->remote.cwd) : NULL;
    all->relay = o->remote.relay != NULL ? strdup(o->remote.relay) : NULL;
    if ((o->remote.env != NULL && all->env == NULL) || (o->remote.cwd != NULL && !all->cwd) ||
        (o->remote.relay != NULL && !all->relay))
        err = UV_ENOMEM;
    for (const char *e = o->spec; err == 0 && all->n < n; all->n++) {
        const char *end = strchr(e, ',');
        size_t len = end != NULL ? (size_t)(end - e) : strlen(e);
        uvproc__host_t *h = &all->h[all->n];
        h->all = all;
        err = parse_entry(e, len, h);
        if (err == 0)
            err = host_launcher(h, o->launcher);
        h->remote = (uvproc_remote_t){
            .launcher = (const char *const *)h->launcher,
            .quote = o->remote.quote,
            .cwd = all->cwd,
            .env = (const char *const *)all->env,
            /* The relay serves forked workers; a command runs as it is. */
            .relay = pool->o.kind == UVPROC_POOL_WORKERS ? all->relay : NULL,
        };
        total += h->slots;
        e = end != NULL ? end + 1 : e + len;
    }
    if (err != 0) {
        hosts_free(all);
        return err;
    }
    uv_timer_init(pool->loop, &all->timer);
    all->timer.data = all;
    all->timer_init = 1;
    pool->hosts = all;
    /* The slots replace max_workers (and what it clamped min_workers to). */
    pool->o.max_workers = total;
    pool->o.min_workers = options->min_workers < total ? options->min_workers : total;
    return 0;
}
