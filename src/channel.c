/* placeholder: channel */
typedef int uvproc__placeholder_channel;
