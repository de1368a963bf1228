/* Launcher prefixes (ssh, srun, kubectl exec, ...): the argv that runs a child on another host
 * through a program that runs its arguments and carries stdio. Not part of the public API. */
#ifndef UVPROC_LAUNCHER_PREFIX_H
#define UVPROC_LAUNCHER_PREFIX_H

#include <stddef.h>

#include "uvproc.h"

/* The whole argv to start locally: `remote->launcher...` followed by the remote command
 * `[env [-C cwd] K=V...] [relay] file argv[1]...` (argv[0] is replaced by `file`: a program
 * name cannot be set on the far side). `extra_env` entries come after remote->env (they win).
 * The remote command is one shell-quoted string when remote->quote asks for it (ssh joins its
 * arguments with spaces and hands them to the remote login shell), else separate arguments.
 * *out is one allocation (pointers and strings): free() it. UV_EINVAL for a bad `remote`. */
int uvproc__prefix_argv(const uvproc_remote_t *remote, const char *const *extra_env,
                        const char *file, char *const *argv, char ***out);

/* Writes `s` as one word of POSIX sh into `dst` (if non-NULL) and returns its length (without
 * a NUL). Safe words stay bare; everything else is single-quoted, ' as '\''. `first`: the
 * word starts ssh's command argument, so a leading '-' is quoted too. */
size_t uvproc__shell_quote(const char *s, char *dst, int first);

#endif
