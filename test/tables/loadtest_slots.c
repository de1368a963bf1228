#include "../../tools/loadtest/loadtest_slot.c"
#include "tables.h"
TABLE_WALKER(walk_loadtest_slots, table, LT_SLOT_STATES, LT_SLOT_EVENTS)
