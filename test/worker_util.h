/* Helpers for the worker-thread tests: counting this process's threads (/proc/self/task), so
 * that every test can require that each thread it started was joined. */
#ifndef UVPROC_TEST_WORKER_UTIL_H
#define UVPROC_TEST_WORKER_UTIL_H

#include <dirent.h>

#include "check.h"

static inline int worker_count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;
    CHECK(d != NULL);
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* The thread count once it has come down to `want`: a joined thread's task can linger in
 * /proc/self/task for a moment after pthread_join returns (the kernel wakes the joiner
 * before it releases the task), so look again for up to a second. */
static inline int worker_threads_settle(int want)
{
    int n = worker_count_threads();
    for (int i = 0; i < 1000 && n > want; i++) {
        uv_sleep(1);
        n = worker_count_threads();
    }
    return n;
}

static void worker_prime_thread_(void *arg)
{
    (void)arg;
}

/* ThreadSanitizer starts a background thread of its own at the first pthread_create: start
 * (and join) one thread before the first baseline is taken, so that it is counted there. */
static inline void worker_prime_threads(void)
{
    static int primed;
    uv_thread_t t;
    if (!primed && uv_thread_create(&t, worker_prime_thread_, NULL) == 0) {
        uv_thread_join(&t);
        primed = 1;
    }
}

/* RUN_W(name): RUN(name), then no thread more than before it. */
#define RUN_W(name)                                                                                \
    do {                                                                                           \
        worker_prime_threads();                                                                    \
        int threads_before_ = worker_count_threads();                                              \
        RUN(name);                                                                                 \
        CHECK_EQ(worker_threads_settle(threads_before_), threads_before_);                         \
    } while (0)

#endif
