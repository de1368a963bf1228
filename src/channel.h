/* The seam between channel.c and fork.c: a channel whose pipe someone else opens (uv_spawn
 * connects it to the child), and hooks that tie the channel's end to the process's close.
 * Not part of the public API. */
#ifndef UVPROC_CHANNEL_H
#define UVPROC_CHANNEL_H

#include "uvproc.h"

typedef void (*uvproc__channel_hook_t)(void *arg);

/* Creates a channel over an initialised (ipc=1) but unopened pipe: hand
 * uvproc__channel_pipe() to whoever opens it, then call uvproc__channel_start() or, if that
 * failed, uvproc__channel_abort(). The channel starts ref'd. */
int uvproc__channel_new(uv_loop_t *loop, uvproc_channel_t **out,
                        const uvproc_channel_options_t *options);
uv_pipe_t *uvproc__channel_pipe(uvproc_channel_t *ch);

/* The pipe is open: start reading. A failure to start closes the channel (on_disconnect). */
void uvproc__channel_start(uvproc_channel_t *ch);

/* The pipe never opened: close the channel without on_disconnect. */
void uvproc__channel_abort(uvproc_channel_t *ch);

/* The channel was adopted from the parent (uvproc_channel_from_parent): like Node's child
 * side it keeps the loop alive only while on_message or on_disconnect is set, until the user
 * calls uvproc_channel_ref/unref. */
void uvproc__channel_adopted(uvproc_channel_t *ch);

/* `gone` runs right after on_disconnect returned (or instead of it after an abort); `released`
 * once every handle of the channel has closed, just before its memory is freed. Either may be
 * NULL. Each runs exactly once. */
void uvproc__channel_set_hooks(uvproc_channel_t *ch, uvproc__channel_hook_t gone,
                               uvproc__channel_hook_t released, void *arg);

/* Over stdio (channel_stdio.c), for children behind a launcher: the channel reads the child's
 * stdout and writes its stdin, two plain pipes (initialised, unopened) that spawn connects as
 * the child's fds 0 and 1; then uvproc__channel_start or uvproc__channel_abort as above. */
int uvproc__channel_new_stdio(uv_loop_t *loop, uvproc_channel_t **out,
                              const uvproc_channel_options_t *options);
void uvproc__channel_stdio_pipes(uvproc_channel_t *ch, uv_pipe_t **child_stdin,
                                 uv_pipe_t **child_stdout);
/* Child side, when UVPROC_CHANNEL is set: adopts fds 0 and 1 (see uvproc_channel_from_parent). */
int uvproc__channel_from_parent_stdio(uv_loop_t *loop, uvproc_channel_t **out,
                                      const uvproc_channel_options_t *options);

#endif
