/* uvproc: Node's child_process (spawn, exec, execFile, fork and their sync variants) for C
 * programs that run a libuv loop.
 *
 * Conventions, once for the whole header:
 * - Every function that can fail returns 0 (or a documented non-negative value) or a negative
 *   libuv-style error code (UV_ENOENT, UV_EINVAL, ...) or one of UVPROC_E* below.
 *   uvproc_strerror() and uvproc_err_name() turn any of them into words.
 * - Option structs are zero-initialised for defaults: `(uvproc_spawn_options_t){0}` is valid.
 * - Everything asynchronous runs on the loop the caller passes, and callbacks are invoked from
 *   that loop's thread. Only the *_sync functions block.
 * - Buffers passed to callbacks are borrowed for the duration of the callback.
 * - Ownership of a uvproc_process_t: the library allocates it and frees it right after the
 *   `on_close` callback returns, unless the user called uvproc_process_retain(); then it stays
 *   valid (for the accessors) until the matching uvproc_process_release(). A process that never
 *   started (failed spawn) follows the same rule: `on_error`, then `on_close`, then freed.
 * - jansson values follow jansson's rules: functions that take a json_t * borrow it unless their
 *   name ends in _new (those steal the reference, as json_object_set_new does).
 * - The library ignores SIGPIPE process-wide (only if its disposition is still SIG_DFL) the
 *   first time it creates a pipe: a write to a dead child is reported as UV_EPIPE instead of
 *   killing the host. Children get default signal dispositions back.
 */
#ifndef UVPROC_H
#define UVPROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include <jansson.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define UVPROC_EXTERN __attribute__((visibility("default")))
#else
#define UVPROC_EXTERN
#endif

/* The version this header belongs to (meson.build's project version; a test keeps the two
 * equal). UVPROC_VERSION_HEX orders versions as one number, 0xMMmmpp: 0.2.0 is 0x000200. */
#define UVPROC_VERSION_MAJOR 0
#define UVPROC_VERSION_MINOR 2
#define UVPROC_VERSION_PATCH 0
#define UVPROC_VERSION_HEX                                                                     \
    ((UVPROC_VERSION_MAJOR << 16) | (UVPROC_VERSION_MINOR << 8) | UVPROC_VERSION_PATCH)

/* ABI. While the major version is 0, a patch release (0.2.0 -> 0.2.1) changes neither the API
 * nor the ABI: a program built against 0.2.0 runs with any 0.2.x. A minor release (0.2 -> 0.3)
 * may rename or remove calls and change structs (every change is listed in CHANGELOG.md, no
 * compatibility aliases), so each minor release has its own soname, libuvproc.so.0.MINOR, and
 * a program must be rebuilt. From 1.0 on, the soname is libuvproc.so.MAJOR and changes only
 * with the major version. Handles are opaque, so their layout is not part of the ABI; option
 * structs and callback signatures are, which is why changing one takes a new soname. */

/* The version of the library actually loaded, in UVPROC_VERSION_HEX's form: it can be newer
 * than the header the program was compiled with (a later patch release). */
UVPROC_EXTERN unsigned int uvproc_version(void);
/* The same as "MAJOR.MINOR.PATCH", e.g. "0.2.0". Static storage, never NULL. */
UVPROC_EXTERN const char *uvproc_version_string(void);

/* ---------------------------------------------------------------------------------------- */
/* Errors                                                                                   */

/* Our own codes, next to libuv's (negative errnos, all above -4096 on Unix): one list, a range
 * per subsystem (process and IPC -300xx, pool -301xx, cluster -302xx, threads -303xx).
 * Timeouts are UV_ETIMEDOUT, cancellation is UV_ECANCELED, an oversized IPC message is
 * UV_EMSGSIZE, an IPC send after disconnect is UV_EPIPE.
 * XX(name, code, message): uvproc_strerror and uvproc_err_name are generated from it. */
#define UVPROC_ERRNO_MAP(XX)                                                                   \
    /* process and IPC */                                                                      \
    XX(EEXITCODE, -30001, "child exited with a non-zero code")                                 \
    XX(ESIGNALED, -30002, "child was terminated by a signal")                                  \
    XX(EMAXBUFFER, -30003, "child output exceeded max_buffer")                                 \
    XX(EBADMSG, -30004, "malformed IPC message: not exactly one JSON value")                   \
    XX(ESERIALIZATION, -30005,                                                                 \
       "unsupported IPC serialization mode (only \"json\" is supported)")                       \
    XX(ENOCHANNEL, -30006, "no IPC channel: NODE_CHANNEL_FD is not set")                       \
    /* pool */                                                                                 \
    XX(EQUEUEFULL, -30101, "pool queue is full")                                               \
    XX(EPOOLCLOSED, -30102, "pool is draining or terminated")                                  \
    XX(EWORKERDIED, -30103, "pool worker exited while running the job")                        \
    XX(EJOBERROR, -30104, "pool worker's method reported an error")                            \
    XX(EPROTOCOL, -30105, "pool worker broke the workerpool protocol")                         \
    XX(EWORKERSTART, -30106, "pool workers kept exiting before \"ready\"; queued jobs failed")  \
    /* cluster */                                                                              \
    XX(ECRASHLOOP, -30201, "a cluster worker kept crashing; restarts stopped")                 \
    XX(EUPGRADE, -30202, "the new primary exited before it was ready")                         \
    XX(ELISTENLIMIT, -30203, "a cluster worker asked for too many distinct listening sockets")

enum {
#define UVPROC__ERR_ENUM(name, code, msg) UVPROC_##name = (code),
    UVPROC_ERRNO_MAP(UVPROC__ERR_ENUM)
#undef UVPROC__ERR_ENUM
};
/* What each code means, as used by the calls that return it:
 * EEXITCODE, ESIGNALED: exec's child failed; EMAXBUFFER: output went past max_buffer;
 * EBADMSG: a malformed IPC line; ESERIALIZATION: NODE_CHANNEL_SERIALIZATION_MODE is not
 * "json"; ENOCHANNEL: NODE_CHANNEL_FD is not set.
 * EQUEUEFULL: submit to a full bounded queue, nothing queued; EPOOLCLOSED: submit after drain
 * or terminate; EWORKERDIED: the worker running the job exited or was killed; EJOBERROR: the
 * worker's method threw or rejected (see error_name); EPROTOCOL: the worker broke
 * workerpool's protocol (garbage, a reply with an id it was not given): its jobs fail and it is
 * replaced. EWORKERSTART: workers exited before "ready" several times in a row (a crash-loop
 * guard, as the cluster's): every queued job failed; the next job gets a fresh try.
 * ECRASHLOOP: a cluster worker (or a reload's replacement) kept crashing. EUPGRADE:
 * uvproc_cluster_upgrade's new primary exited before saying it was ready. ELISTENLIMIT: a
 * cluster worker asked for more than 64 distinct listen keys (on_error; the worker itself
 * is answered EMFILE). */

/* A message for any code this library returns, libuv's included. Never NULL. */
UVPROC_EXTERN const char *uvproc_strerror(int err);
/* The code's name ("ENOENT", "EMAXBUFFER", ...). Never NULL. */
UVPROC_EXTERN const char *uvproc_err_name(int err);

#ifdef __cplusplus
}
#endif

/* The subsystems, each type before its users. */
#include "uvproc/process.h"
#include "uvproc/channel.h"
#include "uvproc/pool.h"
#include "uvproc/cluster.h"
#include "uvproc/threads.h"

#endif /* UVPROC_H */
