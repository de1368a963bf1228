#include "../../src/pool/pool_slot.c"
#include "tables.h"
TABLE_WALKER(walk_pool_slots, slot_table, UVPROC__SLOT_NSTATES, UVPROC__SLOT_EV_NEVENTS)
