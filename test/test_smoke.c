#include <signal.h>
#include "uvproc.h"
#include "check.h"

static char out[256];
static size_t out_len;
static int events[16], nev;
enum { E_SPAWN = 1, E_DATA, E_END, E_EXIT, E_CLOSE, E_ERROR };
static int64_t exit_code = -99, close_code = -99;

static void on_spawn(uvproc_process_t *p) { (void)p; events[nev++] = E_SPAWN; }
static void on_data(uvproc_process_t *p, int fd, const char *b, size_t n)
{ (void)p; if (fd == 1) { memcpy(out + out_len, b, n); out_len += n; if (nev == 0 || events[nev-1] != E_DATA) events[nev++] = E_DATA; } }
static void on_end(uvproc_process_t *p, int fd, int st) { (void)p; (void)st; if (fd == 1) events[nev++] = E_END; }
static void on_exit_(uvproc_process_t *p, int64_t c, int s) { (void)p; (void)s; exit_code = c; events[nev++] = E_EXIT; }
static void on_close(uvproc_process_t *p, int64_t c, int s) { (void)p; (void)s; close_code = c; events[nev++] = E_CLOSE; }
static void on_error(uvproc_process_t *p, const uvproc_error_t *e) { (void)p; close_code = e->code; events[nev++] = E_ERROR; }

TEST(echo_order)
{
    uv_loop_t loop;
    uvproc_process_t *p;
    const char *args[] = {"-c", "echo hi; exit 3", NULL};
    uvproc_spawn_options_t o = {.on_spawn = on_spawn, .on_data = on_data, .on_end = on_end,
                                .on_exit = on_exit_, .on_close = on_close, .on_error = on_error};
    CHECK_OK(uv_loop_init(&loop));
    nev = 0; out_len = 0;
    CHECK_OK(uvproc_spawn(&loop, &p, "sh", args, &o));
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(nev, 5);
    CHECK_EQ(events[0], E_SPAWN); CHECK_EQ(events[1], E_DATA); CHECK_EQ(events[2], E_END);
    CHECK_EQ(events[3], E_EXIT); CHECK_EQ(events[4], E_CLOSE);
    CHECK_EQ(exit_code, 3); CHECK_EQ(close_code, 3);
    CHECK_EQ(out_len, 3); CHECK(memcmp(out, "hi\n", 3) == 0);
}

TEST(enoent)
{
    uv_loop_t loop;
    uvproc_spawn_options_t o = {.on_spawn = on_spawn, .on_exit = on_exit_, .on_close = on_close, .on_error = on_error};
    CHECK_OK(uv_loop_init(&loop));
    nev = 0;
    CHECK_OK(uvproc_spawn(&loop, NULL, "/nonexistent/prog", NULL, &o));
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(nev, 2); CHECK_EQ(events[0], E_ERROR); CHECK_EQ(events[1], E_CLOSE);
    CHECK_EQ(close_code, UV_ENOENT);
}

int main(int argc, char **argv)
{
    RUN(echo_order);
    RUN(enoent);
    return check_done();
}
