/* Every cell of every state table is written: an action, an explicit no-op or an explicit
 * "impossible", never a NULL that would crash the day the cell happens (s6's rule). The
 * tables: the pool's jobs, worker slots and hosts, the cluster's worker slots, the load
 * tester's children. test/tables/<file>.c bring each one in reach. */
#include "check.h"
#include "tables/tables.h"

static void check_walk(table_walk_t w)
{
    printf("# %s: %zu states x %zu events, %zu NULL\n", w.name, w.states, w.events, w.nulls);
    CHECK_EQ(w.states, w.want_states);
    CHECK_EQ(w.events, w.want_events);
    CHECK(w.states > 0 && w.events > 0);
    CHECK_EQ(w.nulls, 0);
}

typedef void (*toy_action_t)(int);
static void toy(int x)
{
    (void)x;
}
static const toy_action_t toy_table[2][3] = {{toy, toy, toy}, {toy, [2] = toy}};
TABLE_WALKER(walk_toy, toy_table, 2, 3)

/* The walker itself: a table with a cell left out is caught. */
TEST(walker_finds_a_missing_cell)
{
    table_walk_t w = walk_toy();
    CHECK_EQ(w.states, 2);
    CHECK_EQ(w.events, 3);
    CHECK_EQ(w.nulls, 1);
}

TEST(pool_job_table)
{
    check_walk(walk_pool_jobs());
}

TEST(pool_slot_table)
{
    check_walk(walk_pool_slots());
}

TEST(pool_host_table)
{
    check_walk(walk_pool_hosts());
}

TEST(cluster_slot_table)
{
    check_walk(walk_cluster_slots());
}

TEST(loadtest_slot_table)
{
    check_walk(walk_loadtest_slots());
}

int main(int argc, char **argv)
{
    (void)check_loop_close_; /* check.h's, for tests that run a loop: none here */
    RUN(walker_finds_a_missing_cell);
    RUN(pool_job_table);
    RUN(pool_slot_table);
    RUN(pool_host_table);
    RUN(cluster_slot_table);
    RUN(loadtest_slot_table);
    return check_done();
}
