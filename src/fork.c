/* placeholder: fork */
typedef int uvproc__placeholder_fork;
