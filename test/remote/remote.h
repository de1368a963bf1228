/* Shared by the `remote` suite: the ssh launcher for the loopback hosts engines.sh started
 * (UVPROC_SSH_CONFIG, UVPROC_SSH_HOSTS, UVPROC_SSHD_PIDS), and "a host dies". */
#ifndef UVPROC_TEST_REMOTE_H
#define UVPROC_TEST_REMOTE_H

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* Exits 77 (skip) when the test runs outside engines.sh, which sets these. */
static inline const char *remote_ssh_config(void)
{
    const char *cfg = getenv("UVPROC_SSH_CONFIG");
    if (cfg == NULL || cfg[0] == '\0') {
        fprintf(stderr, "run me through test/remote/engines.sh (no UVPROC_SSH_CONFIG)\n");
        exit(77);
    }
    return cfg;
}

/* {"ssh", "-F", config, host, NULL}, in static storage per host index 0-2 (127.0.0.1+i). */
static inline const char *const *remote_ssh(int i)
{
    static const char *argv[3][5];
    static const char *hosts[3] = {"127.0.0.1", "127.0.0.2", "127.0.0.3"};
    argv[i][0] = "ssh";
    argv[i][1] = "-F";
    argv[i][2] = remote_ssh_config();
    argv[i][3] = hosts[i];
    argv[i][4] = NULL;
    return argv[i];
}

static inline pid_t remote_ppid_of(pid_t pid)
{
    char path[64], buf[512];
    FILE *f;
    size_t len;
    char *rp, state;
    int ppid;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    rp = strrchr(buf, ')');
    if (rp == NULL || sscanf(rp + 1, " %c %d", &state, &ppid) != 2)
        return -1;
    return ppid;
}

/* SIGKILLs `root` and every descendant of it: what a host losing power looks like to ssh. */
static inline void remote_kill_tree(pid_t root)
{
    pid_t found[4096];
    int n = 0, grew = 1;
    found[n++] = root;
    while (grew) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        grew = 0;
        if (d == NULL)
            break;
        while ((e = readdir(d)) != NULL && n < 4096) {
            pid_t pid = (pid_t)atoi(e->d_name), pp;
            int known = 0;
            if (pid <= 0)
                continue;
            for (int i = 0; i < n && !known; i++)
                known = found[i] == pid;
            if (known)
                continue;
            pp = remote_ppid_of(pid);
            for (int i = 0; i < n; i++)
                if (pp == found[i]) {
                    found[n++] = pid;
                    grew = 1;
                    break;
                }
        }
        closedir(d);
    }
    for (int i = 0; i < n; i++)
        kill(found[i], SIGKILL);
}

/* Host index 0-2 goes down: its sshd listener and every session under it. */
static inline void remote_kill_host(int i)
{
    const char *pids = getenv("UVPROC_SSHD_PIDS");
    long pid = 0;
    for (int k = 0; pids != NULL && k <= i; k++)
        pid = strtol(pids, (char **)&pids, 10);
    if (pid > 0)
        remote_kill_tree((pid_t)pid);
}

#endif
