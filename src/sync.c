/* placeholder: sync */
typedef int uvproc__placeholder_sync;
