#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"

static char *name;
static long layers;
static double lr;
static bool verbose;
static char *config;

static struct svc_opt opts[] = {
    {"config", SVC_OPT_STR, &config, NULL, "FILE", "config file", 0, 0, false},
    {"name", SVC_OPT_STR, &name, "lightgcn", "NAME", "model", 0, 0, false},
    {"layers", SVC_OPT_INT, &layers, "2", "L", "hops", 0, 64, false},
    {"learning-rate", SVC_OPT_DOUBLE, &lr, "0.001", "X", "lr", 0, 1, false},
    {"verbose", SVC_OPT_BOOL, &verbose, "false", NULL, "talk", 0, 0, false},
    {NULL, 0, NULL, NULL, NULL, NULL, 0, 0, false},
};

static int run_nothing(const struct svc_cmd *cmd, int argc, char **argv)
{
    return 0;
}

static const struct svc_cmd cmd = {
    .name = "demo",
    .summary = "a test command",
    .usage = "[options]",
    .opts = opts,
    .run = run_nothing,
};

static void clean_env(void)
{
    unsetenv("HOPREC_LAYERS");
    unsetenv("HOPREC_NAME");
    unsetenv("HOPREC_CONFIG");
    unsetenv("HOPREC_LEARNING_RATE");
    cr_redirect_stderr();
}

static int parse(int argc, char **argv)
{
    int first = -1;
    return svc_cli_parse(&cmd, argc, argv, &first);
}

static char *write_config(const char *text)
{
    static char path[] = "/tmp/hoprec-test-cli-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

TestSuite(cli, .init = clean_env);

Test(cli, defaults_apply_when_nothing_is_given)
{
    cr_assert_eq(parse(1, (char *[]){"demo", NULL}), 0);
    cr_assert_str_eq(name, "lightgcn");
    cr_assert_eq(layers, 2);
    cr_assert_float_eq(lr, 0.001, 1e-12);
    cr_assert_not(verbose);
    svc_cli_free(&cmd);
}

Test(cli, flags_in_both_spellings_and_positionals)
{
    int first = -1;
    char *argv[] = {"demo",      "--layers", "8", "--name=gcn",
                    "--verbose", "extra",    NULL};

    cr_assert_eq(svc_cli_parse(&cmd, 6, argv, &first), 0);
    cr_assert_eq(layers, 8);
    cr_assert_str_eq(name, "gcn");
    cr_assert(verbose);
    cr_assert_eq(first, 5);
    svc_cli_free(&cmd);
}

Test(cli, flags_beat_environment_which_beats_the_file)
{
    char *path = write_config("# comment\nlayers = 3\nname = \"mf\"\n"
                              "learning-rate = 0.5\nother-key = 1\n");

    setenv("HOPREC_LAYERS", "5", 1);
    setenv("HOPREC_CONFIG", path, 1);
    char *argv[] = {"demo", "--learning-rate", "0.25", NULL};

    cr_assert_eq(parse(3, argv), 0);
    cr_assert_str_eq(name, "mf", "the file sets what nothing else does");
    cr_assert_eq(layers, 5, "the environment wins over the file");
    cr_assert_float_eq(lr, 0.25, 1e-12, "the flag wins over both");
    svc_cli_free(&cmd);
    unlink(path);
}

Test(cli, bad_values_are_usage_errors)
{
    cr_assert_eq(parse(3, (char *[]){"demo", "--layers", "x", NULL}), 2);
    cr_assert_eq(parse(3, (char *[]){"demo", "--layers", "65", NULL}), 2);
    cr_assert_eq(parse(2, (char *[]){"demo", "--verbose=maybe", NULL}), 2);
    cr_assert_eq(parse(2, (char *[]){"demo", "--layers", NULL}), 2);
    cr_assert_eq(parse(2, (char *[]){"demo", "--nope", NULL}), 2);
    setenv("HOPREC_LEARNING_RATE", "fast", 1);
    cr_assert_eq(parse(1, (char *[]){"demo", NULL}), 2);
    svc_cli_free(&cmd);
}

Test(cli, a_bad_config_line_names_file_and_line)
{
    char *path = write_config("layers = 2\nthis line is wrong\n");
    char *argv[] = {"demo", "--config", path, NULL};

    cr_assert_eq(parse(3, argv), 2);
    fflush(stderr);
    char line[512] = "";
    fgets(line, sizeof(line), cr_get_redirected_stderr());
    cr_assert_not_null(strstr(line, ":2: expected 'name = value'"), "%s", line);
    svc_cli_free(&cmd);
    unlink(path);
}

Test(cli, help_is_printed_and_reported, .init = cr_redirect_stdout)
{
    cr_assert_eq(parse(2, (char *[]){"demo", "--help", NULL}), 1);
    fflush(stdout);
    cr_assert_stdout_neq_str("");
}

static char *long_text;

static struct svc_opt wordy_opts[] = {
    {"a-rather-long-option-name", SVC_OPT_STR, &long_text, "x", "VALUE",
     "this help text is long enough that it has to be wrapped over several "
     "lines of the terminal so that nothing runs past the right margin of "
     "an eighty column screen",
     0, 0, false},
    {NULL, 0, NULL, NULL, NULL, NULL, 0, 0, false},
};

Test(cli, help_is_wrapped_within_80_columns, .init = cr_redirect_stdout)
{
    const struct svc_cmd wordy = {
        .name = "wordy",
        .usage = "[options]",
        .description = "First paragraph, long enough to need wrapping, "
                       "because it goes on and on about what the command "
                       "does.\n\nSecond paragraph.",
        .opts = wordy_opts,
    };
    char line[256];
    int lines = 0;

    svc_cli_print_help(&wordy);
    fflush(stdout);
    FILE *out = cr_get_redirected_stdout();
    while (fgets(line, sizeof(line), out) != NULL) {
        cr_assert_leq(strlen(line), 80, "too wide: %s", line);
        lines++;
    }
    cr_assert_geq(lines, 10);
}
