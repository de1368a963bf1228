/* Where node is, for the interop tests (test_node_interop.c, test_pool_interop.c). */
#ifndef UVPROC_TEST_FIND_NODE_H
#define UVPROC_TEST_FIND_NODE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char node_path[4096];

/* UVPROC_TEST_NODE (set by meson: empty when node was not found), else node on PATH. */
static int find_node(void)
{
    const char *env = getenv("UVPROC_TEST_NODE");
    const char *path = getenv("PATH");
    if (env != NULL && env[0] == '\0')
        return 0;
    if (env != NULL && strchr(env, '/') != NULL) {
        snprintf(node_path, sizeof node_path, "%s", env);
        return access(node_path, X_OK) == 0;
    }
    while (path != NULL && *path != '\0') {
        const char *end = strchr(path, ':');
        size_t len = end != NULL ? (size_t)(end - path) : strlen(path);
        snprintf(node_path, sizeof node_path, "%.*s/%s", (int)len, path,
                 env != NULL ? env : "node");
        if (len > 0 && access(node_path, X_OK) == 0)
            return 1;
        path = end != NULL ? end + 1 : NULL;
    }
    return 0;
}

#endif
