/* placeholder: exec */
typedef int uvproc__placeholder_exec;
