/* uvproc-runner's requests (runner_req.c). */
#ifndef UVPROC_RUNNER_REQ_H
#define UVPROC_RUNNER_REQ_H

#include <uvproc.h>

/* exec's params [file, args...]: *file borrowed from params, *args a malloc'd NULL-terminated
 * list of borrowed strings (free it). UV_EINVAL unless every element is a string and the file
 * is not empty; UV_ENOMEM. */
int runner_exec_params(const json_t *params, const char **file, const char ***args);
/* shell's params [command]: *command borrowed. UV_EINVAL unless params[0] is a string. */
int runner_shell_params(const json_t *params, const char **command);
/* The bytes as a JSON string, each byte that does not start valid UTF-8 as U+FFFD. */
json_t *runner_text_of(const char *b, size_t n);

#endif
