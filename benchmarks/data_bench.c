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
 * Prints a Markdown table. Scratch files go under --dir (default
 * benchmarks/out/data_bench), which is left in place for inspection.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "gnn.h"

struct opts {
    int users, items, dim, runs;
    const char *dir;
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

int main(int argc, char **argv)
{
    struct opts o = {100000, 20000, 64, 3, "benchmarks/out/data_bench"};
    static const struct option longopts[] = {
        {"users", required_argument, NULL, 'u'},
        {"items", required_argument, NULL, 'i'},
        {"dim", required_argument, NULL, 'd'},
        {"runs", required_argument, NULL, 'r'},
        {"dir", required_argument, NULL, 'o'},
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
        default:
            fprintf(stderr, "usage: data_bench [--users N] [--items M] "
                            "[--dim D] [--runs R] [--dir DIR]\n");
            return 2;
        }
    }
    if (o.users < 1 || o.items < 2 || o.dim < 1 || o.runs < 1 || o.runs > 64) {
        fprintf(stderr, "data_bench: bad sizes\n");
        return 2;
    }
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
