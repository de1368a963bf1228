#include "../../src/pool/pool.c"
#include "tables.h"
TABLE_WALKER(walk_pool_jobs, job_table, UVPROC__JOB_NSTATES, UVPROC__EV_NEVENTS)
