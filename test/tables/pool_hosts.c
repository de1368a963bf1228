#include "../../src/pool/pool_hosts.c"
#include "tables.h"
TABLE_WALKER(walk_pool_hosts, host_table, HOST_NSTATES, HOST_NEVENTS)
