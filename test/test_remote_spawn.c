/* Launcher prefixes: the remote command line, quoted for ssh's remote shell, through a real
 * sshd on 127.0.0.2 (test/remote/engines.sh starts it); local `sh -c` as a stand-in launcher
 * for the quoting rules themselves. */
#include <string.h>

#include "check.h"
#include "launcher/launcher.h"
#include "remote/remote.h"
#include "uvproc.h"

/* Arguments that a space-joined, unquoted ssh command line would mangle. */
static const char *const hard_args[] = {
    "argv",        "two words", "it's",    "\"double\"", "$HOME",      "`id`",        "$(echo x)",
    "a\nb",        "",          "-n",      "*",          "semi;colon", "back\\slash", "tab\there",
    "caf\xc3\xa9", "'",         "a'b'c\"", "!bang",      "~",          "x=1",         NULL,
};

/* What `child argv` prints for `hard_args` run as CHILD_HELPER: argv[0] is the program path,
 * then one line per argument. */
static char *expected_argv_output(void)
{
    size_t len = strlen(CHILD_HELPER) + 2;
    char *s;
    for (int i = 0; hard_args[i] != NULL; i++)
        len += strlen(hard_args[i]) + 1;
    s = malloc(len);
    CHECK(s != NULL);
    strcpy(s, CHILD_HELPER);
    strcat(s, "\n");
    for (int i = 0; hard_args[i] != NULL; i++) {
        strcat(s, hard_args[i]);
        strcat(s, "\n");
    }
    return s;
}

static void run_sync(const uvproc_remote_t *r, const char *const *args, uvproc_exec_result_t *res)
{
    uvproc_exec_options_t o = {.spawn.remote = r, .timeout_ms = 20000};
    CHECK_OK(uvproc_spawn_sync(CHILD_HELPER, args, &o, res));
}

TEST(quote_words)
{
    char buf[64];
    size_t n;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain", "plain"},
        {"a/b.c:d=e,f@g%h+i", "a/b.c:d=e,f@g%h+i"},
        {"", "''"},
        {"two words", "'two words'"},
        {"it's", "'it'\\''s'"},
        {"-n", "'-n'"},
        {"x-y", "x-y"},
        {"$HOME", "'$HOME'"},
        {"a\nb", "'a\nb'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        n = uvproc__launcher_shell_quote(cases[i].in, buf, 1);
        buf[n] = '\0';
        CHECK_STR(buf, cases[i].out);
        CHECK_EQ(uvproc__launcher_shell_quote(cases[i].in, NULL, 1), n);
    }
    n = uvproc__launcher_shell_quote("-n", buf,
                                     0); /* not first: no ssh option to be mistaken for */
    buf[n] = '\0';
    CHECK_STR(buf, "-n");
}

TEST(prefix_argv_shape)
{
    static const char *const ssh[] = {"/usr/bin/ssh", "-p", "22", "h", NULL};
    static const char *const srun[] = {"srun", "-N1", NULL};
    static const char *const env[] = {"A=1 2", NULL};
    static const char *const extra[] = {"UVPROC_CHANNEL=stdio", NULL};
    char *argv[] = {"ignored-argv0", "x y", NULL};
    uvproc_remote_t r = {.launcher = ssh, .env = env, .cwd = "/tmp"};
    char **v;

    CHECK_OK(uvproc__launcher_prefix_argv(&r, extra, "prog", argv, &v));
    CHECK_STR(v[0], "/usr/bin/ssh");
    CHECK_STR(v[3], "h");
    CHECK_STR(v[4], "env -C /tmp 'A=1 2' UVPROC_CHANNEL=stdio prog 'x y'");
    CHECK(v[5] == NULL);
    free(v);

    r = (uvproc_remote_t){.launcher = srun, .relay = "uvproc-relay"};
    CHECK_OK(uvproc__launcher_prefix_argv(&r, NULL, "node", argv, &v));
    CHECK_STR(v[0], "srun");
    CHECK_STR(v[2], "uvproc-relay");
    CHECK_STR(v[3], "node");
    CHECK_STR(v[4], "x y");
    CHECK(v[5] == NULL);
    free(v);
}

TEST(bad_remote_options)
{
    static const char *const empty[] = {NULL};
    static const char *const sh[] = {"sh", "-c", NULL};
    static const char *const bad_env[] = {"NOEQUALS", NULL};
    uvproc_stdio_t extra = {.type = UVPROC_STDIO_PIPE};
    uv_loop_t loop;
    uvproc_process_t *p = (uvproc_process_t *)&loop;
    uvproc_remote_t r = {.launcher = empty};
    uvproc_spawn_options_t o = {.remote = &r};

    CHECK_OK(uv_loop_init(&loop));
    CHECK_EQ(uvproc_spawn(&loop, &p, CHILD_HELPER, NULL, &o), UV_EINVAL);
    CHECK(p == NULL);
    r = (uvproc_remote_t){.launcher = sh, .env = bad_env};
    CHECK_EQ(uvproc_spawn(&loop, &p, CHILD_HELPER, NULL, &o), UV_EINVAL);
    r = (uvproc_remote_t){.launcher = sh, .quote = (uvproc_remote_quote_t)7};
    CHECK_EQ(uvproc_spawn(&loop, &p, CHILD_HELPER, NULL, &o), UV_EINVAL);
    r = (uvproc_remote_t){.launcher = sh};
    o.extra_stdio = &extra;
    o.extra_stdio_count = 1;
    CHECK_EQ(uvproc_spawn(&loop, &p, CHILD_HELPER, NULL, &o), UV_EINVAL);
    CHECK_LOOP_CLOSE(&loop);
}

/* `sh -c STRING` reads its command as ssh's remote login shell does. */
TEST(shell_quoted_through_local_sh)
{
    static const char *const sh[] = {"sh", "-c", NULL};
    uvproc_remote_t r = {.launcher = sh, .quote = UVPROC_REMOTE_QUOTE_SHELL};
    uvproc_exec_result_t res;
    char *want = expected_argv_output();

    run_sync(&r, hard_args, &res);
    CHECK_EQ(res.error, 0);
    CHECK_STR(res.out, want);
    uvproc_exec_result_free(&res);
    free(want);
}

TEST(ssh_arguments_arrive_intact)
{
    uvproc_remote_t r = {.launcher = remote_ssh(1)};
    uvproc_exec_result_t res;
    char *want = expected_argv_output();

    run_sync(&r, hard_args, &res);
    if (res.error != 0)
        fprintf(stderr, "stderr: %s\n", res.err);
    CHECK_EQ(res.error, 0);
    CHECK_STR(res.out, want);
    uvproc_exec_result_free(&res);
    free(want);
}

TEST(ssh_remote_env_and_cwd)
{
    static const char *const env[] = {"UVPROC_T1=with space $x", "UVPROC_T2='q'", NULL};
    static const char *const env_args[] = {"env", "UVPROC_T1", "UVPROC_T2", "SSH_CONNECTION", NULL};
    static const char *const cwd_args[] = {"cwd", NULL};
    uvproc_remote_t r = {.launcher = remote_ssh(2), .env = env};
    uvproc_exec_result_t res;

    run_sync(&r, env_args, &res);
    CHECK_EQ(res.error, 0);
    CHECK(strstr(res.out, "UVPROC_T1=with space $x\nUVPROC_T2='q'\n") == res.out);
    /* It really ran behind sshd on 127.0.0.3. */
    CHECK(strstr(res.out, " 127.0.0.3 ") != NULL);
    uvproc_exec_result_free(&res);

    r = (uvproc_remote_t){.launcher = remote_ssh(2), .cwd = "/usr/share"};
    run_sync(&r, cwd_args, &res);
    CHECK_EQ(res.error, 0);
    CHECK_STR(res.out, "/usr/share\n");
    uvproc_exec_result_free(&res);
}

TEST(ssh_exit_status_and_stdin)
{
    static const char *const exit7[] = {"exit", "7", NULL};
    static const char *const echo[] = {"echo", NULL};
    uvproc_remote_t r = {.launcher = remote_ssh(1)};
    uvproc_exec_options_t o = {.spawn.remote = &r, .timeout_ms = 20000};
    uvproc_exec_result_t res;

    run_sync(&r, exit7, &res);
    CHECK_EQ(res.exit_code, 7);
    uvproc_exec_result_free(&res);

    o.input = "through ssh\n";
    o.input_len = strlen(o.input);
    CHECK_OK(uvproc_spawn_sync(CHILD_HELPER, echo, &o, &res));
    CHECK_EQ(res.exit_code, 0);
    CHECK_STR(res.out, "through ssh\n");
    uvproc_exec_result_free(&res);
}

/* Nobody listens on 127.0.0.9: ssh itself fails, with 255 as for any connection failure. */
TEST(ssh_connection_refused_is_255)
{
    static const char *const echo[] = {"exit", "0", NULL};
    const char *launcher[] = {"ssh", "-F", remote_ssh_config(), "127.0.0.9", NULL};
    uvproc_remote_t r = {.launcher = launcher};
    uvproc_exec_result_t res;

    run_sync(&r, echo, &res);
    CHECK_EQ(res.exit_code, 255);
    uvproc_exec_result_free(&res);
}

/* A missing launcher is the spawn error of the launcher, named as such. */
TEST(missing_launcher_is_enoent)
{
    static const char *const launcher[] = {"uvproc-no-such-launcher", NULL};
    uvproc_remote_t r = {.launcher = launcher};
    uvproc_exec_result_t res;

    run_sync(&r, NULL, &res);
    CHECK_EQ(res.error, UV_ENOENT);
    CHECK_STR(res.syscall, "spawn");
    uvproc_exec_result_free(&res);
}

int main(int argc, char **argv)
{
    RUN(quote_words);
    RUN(prefix_argv_shape);
    RUN(bad_remote_options);
    RUN(shell_quoted_through_local_sh);
    RUN(missing_launcher_is_enoent);
    RUN(ssh_arguments_arrive_intact);
    RUN(ssh_remote_env_and_cwd);
    RUN(ssh_exit_status_and_stdin);
    RUN(ssh_connection_refused_is_255);
    return check_done();
}
