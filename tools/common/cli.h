/* What every uvproc tool's command line shares. getopt_long does the parsing (--opt=value,
 * --, clustered short options); this header only fixes the conventions around it:
 *   --help     usage on stdout, exit 0, the program's own name in it;
 *   --version  "NAME VERSION (uvproc)" on stdout, exit 0;
 *   a usage error: one line "NAME: what was wrong" plus a hint on stderr, exit 2.
 * Header-only and free of the library, so a tool that does not link uvproc (uvproc-relay)
 * uses it too. UVPROC_TOOL_VERSION comes from meson (the project's version). */
#ifndef UVPROC_TOOLS_CLI_H
#define UVPROC_TOOLS_CLI_H

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef UVPROC_TOOL_VERSION
#error "UVPROC_TOOL_VERSION is set by tools/meson.build"
#endif

#define CLI_EXIT_USAGE 2

/* The program's name as the user typed it, without its directory. */
static inline const char *cli_prog(const char *argv0)
{
    const char *slash = argv0 != NULL ? strrchr(argv0, '/') : NULL;
    return slash != NULL ? slash + 1 : (argv0 != NULL ? argv0 : "uvproc");
}

static inline void cli_print_version(const char *prog)
{
    printf("%s %s (uvproc)\n", prog, UVPROC_TOOL_VERSION);
}

/* Says what was wrong in one line, points at --help, and exits 2. */
__attribute__((format(printf, 2, 3), noreturn)) static inline void
cli_usage_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
    exit(CLI_EXIT_USAGE);
}

/* A whole decimal number in [min, max]: 0, or -1 (and *out untouched) for anything else
 * (empty, trailing junk, out of range). */
static inline int cli_parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;
    if (s == NULL || *s == '\0')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

#endif
