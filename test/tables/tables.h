/* The state tables as test_tables.c walks them. Each test/tables/<file>.c includes one source file
 * that holds a table (its statics are then in reach) and defines a walker with TABLE_WALKER;
 * the library itself is linked as usual, minus the objects those files replace. */
#ifndef UVPROC_TEST_TABLES_H
#define UVPROC_TEST_TABLES_H

#include <stddef.h>
#include <stdio.h>

typedef struct {
    const char *name;
    size_t states, events; /* the table's size */
    size_t want_states, want_events; /* its enums' counts */
    size_t nulls;                    /* cells nobody wrote (each named on stderr) */
} table_walk_t;

#define TABLE_WALKER(fn, table, nstates, nevents)                                             \
    table_walk_t fn(void);                                                                    \
    table_walk_t fn(void)                                                                     \
    {                                                                                         \
        table_walk_t w = {#table, sizeof(table) / sizeof((table)[0]),                         \
                          sizeof((table)[0]) / sizeof((table)[0][0]), (size_t)(nstates),      \
                          (size_t)(nevents), 0};                                              \
        for (size_t s = 0; s < w.states; s++)                                                 \
            for (size_t e = 0; e < w.events; e++)                                             \
                if ((table)[s][e] == NULL) {                                                  \
                    fprintf(stderr, "%s[%zu][%zu] is NULL\n", #table, s, e);                  \
                    w.nulls++;                                                                \
                }                                                                             \
        return w;                                                                             \
    }

table_walk_t walk_pool_jobs(void);
table_walk_t walk_pool_slots(void);
table_walk_t walk_pool_hosts(void);
table_walk_t walk_cluster_slots(void);
table_walk_t walk_loadtest_slots(void);

#endif
