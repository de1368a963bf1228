/* The version three ways: the header's macros, what the loaded library answers, and meson's
 * project version (PROJECT_VERSION): all must agree, or a release ships a stale header. */
#include <stdio.h>

#include "uvproc.h"
/* No loop here: check.h's loop-close helper goes unused. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "check.h"

TEST(hex_matches_header)
{
    CHECK_EQ(uvproc_version(), UVPROC_VERSION_HEX);
    CHECK_EQ(UVPROC_VERSION_HEX >> 16, UVPROC_VERSION_MAJOR);
    CHECK_EQ((UVPROC_VERSION_HEX >> 8) & 0xff, UVPROC_VERSION_MINOR);
    CHECK_EQ(UVPROC_VERSION_HEX & 0xff, UVPROC_VERSION_PATCH);
}

TEST(string_matches_header)
{
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", UVPROC_VERSION_MAJOR, UVPROC_VERSION_MINOR,
             UVPROC_VERSION_PATCH);
    CHECK_STR(uvproc_version_string(), want);
}

TEST(header_matches_meson)
{
    CHECK_STR(uvproc_version_string(), PROJECT_VERSION);
}

int main(int argc, char **argv)
{
    RUN(hex_matches_header);
    RUN(string_matches_header);
    RUN(header_matches_meson);
    return check_done();
}
