#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* `hoprec gen` run as the real binary (HOPREC_BIN, set by meson). */

static char root[64];
static char out_path[128];

static int rm_entry(const char *p, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    return remove(p);
}

static void setup(void)
{
    strcpy(root, "/tmp/hoprec-cmdgen-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    snprintf(out_path, sizeof(out_path), "%s/output.txt", root);
}

static void teardown(void)
{
    nftw(root, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(cmd_gen, .init = setup, .fini = teardown);

/* Run hoprec with args; stdout and stderr go to out_path. Exit status. */
static int run(const char *args)
{
    const char *bin = getenv("HOPREC_BIN");
    char cmd[1024];

    cr_assert_not_null(bin, "HOPREC_BIN is not set");
    snprintf(cmd, sizeof(cmd), "%s %s >%s 2>&1", bin, args, out_path);
    int status = system(cmd);
    cr_assert(WIFEXITED(status), "'%s' did not exit", cmd);
    return WEXITSTATUS(status);
}

static char *output(void)
{
    FILE *f = fopen(out_path, "r");
    static char buf[16384];

    cr_assert_not_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int lines(const char *s)
{
    int n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

Test(cmd_gen, help_describes_the_files_and_options)
{
    cr_assert_eq(run("gen --help"), 0);
    char *text = output();
    const char *want[] = {"--out DIR",    "--users",
                          "--items",      "--seed",
                          "--categories", "events.csv",
                          "train.txt",    "pairs_test.txt",
                          "items.txt",    "--sessions-per-user"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        cr_assert(strstr(text, want[i]) != NULL, "help lacks '%s'", want[i]);
}

Test(cmd_gen, bad_values_exit_2_with_one_line)
{
    const char *bad[] = {
        "gen",
        "gen --out x --users 0",
        "gen --out x --users lots",
        "gen --out x --items 10 --categories 11",
        "gen --out x --zipf -1",
        "gen --out x --valid-share 0.5 --test-share 0.5",
        "gen --out x extra",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(run(bad[i]), 2, "'%s' did not exit 2", bad[i]);
        char *text = output();
        cr_assert_eq(lines(text), 1, "'%s' printed: %s", bad[i], text);
        cr_assert(strncmp(text, "hoprec gen: ", 12) == 0, "%s", text);
    }
}

Test(cmd_gen, writes_the_data_set_and_a_summary)
{
    char args[256], path[256];
    struct stat st;
    const char *files[] = {"events.csv",     "train.txt",          "valid.txt",
                           "test.txt",       "users.txt",          "items.txt",
                           "pairs_test.txt", "item_categories.txt"};

    snprintf(args, sizeof(args),
             "gen --out %s/demo --users 60 --items 90 --seed 5", root);
    cr_assert_eq(run(args), 0, "%s", output());
    cr_assert(strstr(output(), "60 users") != NULL, "%s", output());
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/demo/%s", root, files[i]);
        cr_assert_eq(stat(path, &st), 0, "%s missing", files[i]);
    }

    /* A folder that cannot be made is a run failure (1), not usage. */
    snprintf(args, sizeof(args), "gen --out %s/no/such/dir", root);
    cr_assert_eq(run(args), 1);
    cr_assert(strstr(output(), "no/such/dir") != NULL, "%s", output());
}

Test(cmd_gen, interactions_size_the_data_set)
{
    char args[256], path[256];

    snprintf(args, sizeof(args), "gen --out %s/sized --interactions 20000",
             root);
    cr_assert_eq(run(args), 0, "%s", output());
    snprintf(path, sizeof(path), "%s/sized/events.csv", root);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    long n = -1; /* the header */
    int ch;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    cr_assert_geq(n, 20000);
    cr_assert_leq(n, 20600, "%ld events for 20000", n);

    snprintf(args, sizeof(args), "gen --out %s/bad --interactions -5", root);
    cr_assert_eq(run(args), 2);
    cr_assert_eq(lines(output()), 1, "%s", output());
}
