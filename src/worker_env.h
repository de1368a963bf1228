/* A worker's environment map (worker_env.c). */
#ifndef UVPROC_WORKER_ENV_H
#define UVPROC_WORKER_ENV_H

#include "uvproc.h"

typedef struct uvproc__env_s uvproc__env_t;

/* The environment a new worker gets, made on the parent's thread. *out NULL means the process
 * environment (a shared-env worker of the main thread). */
int uvproc__env_for_worker(uvproc_worker_env_mode_t mode, const char *const *list,
                           uvproc__env_t **out);
void uvproc__env_release(uvproc__env_t *env);
/* Makes `env` the calling thread's (a worker's thread, at its start). */
void uvproc__env_enter(uvproc__env_t *env);

#endif
