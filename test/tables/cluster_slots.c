#include "../../src/cluster/cluster.c"
#include "tables.h"
TABLE_WALKER(walk_cluster_slots, uvproc__cl_table, UVPROC_WORKER_DEAD + 1, UVPROC__EV_COUNT)
