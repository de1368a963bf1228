/* A write to a peer that has gone (a child that exited, a parent that died under a child-side
 * channel) raises SIGPIPE, whose default action kills the host. libuv writes to its sockets
 * with write(2)/sendmsg without MSG_NOSIGNAL, so the only reliable cure is to ignore the
 * signal: writes then fail with UV_EPIPE. A disposition the host chose itself is left alone.
 * Children get default dispositions back from the launchers. */
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "common.h"

static pthread_once_t uvproc__sigpipe_once = PTHREAD_ONCE_INIT;

static void uvproc__ignore_sigpipe(void)
{
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
        !(old.sa_flags & SA_SIGINFO)) {
        struct sigaction ign;
        memset(&ign, 0, sizeof ign);
        ign.sa_handler = SIG_IGN;
        sigemptyset(&ign.sa_mask);
        sigaction(SIGPIPE, &ign, NULL);
    }
}

void uvproc__common_ignore_sigpipe_once(void)
{
    pthread_once(&uvproc__sigpipe_once, uvproc__ignore_sigpipe);
}
