/* NODE_CLUSTER message fields read by the primary (cluster_proto.c): numbers a hostile worker
 * sends outside what a field can hold are a protocol error, never converted (issue 16,
 * fault 5). Built with -fsanitize=float-cast-overflow where the compiler has it, so a cast of
 * an out-of-range double fails the test instead of passing by luck. */
#include "check.h"
#include "cluster/cluster_proto.h"
#include "ipc/wire.h"

static int query_of(const char *text)
{
    json_t *msg = uvproc__ipc_wire_parse(text, strlen(text));
    uvproc__cluster_query_t q;
    int err;
    CHECK(msg != NULL);
    err = uvproc__cluster_parse_query(msg, &q);
    json_decref(msg);
    return err;
}

static int errno_of(const char *text)
{
    json_t *msg = uvproc__ipc_wire_parse(text, strlen(text));
    int err;
    CHECK(msg != NULL);
    err = uvproc__cluster_errno(msg);
    json_decref(msg);
    return err;
}

#define QUERY(extra)                                                                          \
    "{\"cmd\":\"NODE_CLUSTER\",\"act\":\"queryServer\",\"address\":null,\"port\":8000,"       \
    "\"addressType\":4" extra "}"

TEST(query_in_range)
{
    CHECK_EQ(query_of(QUERY(",\"index\":0")), 0);
    CHECK_EQ(query_of(QUERY(",\"index\":2147483647")), 0);
    CHECK_EQ(query_of(QUERY(",\"index\":3.0")), 0); /* an integral real is still an integer */
}

TEST(query_out_of_range_index)
{
    /* The figures of the report: past int64_t as reals, and past the field as integers. */
    CHECK_EQ(query_of(QUERY(",\"index\":1.5e19")), UV_EPROTO);
    CHECK_EQ(query_of(QUERY(",\"index\":-1.5e19")), UV_EPROTO);
    CHECK_EQ(query_of(QUERY(",\"index\":8e95")), UV_EPROTO);
    CHECK_EQ(query_of(QUERY(",\"index\":9.3e18")), UV_EPROTO);
    CHECK_EQ(query_of(QUERY(",\"index\":-9.223372036854775808e18")), UV_EPROTO);
    CHECK_EQ(query_of(QUERY(",\"index\":2147483648")), UV_EPROTO);
    CHECK_EQ(query_of(QUERY(",\"index\":2147483648.0")), UV_EPROTO);
    CHECK_EQ(query_of(QUERY(",\"index\":0.5")), UV_EPROTO);
    CHECK_EQ(query_of(QUERY(",\"index\":-1")), UV_EPROTO);
}

TEST(query_out_of_range_other_fields)
{
    CHECK_EQ(query_of("{\"address\":null,\"port\":1e300,\"addressType\":4,\"index\":0}"),
             UV_EPROTO);
    CHECK_EQ(query_of("{\"address\":null,\"port\":8000,\"addressType\":4e40,\"index\":0}"),
             UV_EPROTO);
    CHECK_EQ(query_of("{\"address\":null,\"port\":65536.0,\"addressType\":4,\"index\":0}"),
             UV_EPROTO);
    /* backlog and flags fall back to their defaults, without a cast either. */
    CHECK_EQ(query_of(QUERY(",\"index\":0,\"backlog\":1e30,\"flags\":-8e95")), 0);
}

TEST(errno_out_of_range)
{
    CHECK_EQ(errno_of("{\"errno\":-98}"), -98);
    CHECK_EQ(errno_of("{\"errno\":-98.0}"), -98);
    CHECK_EQ(errno_of("{\"errno\":null}"), 0);
    CHECK_EQ(errno_of("{\"errno\":8e95}"), UV_EPROTO);
    CHECK_EQ(errno_of("{\"errno\":-8e95}"), UV_EPROTO);
    CHECK_EQ(errno_of("{\"errno\":1.5e19}"), UV_EPROTO);
    CHECK_EQ(errno_of("{\"errno\":-4097}"), UV_EPROTO);
    CHECK_EQ(errno_of("{\"errno\":\"EADDRINUSE\"}"), UV_EPROTO);
}

int main(int argc, char **argv)
{
    (void)check_loop_close_; /* no loop here */
    RUN(query_in_range);
    RUN(query_out_of_range_index);
    RUN(query_out_of_range_other_fields);
    RUN(errno_out_of_range);
    return check_done();
}
