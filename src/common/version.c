/* uvproc_version / uvproc_version_string: the version of the library that was loaded, which
 * a program compares with the UVPROC_VERSION_* of the header it was built with. */
#include "uvproc.h"

#define UVPROC__STR(x) #x
#define UVPROC__XSTR(x) UVPROC__STR(x)

unsigned int uvproc_version(void)
{
    return UVPROC_VERSION_HEX;
}

const char *uvproc_version_string(void)
{
    return UVPROC__XSTR(UVPROC_VERSION_MAJOR) "." UVPROC__XSTR(
        UVPROC_VERSION_MINOR) "." UVPROC__XSTR(UVPROC_VERSION_PATCH);
}
