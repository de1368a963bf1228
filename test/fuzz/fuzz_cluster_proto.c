/* libFuzzer target for cluster_proto.c: one line a cluster worker (or the primary, for the
 * worker side) could send, read as the channel reads it (wire.c), then every field reader
 * the primary and the worker side apply to it. Nothing may crash, leak or hit undefined
 * behaviour (issue 16, fault 5 was a cast of 1.5e19 found this way); a query that parses
 * must have every field in its range and give a key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster_proto.h"
#include "ipc/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *msg = uvproc__ipc_wire_parse((const char *)data, size);
    uvproc__cluster_query_t q;
    uvproc__cluster_peer_t peer = {0};
    int e;

    if (msg == NULL)
        return 0;
    (void)uvproc__cluster_is_cluster(msg);
    (void)uvproc__cluster_act(msg);
    e = uvproc__cluster_errno(msg);
    if (e > 0 || e < -4096)
        abort();
    if (uvproc__cluster_parse_query(msg, &q) == 0) {
        char *key;
        if (q.port < -1 || q.port > 65535 || q.index < 0 || q.index > INT32_MAX ||
            q.backlog < 1 || q.backlog > INT32_MAX || q.flags < 0 || q.flags > INT32_MAX ||
            (q.address_type != 4 && q.address_type != 6 && q.address_type != -1))
            abort();
        key = uvproc__cluster_key(&q);
        if (key == NULL)
            abort();
        free(key);
    }
    /* A reply with no request waiting is not routed. */
    if (uvproc__cluster_route_reply(&peer, msg, NULL) != 0)
        abort();
    json_decref(msg);
    return 0;
}
