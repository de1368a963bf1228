/* SIGPIPE policy, shared by everything that writes to a peer process. */
#ifndef UVPROC_SIGPIPE_H
#define UVPROC_SIGPIPE_H

/* Sets SIGPIPE to SIG_IGN once per process, if the host left it at SIG_DFL. Thread-safe. */
void uvproc__ignore_sigpipe_once(void);

#endif
