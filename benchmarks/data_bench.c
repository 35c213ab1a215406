/*
 * data_bench: speed of the data layer, each step timed --runs times and
 * reported as the median (and the fastest and slowest run).
 *
 *   gen        the synthetic shop (--users users, --items items, the
 *              generator's other defaults), every file written
 *   events     loading that events.csv (parse, id maps, aggregation)
 *   snapshot   writing and loading a snapshot of that shape (--dim wide
 *              user, source and target embeddings, ids, popularity and a
 *              24-items-per-user seen CSR), fsyncs included
 *   idmap      1M string ids added, then looked up
 *
 * With --load DIR it instead measures loading an existing data set (one
 * written by `hoprec gen`), each loader once in a child process of its
 * own so that its peak RSS (getrusage of the child) is its own:
 *   splits     train.txt, valid.txt and test.txt (gnn_dataset_load_splits)
 *   events     events.csv (gnn_events_load: parse, id maps, aggregation)
 *   idmap      users.txt and items.txt into two id maps
 * and prints seconds, peak RSS, RSS above an idle child, and bytes per
 * interaction (split entries or event lines), with what stays held.
 *
 * Prints a Markdown table. Scratch files go under --dir (default
 * benchmarks/out/data_bench), which is left in place for inspection.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gnn.h"

struct opts {
    int users, items, dim, runs;
    const char *dir;
    const char *load; /* a data set folder: measure its loading instead */
};

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static void die(const char *what, const struct gnn_error *err)
{
    fprintf(stderr, "data_bench: %s: %s\n", what, err->text);
    exit(1);
}

/* One table row from the run times t[0..runs) and a work count. */
static void row(const char *step, const char *work, double amount,
                const char *unit, double *t, int runs)
{
    qsort(t, (size_t)runs, sizeof(*t), cmp_double);
    double med = t[runs / 2];
    printf("| %-16s | %-28s | %8.3f | %8.3f | %8.3f | %12.0f %s |\n", step,
           work, med, t[0], t[runs - 1], amount / med, unit);
}

static void bench_gen(const struct opts *o, char *dir, double *t,
                      struct gnn_gen_stats *st)
{
    struct gnn_gen_config c;
    struct gnn_error err;
    char work[64];

    gnn_gen_config_default(&c);
    c.n_users = o->users;
    c.n_items = o->items;
    snprintf(dir, 512, "%s/gen", o->dir);
    for (int r = 0; r < o->runs; r++) {
        double t0 = now();
        if (gnn_gen_write(&c, dir, st, NULL, NULL, &err) != 0)
            die("gen", &err);
        t[r] = now() - t0;
    }
    snprintf(work, sizeof(work), "%lld events", (long long)st->n_events);
    row("gen", work, (double)st->n_events, "events/s", t, o->runs);
}

static void bench_events(const struct opts *o, const char *gen_dir, double *t)
{
    struct gnn_event_set set;
    struct gnn_error err;
    char path[600], work[64];
    int64_t n = 0;

    snprintf(path, sizeof(path), "%s/events.csv", gen_dir);
    for (int r = 0; r < o->runs; r++) {
        double t0 = now();
        if (gnn_events_load(path, NULL, &set, &err) != 0)
            die("events", &err);
        t[r] = now() - t0;
        n = set.n_events;
        gnn_event_set_free(&set);
    }
    snprintf(work, sizeof(work), "%lld lines", (long long)n);
    row("events load", work, (double)n, "lines/s", t, o->runs);
}

static struct gnn_snapshot *make_snapshot(const struct opts *o)
{
    struct gnn_snapshot *s;
    struct gnn_error err;
    char id[32];
    uint64_t x = 88172645463325252ull;

    if (gnn_snapshot_new("bench", o->dim, o->users, o->items, &s, &err))
        die("snapshot", &err);
    size_t nu = (size_t)o->users * o->dim, ni = (size_t)o->items * o->dim;
    for (size_t i = 0; i < nu; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        s->users[i] = (float)(x >> 40) * 0x1.0p-24f - 0.5f;
    }
    for (size_t i = 0; i < ni; i++) {
        s->items_source[i] = s->users[i % nu];
        s->items_target[i] = -s->users[(i * 7) % nu];
    }
    for (int32_t u = 0; u < o->users; u++) {
        snprintf(id, sizeof(id), "u%07d", u);
        gnn_snapshot_set_user_id(s, u, id, NULL);
    }
    for (int32_t i = 0; i < o->items; i++) {
        snprintf(id, sizeof(id), "sku-%07d", i);
        gnn_snapshot_set_item_id(s, i, id, NULL);
    }
    s->item_popularity = calloc((size_t)o->items, sizeof(float));
    s->seen_indptr = malloc(((size_t)o->users + 1) * sizeof(int64_t));
    s->seen_items = malloc((size_t)o->users * 24 * sizeof(int32_t));
    s->seen_indptr[0] = 0;
    for (int32_t u = 0; u < o->users; u++) {
        for (int k = 0; k < 24; k++)
            s->seen_items[(size_t)u * 24 + k] = (u * 31 + k * 977) % o->items;
        s->seen_indptr[u + 1] = (int64_t)(u + 1) * 24;
    }
    return s;
}

static void bench_snapshot(const struct opts *o, double *tw, double *tl)
{
    struct gnn_snapshot *s = make_snapshot(o), *r;
    struct gnn_error err;
    char dir[600], work[64];
    double mb = ((double)(o->users + 2.0 * o->items) * o->dim * 4 +
                 (double)o->users * 24 * 4) /
                1e6;

    snprintf(dir, sizeof(dir), "%s/snapshot", o->dir);
    for (int k = 0; k < o->runs; k++) {
        double t0 = now();
        if (gnn_snapshot_write(s, dir, &err) != 0)
            die("snapshot write", &err);
        tw[k] = now() - t0;
        t0 = now();
        if (gnn_snapshot_load(dir, &r, &err) != 0)
            die("snapshot load", &err);
        tl[k] = now() - t0;
        gnn_snapshot_free(r);
    }
    snprintf(work, sizeof(work), "%.0f MB of arrays", mb);
    row("snapshot write", work, mb, "MB/s", tw, o->runs);
    row("snapshot load", work, mb, "MB/s", tl, o->runs);
    gnn_snapshot_free(s);
}

static void bench_idmap(const struct opts *o, double *ta, double *tl)
{
    const int n = 1000000;
    char id[32];

    for (int r = 0; r < o->runs; r++) {
        struct gnn_idmap *m;
        gnn_idmap_new(&m, NULL);
        double t0 = now();
        for (int i = 0; i < n; i++) {
            int len = snprintf(id, sizeof(id), "account-%09d", i * 13);
            gnn_idmap_get_or_add(m, id, (size_t)len, NULL, NULL);
        }
        ta[r] = now() - t0;
        t0 = now();
        for (int i = 0; i < n; i++) {
            int len = snprintf(id, sizeof(id), "account-%09d", i * 13);
            if (gnn_idmap_lookup(m, id, (size_t)len) != i)
                exit(1);
        }
        tl[r] = now() - t0;
        gnn_idmap_free(m);
    }
    row("idmap add", "1M ids (incl. snprintf)", n, "ids/s", ta, o->runs);
    row("idmap lookup", "1M ids (incl. snprintf)", n, "ids/s", tl, o->runs);
}

/* ------------------------------------------------------ --load */

/* What a loader step reports from its child through a pipe. */
struct load_result {
    double seconds;
    int64_t n;     /* interactions (split entries or event lines) */
    int64_t kept;  /* entries held afterwards */
    double held;   /* bytes of the arrays and maps held afterwards */
    char what[96]; /* a short description */
    int failed;
};

static double interactions_bytes(const struct gnn_interactions *x)
{
    /* user, item, weight, time: 20 bytes per allocated entry */
    return (double)x->cap * 20.0;
}

static void load_splits(const char *dir, struct load_result *r)
{
    struct gnn_dataset ds;
    struct gnn_error err;
    double t0 = now();

    if (gnn_dataset_load_splits(dir, &ds, &err) != 0) {
        snprintf(r->what, sizeof(r->what), "%.90s", err.text);
        r->failed = 1;
        return;
    }
    r->seconds = now() - t0;
    r->n = ds.train.n + ds.valid.n + ds.test.n;
    r->kept = r->n;
    r->held = interactions_bytes(&ds.train) + interactions_bytes(&ds.valid) +
              interactions_bytes(&ds.test);
    snprintf(r->what, sizeof(r->what), "%d users, %d items", ds.n_users,
             ds.n_items);
    gnn_dataset_free(&ds);
}

static void load_events(const char *dir, struct load_result *r)
{
    struct gnn_event_set set;
    struct gnn_error err;
    char path[600];
    double t0 = now();

    snprintf(path, sizeof(path), "%s/events.csv", dir);
    if (gnn_events_load(path, NULL, &set, &err) != 0) {
        snprintf(r->what, sizeof(r->what), "%.90s", err.text);
        r->failed = 1;
        return;
    }
    r->seconds = now() - t0;
    r->n = set.n_events;
    r->kept = set.x.n;
    r->held = interactions_bytes(&set.x) + (double)gnn_idmap_memory(set.users) +
              (double)gnn_idmap_memory(set.items);
    snprintf(r->what, sizeof(r->what), "%lld (user, item) pairs",
             (long long)set.x.n);
    gnn_event_set_free(&set);
}

/* Each line of path into m; the number of lines, or -1. */
static int64_t ids_into(const char *path, struct gnn_idmap *m)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int64_t n = 0;

    if (f == NULL)
        return -1;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] == '\n')
            len--;
        if (gnn_idmap_get_or_add(m, line, (size_t)len, NULL, NULL) < 0)
            break;
        n++;
    }
    free(line);
    fclose(f);
    return n;
}

static void load_ids(const char *dir, struct load_result *r)
{
    struct gnn_idmap *users, *items;
    char pu[600], pi[600];
    double t0 = now();

    snprintf(pu, sizeof(pu), "%s/users.txt", dir);
    snprintf(pi, sizeof(pi), "%s/items.txt", dir);
    gnn_idmap_new(&users, NULL);
    gnn_idmap_new(&items, NULL);
    int64_t nu = ids_into(pu, users), ni = ids_into(pi, items);
    r->seconds = now() - t0;
    if (nu < 0 || ni < 0) {
        snprintf(r->what, sizeof(r->what), "cannot read the id files");
        r->failed = 1;
    }
    r->n = nu + ni;
    r->kept = r->n;
    r->held = (double)gnn_idmap_memory(users) + (double)gnn_idmap_memory(items);
    snprintf(r->what, sizeof(r->what), "%lld user + %lld item ids",
             (long long)nu, (long long)ni);
    gnn_idmap_free(users);
    gnn_idmap_free(items);
}

/* Run step in a child; its result and peak RSS in bytes, its CPU
 * seconds (user and system) in *cpu. */
static double in_child(void (*step)(const char *, struct load_result *),
                       const char *dir, struct load_result *r, double *cpu)
{
    struct rusage ru;
    int fd[2], status;

    memset(r, 0, sizeof(*r));
    if (pipe(fd) != 0)
        exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        struct load_result mine;
        memset(&mine, 0, sizeof(mine));
        if (step != NULL)
            step(dir, &mine);
        ssize_t w = write(fd[1], &mine, sizeof(mine));
        _exit(w == (ssize_t)sizeof(mine) ? 0 : 1);
    }
    close(fd[1]);
    if (read(fd[0], r, sizeof(*r)) != (ssize_t)sizeof(*r))
        r->failed = 1;
    close(fd[0]);
    if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status))
        r->failed = 1;
    *cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    return (double)ru.ru_maxrss * 1024.0;
}

static int bench_load(const char *dir)
{
    static const struct {
        const char *name;
        void (*fn)(const char *, struct load_result *);
    } steps[] = {{"splits", load_splits},
                 {"events", load_events},
                 {"id files", load_ids}};
    struct load_result r;
    double cpu;
    double base = in_child(NULL, dir, &r, &cpu);

    printf("data_bench --load %s (an idle child peaks at %.1f MiB)\n\n", dir,
           base / 1048576.0);
    printf("| loader | what | interactions | seconds | CPU s | peak RSS MiB "
           "| peak bytes/interaction | held bytes/entry kept |\n"
           "|---|---|---:|---:|---:|---:|---:|---:|\n");
    for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
        double peak = in_child(steps[k].fn, dir, &r, &cpu);
        if (r.failed) {
            fprintf(stderr, "data_bench: %s: %s\n", steps[k].name, r.what);
            return 1;
        }
        printf("| %s | %s | %lld | %.2f | %.2f | %.1f | %.1f | %.1f |\n",
               steps[k].name, r.what, (long long)r.n, r.seconds, cpu,
               peak / 1048576.0, (peak - base) / (double)r.n,
               r.held / (double)r.kept);
        fflush(stdout);
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = {100000, 20000, 64, 3, "benchmarks/out/data_bench", NULL};
    static const struct option longopts[] = {
        {"users", required_argument, NULL, 'u'},
        {"items", required_argument, NULL, 'i'},
        {"dim", required_argument, NULL, 'd'},
        {"runs", required_argument, NULL, 'r'},
        {"dir", required_argument, NULL, 'o'},
        {"load", required_argument, NULL, 'l'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'u':
            o.users = atoi(optarg);
            break;
        case 'i':
            o.items = atoi(optarg);
            break;
        case 'd':
            o.dim = atoi(optarg);
            break;
        case 'r':
            o.runs = atoi(optarg);
            break;
        case 'o':
            o.dir = optarg;
            break;
        case 'l':
            o.load = optarg;
            break;
        default:
            fprintf(stderr, "usage: data_bench [--users N] [--items M] "
                            "[--dim D] [--runs R] [--dir DIR]\n"
                            "       data_bench --load DATASET_DIR\n");
            return 2;
        }
    }
    if (o.users < 1 || o.items < 2 || o.dim < 1 || o.runs < 1 || o.runs > 64) {
        fprintf(stderr, "data_bench: bad sizes\n");
        return 2;
    }
    if (o.load != NULL)
        return bench_load(o.load);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", o.dir);
    if (system(cmd) != 0)
        return 1;

    double t1[64], t2[64];
    struct gnn_gen_stats st;
    char gen_dir[512];

    printf("data_bench --users %d --items %d --dim %d --runs %d\n\n", o.users,
           o.items, o.dim, o.runs);
    printf("| step             | work                         | median s "
           "|  fastest |  slowest |              rate |\n"
           "|---|---|---:|---:|---:|---:|\n");
    bench_gen(&o, gen_dir, t1, &st);
    bench_events(&o, gen_dir, t1);
    bench_snapshot(&o, t1, t2);
    bench_idmap(&o, t1, t2);
    return 0;
}
