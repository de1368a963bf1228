/* uvproc_supports: what the layers below can do here, for users and for the layers above
 * (the cluster asks before giving its workers kill_on_parent_death). */
#include "process.h"

int uvproc_supports(uvproc_feature_t feature)
{
    switch (feature) {
    case UVPROC_FEATURE_KILL_ON_PARENT_DEATH:
        /* Only the posix launcher sets a parent-death signal, and it needs pidfds. */
        return uvproc__launcher_posix_available();
    }
    return 0;
}
