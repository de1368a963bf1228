/* An event recorder for the spawn tests: every callback of a process is logged in order
 * ("spawn data1 end1 exit close"), output is kept per fd, and the promises that hold for every
 * process are checked as the events come (the right process pointer, no data before spawn or
 * after end, exit at most once, nothing after close). Tests hook in where they need to act.
 *
 *   rec_t r;
 *   uvproc_spawn_options_t o = rec_init(&r);
 *   CHECK_OK(uvproc_spawn(&loop, &r.p, CHILD_HELPER, args, &o));
 *   CHECK_LOOP_CLOSE(&loop);
 *   CHECK_STR(r.log, "spawn data1 end1 end2 exit close"); */
#ifndef UVPROC_TEST_SPAWN_REC_H
#define UVPROC_TEST_SPAWN_REC_H

#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <sys/stat.h>

#include "check.h"
#include "uvproc.h"

#ifndef CHILD_HELPER
#error "CHILD_HELPER must name the test/helpers/child executable"
#endif

#define REC_FDS 8

typedef struct {
    char *bytes; /* NUL-terminated for convenience; len counts the real bytes */
    size_t len, cap;
} rec_buf_t;

typedef struct rec_s rec_t;
struct rec_s {
    uvproc_process_t *p; /* set by the test from uvproc_spawn's out */
    uv_pid_t pid;        /* uvproc_pid() at the spawn event */
    char log[2048];
    rec_buf_t out[REC_FDS];
    int ended[REC_FDS], end_status[REC_FDS];
    int nspawn, nerror, nexit, nclose, ndrain;
    int64_t exit_code, close_code;
    int exit_signal, close_signal;
    uvproc_error_t err; /* copied strings below */
    char err_syscall[64], err_path[4096];
    /* Hooks, called after the event was recorded. */
    void (*after_spawn)(rec_t *r);
    void (*after_data)(rec_t *r, int fd, const char *buf, size_t len);
    void (*after_end)(rec_t *r, int fd);
    void (*after_drain)(rec_t *r, int fd);
    void (*after_exit)(rec_t *r);
    void (*after_close)(rec_t *r);
    void *user;
};

static inline void rec_log_(rec_t *r, const char *ev)
{
    size_t len = strlen(r->log);
    CHECK(len + strlen(ev) + 2 < sizeof r->log);
    snprintf(r->log + len, sizeof r->log - len, "%s%s", len ? " " : "", ev);
}

/* The last logged event is `ev`. */
static inline int rec_last_is_(const rec_t *r, const char *ev)
{
    size_t len = strlen(r->log), elen = strlen(ev);
    return len >= elen && strcmp(r->log + len - elen, ev) == 0 &&
           (len == elen || r->log[len - elen - 1] == ' ');
}

static inline void rec_append(rec_buf_t *b, const char *buf, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len + 1)
            cap *= 2;
        b->bytes = realloc(b->bytes, cap);
        CHECK(b->bytes != NULL);
        b->cap = cap;
    }
    memcpy(b->bytes + b->len, buf, len);
    b->len += len;
    b->bytes[b->len] = '\0';
}

/* Output of fd so far, as a string ("" when none). */
static inline const char *rec_out(const rec_t *r, int fd)
{
    return r->out[fd].bytes != NULL ? r->out[fd].bytes : "";
}

static inline void rec_free(rec_t *r)
{
    for (int i = 0; i < REC_FDS; i++)
        free(r->out[i].bytes);
    memset(r->out, 0, sizeof r->out);
}

/* Position of event `ev` in the log (0-based word index), or -1. */
static inline int rec_index(const rec_t *r, const char *ev)
{
    char copy[sizeof r->log];
    char *save = NULL;
    int i = 0;
    strcpy(copy, r->log);
    for (char *w = strtok_r(copy, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save), i++)
        if (strcmp(w, ev) == 0)
            return i;
    return -1;
}

static inline void rec_on_spawn_(uvproc_process_t *p)
{
    rec_t *r = uvproc_process_data(p);
    CHECK(p == r->p);
    CHECK_EQ(r->nspawn + r->nerror + r->nexit + r->nclose, 0);
    r->nspawn++;
    r->pid = uvproc_pid(p);
    CHECK(r->pid > 0);
    rec_log_(r, "spawn");
    if (r->after_spawn != NULL)
        r->after_spawn(r);
}

static inline void rec_on_error_(uvproc_process_t *p, const uvproc_error_t *e)
{
    rec_t *r = uvproc_process_data(p);
    CHECK(p == r->p);
    CHECK_EQ(r->nclose, 0);
    r->nerror++;
    r->err = *e;
    CHECK(e->code < 0);
    snprintf(r->err_syscall, sizeof r->err_syscall, "%s", e->syscall ? e->syscall : "(null)");
    snprintf(r->err_path, sizeof r->err_path, "%s", e->path ? e->path : "(null)");
    r->err.syscall = r->err_syscall;
    r->err.path = r->err_path;
    rec_log_(r, "error");
}

static inline void rec_on_data_(uvproc_process_t *p, int fd, const char *buf, size_t len)
{
    rec_t *r = uvproc_process_data(p);
    char ev[16];
    CHECK(p == r->p);
    CHECK(fd > 0 && fd < REC_FDS);
    CHECK(len > 0);
    CHECK_EQ(r->nspawn, 1);
    CHECK_EQ(r->ended[fd], 0);
    CHECK_EQ(r->nclose, 0);
    rec_append(&r->out[fd], buf, len);
    snprintf(ev, sizeof ev, "data%d", fd);
    /* Consecutive chunks of one fd are one event: how the kernel splits them is not ours. */
    if (!rec_last_is_(r, ev))
        rec_log_(r, ev);
    if (r->after_data != NULL)
        r->after_data(r, fd, buf, len);
}

static inline void rec_on_end_(uvproc_process_t *p, int fd, int status)
{
    rec_t *r = uvproc_process_data(p);
    char ev[16];
    CHECK(p == r->p);
    CHECK(fd > 0 && fd < REC_FDS);
    CHECK_EQ(r->nspawn, 1);
    CHECK_EQ(r->ended[fd], 0);
    CHECK_EQ(r->nclose, 0);
    r->ended[fd] = 1;
    r->end_status[fd] = status;
    snprintf(ev, sizeof ev, "end%d", fd);
    rec_log_(r, ev);
    if (r->after_end != NULL)
        r->after_end(r, fd);
}

static inline void rec_on_drain_(uvproc_process_t *p, int fd)
{
    rec_t *r = uvproc_process_data(p);
    CHECK(p == r->p);
    CHECK_EQ(r->nclose, 0);
    r->ndrain++;
    if (r->after_drain != NULL)
        r->after_drain(r, fd);
}

static inline void rec_on_exit_(uvproc_process_t *p, int64_t code, int signal)
{
    rec_t *r = uvproc_process_data(p);
    CHECK(p == r->p);
    CHECK_EQ(r->nspawn, 1);
    CHECK_EQ(r->nexit, 0);
    CHECK_EQ(r->nclose, 0);
    r->nexit++;
    r->exit_code = code;
    r->exit_signal = signal;
    /* Exactly one of the two is meaningful, as Node's (code, signal). */
    CHECK(signal == 0 ? code >= 0 : code == -1);
    CHECK(uvproc_exited(p));
    CHECK_EQ(uvproc_exit_code(p), code);
    CHECK_EQ(uvproc_term_signal(p), signal);
    rec_log_(r, "exit");
    if (r->after_exit != NULL)
        r->after_exit(r);
}

static inline void rec_on_close_(uvproc_process_t *p, int64_t code, int signal)
{
    rec_t *r = uvproc_process_data(p);
    CHECK(p == r->p);
    CHECK_EQ(r->nclose, 0);
    /* Either it ran (spawn, exit) or it failed (error), never both. */
    CHECK_EQ(r->nspawn + r->nerror, 1);
    CHECK_EQ(r->nexit, r->nspawn);
    r->nclose++;
    r->close_code = code;
    r->close_signal = signal;
    rec_log_(r, "close");
    if (r->after_close != NULL)
        r->after_close(r);
}

static inline uvproc_spawn_options_t rec_init(rec_t *r)
{
    memset(r, 0, sizeof *r);
    r->exit_code = r->close_code = -99;
    r->exit_signal = r->close_signal = -99;
    return (uvproc_spawn_options_t){
        .data = r,
        .on_spawn = rec_on_spawn_,
        .on_error = rec_on_error_,
        .on_data = rec_on_data_,
        .on_end = rec_on_end_,
        .on_drain = rec_on_drain_,
        .on_exit = rec_on_exit_,
        .on_close = rec_on_close_,
    };
}

/* Runs `file` with `args` on a loop of its own until the loop closes (close delivered). */
static inline void rec_run_file(rec_t *r, const uvproc_spawn_options_t *o, const char *file,
                                const char *const *args)
{
    uv_loop_t loop;
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_spawn(&loop, &r->p, file, args, o));
    CHECK(r->p != NULL);
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(r->nclose, 1);
}

/* The same with CHILD_HELPER, whose first argument is the mode. */
static inline void rec_run(rec_t *r, const uvproc_spawn_options_t *o, const char *const *args)
{
    rec_run_file(r, o, CHILD_HELPER, args);
}

/* The byte `write N` puts at offset i, and FNV-1a 64 (see test/helpers/child.c). */
static inline unsigned char rec_pattern(uint64_t i)
{
    return (unsigned char)(i % 251 + i / 4093);
}

static inline uint64_t rec_fnv1a(uint64_t h, const unsigned char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        h ^= buf[i];
        h *= 0x100000001b3u;
    }
    return h;
}
#define REC_FNV_INIT 0xcbf29ce484222325u

/* A fresh directory under /tmp, removed with everything in it by rec_tmpdir_remove. */
static inline void rec_tmpdir(char *dir, size_t size)
{
    snprintf(dir, size, "/tmp/uvproc-test-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
}

static inline int rec_remove_(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(path);
}

static inline void rec_tmpdir_remove(const char *dir)
{
    CHECK_OK(nftw(dir, rec_remove_, 16, FTW_DEPTH | FTW_PHYS));
}

/* Writes `text` to dir/name with `mode`; the full path goes to path. */
static inline void rec_write_file(char *path, size_t size, const char *dir, const char *name,
                                  const char *text, mode_t mode)
{
    int fd;
    snprintf(path, size, "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
    CHECK_OK(close(fd));
    CHECK_OK(chmod(path, mode));
}

#endif
