/* loadtest --hosts: which host each load child runs on, and the launcher that takes it there.
 * The list is GNU parallel's --sshlogin form, "N/HOST,..." with ":" for this machine; the
 * children are dealt out round-robin, weighted by N (2/a,1/b gives a, b, a, a, b, a, ...). A
 * remote child is this same program, at the same path, started as
 * `LAUNCHER... HOST loadtest --child` with its channel over the launcher's stdio. */
#include <stdlib.h>
#include <string.h>

#include "loadtest.h"

int lt_hosts_parse(const char *spec, lt_hosts_t *h)
{
    memset(h, 0, sizeof *h);
    for (const char *e = spec; e != NULL && *e != '\0';) {
        const char *end = strchr(e, ',');
        size_t len = end != NULL ? (size_t)(end - e) : strlen(e);
        const char *slash = memchr(e, '/', len);
        long slots = 1;
        if (h->n == LT_MAX_HOSTS)
            return -1;
        if (slash != NULL) {
            char *stop;
            slots = strtol(e, &stop, 10);
            if (stop != slash || slots < 1 || slots > LT_MAX_CHILDREN)
                return -1;
            len -= (size_t)(slash + 1 - e);
            e = slash + 1;
        }
        if (len == 0 || len >= sizeof h->name[0])
            return -1;
        memcpy(h->name[h->n], e, len);
        h->name[h->n][len] = '\0';
        h->slots[h->n] = (int)slots;
        h->total += (int)slots;
        h->n++;
        e = end != NULL ? end + 1 : NULL;
        if (end != NULL && *e == '\0')
            return -1; /* a trailing comma */
    }
    return h->n > 0 ? 0 : -1;
}

const char *lt_hosts_for_child(const lt_hosts_t *h, int index)
{
    /* Round r deals one child to every host with more than r slots. */
    int k = index % (h->total > 0 ? h->total : 1);
    for (int r = 0; r < LT_MAX_CHILDREN; r++)
        for (int i = 0; i < h->n; i++)
            if (h->slots[i] > r && k-- == 0)
                return h->name[i];
    return ":";
}

int lt_hosts_launcher(const char *cmd, const char *host, char *buf, size_t size, const char **argv,
                      int max)
{
    int n = 0;
    char *save = NULL;
    if (strlen(cmd) >= size)
        return -1;
    strcpy(buf, cmd);
    for (char *w = strtok_r(buf, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save)) {
        if (n >= max - 2)
            return -1;
        argv[n++] = w;
    }
    if (n == 0)
        return -1;
    argv[n++] = host;
    argv[n] = NULL;
    return 0;
}
