/*
 * search_bench: throughput and latency of the index layer on a catalog of
 * Gowalla's size (40,981 items, 29,858 users, dim 64 by default).
 *
 * Embeddings are random (i.i.d. normal), not trained: a flat search costs
 * the same whatever the numbers, and for HNSW random vectors are a hard,
 * pessimistic case for recall. Each user "has seen" 24 random items
 * (Gowalla's mean is 24.1 training items per user), used where a row says
 * "filtered".
 *
 * Rows: one query per call through the FAISS C API; the same through
 * idx_search_filtered() with the seen items excluded; batched calls;
 * T threads each issuing single filtered queries, directly and through
 * the coalescing batcher; HNSW at several efSearch with recall@20 against
 * the exact answer. Prints a Markdown table; --out also writes it to a
 * file with the command line that produced it.
 */
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gnn_snapshot.h"
#include "idx.h"

#define SEEN 24

struct opts {
    int items, users, dim, queries, threads, k, batch, wait_us;
    int blas_threshold; /* 0: FAISS's default */
    bool skip_hnsw, append;
    int repeat; /* runs of every row; the table shows medians */
    const char *out;
    const char *snapshot; /* trained embeddings instead of random ones */
};

struct row {
    char path[64];
    long queries;
    int threads, batch;
    double qps, p50_ms, p99_ms;
    char note[64];
};

static struct opts o = {.items = 40981,
                        .users = 29858,
                        .dim = 64,
                        .queries = 1000,
                        .threads = 64,
                        .k = 20,
                        .batch = 64,
                        .wait_us = 200,
                        .repeat = 1};
static float *items, *users;
/* Each user's seen rows as CSR: seen_ptr has users + 1 entries. */
static int64_t *seen_ptr, *seen_rows;
static const char *source = "random normal embeddings";
static struct row rows[256];
static int n_rows;

/* ------------------------------------------------------------------ */
/* Data and timing                                                     */

static uint64_t rng = 12345;

static double uniform(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((rng >> 11) + 0.5) / (double)(1ULL << 53);
}

static float normal(void)
{
    return (float)(sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform()));
}

static void *alloc(size_t bytes)
{
    void *p = malloc(bytes);

    if (p == NULL) {
        fprintf(stderr, "search_bench: out of memory\n");
        exit(1);
    }
    return p;
}

static void make_data(void)
{
    size_t ni = (size_t)o.items * o.dim, nu = (size_t)o.users * o.dim;

    items = alloc(ni * sizeof(float));
    users = alloc(nu * sizeof(float));
    seen_ptr = alloc(((size_t)o.users + 1) * sizeof(int64_t));
    seen_rows = alloc((size_t)o.users * SEEN * sizeof(int64_t));
    for (size_t i = 0; i < ni; i++)
        items[i] = normal();
    for (size_t i = 0; i < nu; i++)
        users[i] = normal();
    for (int u = 0; u <= o.users; u++)
        seen_ptr[u] = (int64_t)u * SEEN;
    for (size_t i = 0; i < (size_t)o.users * SEEN; i++)
        seen_rows[i] = (int64_t)(uniform() * o.items);
}

/* Trained embeddings: the snapshot's item targets are the catalog, its
 * users the queries, its seen lists the exclusions. */
static void load_snapshot(const char *dir)
{
    struct gnn_snapshot *s = NULL;
    struct gnn_error err = {0};
    static char what[300];

    if (gnn_snapshot_load(dir, &s, &err) != 0) {
        fprintf(stderr, "search_bench: %s\n", err.text);
        exit(1);
    }
    if (s->n_users < 1 || s->seen_indptr == NULL) {
        fprintf(stderr, "search_bench: %s has no users or seen lists\n", dir);
        exit(1);
    }
    o.items = s->n_items;
    o.users = s->n_users;
    o.dim = s->dim;
    items = alloc((size_t)o.items * o.dim * sizeof(float));
    users = alloc((size_t)o.users * o.dim * sizeof(float));
    memcpy(items, s->items_target, (size_t)o.items * o.dim * sizeof(float));
    memcpy(users, s->users, (size_t)o.users * o.dim * sizeof(float));
    seen_ptr = alloc(((size_t)o.users + 1) * sizeof(int64_t));
    seen_rows = alloc((size_t)s->seen_indptr[o.users] * sizeof(int64_t) + 1);
    memcpy(seen_ptr, s->seen_indptr, ((size_t)o.users + 1) * sizeof(int64_t));
    for (int64_t i = 0; i < s->seen_indptr[o.users]; i++)
        seen_rows[i] = s->seen_items[i];
    snprintf(what, sizeof(what), "trained \"%s\" embeddings from %s", s->model,
             dir);
    source = what;
    gnn_snapshot_free(s);
}

/* The rows user q has seen: *n of them. */
static const int64_t *seen_of(long q, size_t *n)
{
    long u = q % o.users;

    *n = (size_t)(seen_ptr[u + 1] - seen_ptr[u]);
    return seen_rows + seen_ptr[u];
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Fill a table row from per-call latencies (seconds) and the wall time. */
static void add_row(const char *path, long queries, int threads, int batch,
                    double *lat, long n_lat, double wall, const char *note)
{
    struct row *r = &rows[n_rows++];

    if (n_rows == (int)(sizeof(rows) / sizeof(rows[0]))) {
        fprintf(stderr, "search_bench: too many rows\n");
        exit(1);
    }
    qsort(lat, (size_t)n_lat, sizeof(double), cmp_double);
    snprintf(r->path, sizeof(r->path), "%s", path);
    snprintf(r->note, sizeof(r->note), "%s", note);
    r->queries = queries;
    r->threads = threads;
    r->batch = batch;
    r->qps = queries / wall;
    r->p50_ms = lat[n_lat / 2] * 1e3;
    r->p99_ms =
        lat[(long)(n_lat * 0.99) < n_lat ? (long)(n_lat * 0.99) : n_lat - 1] *
        1e3;
    fprintf(stderr, "  %-34s %9.0f q/s  p50 %.3f ms  p99 %.3f ms\n", path,
            r->qps, r->p50_ms, r->p99_ms);
}

static void die_idx(const char *what, const struct idx_error *err)
{
    fprintf(stderr, "search_bench: %s: %s\n", what, err->text);
    exit(1);
}

static const float *user_vec(long q)
{
    return users + (size_t)(q % o.users) * o.dim;
}

/* ------------------------------------------------------------------ */
/* Single thread                                                       */

/* idx_search() is a thin wrapper of faiss_Index_search(): this row is
 * the plain FAISS C API cost of one query per call. */
static void bench_plain_single(const struct idx *ix)
{
    double *lat = malloc((size_t)o.queries * sizeof(double));
    float *d = malloc((size_t)o.k * sizeof(float));
    int64_t *l = malloc((size_t)o.k * sizeof(int64_t));
    struct idx_error err = {0};
    double t0 = now();

    for (long q = 0; q < o.queries; q++) {
        double t = now();
        if (idx_search(ix, 1, user_vec(q), o.dim, o.k, d, l, &err) != 0)
            die_idx("search", &err);
        lat[q] = now() - t;
    }
    add_row("FAISS C API, one query per call", o.queries, 1, 1, lat, o.queries,
            now() - t0, "IndexFlatIP, no filter");
    free(lat);
    free(d);
    free(l);
}

static void bench_filtered_single(const struct idx *ix)
{
    double *lat = malloc((size_t)o.queries * sizeof(double));
    float *s = malloc((size_t)o.k * sizeof(float));
    int64_t *l = malloc((size_t)o.k * sizeof(int64_t));
    struct idx_error err = {0};
    double t0 = now();

    for (long q = 0; q < o.queries; q++) {
        size_t n_seen;
        const int64_t *ex = seen_of(q, &n_seen);
        struct idx_query iq = {.vec = user_vec(q),
                               .dim = o.dim,
                               .k = o.k,
                               .exclude = ex,
                               .n_exclude = n_seen,
                               .labels = l,
                               .scores = s};
        double t = now();
        if (idx_search_filtered(ix, &iq, 1, &err) != 0)
            die_idx("filtered search", &err);
        lat[q] = now() - t;
    }
    add_row("idx_search_filtered, one query", o.queries, 1, 1, lat, o.queries,
            now() - t0, "seen rows excluded");
    free(lat);
    free(s);
    free(l);
}

static void bench_batched(const struct idx *ix, int batch)
{
    long nq = o.queries > 8 * batch ? o.queries : 8 * batch;
    long calls = (nq + batch - 1) / batch;
    double *lat = malloc((size_t)calls * sizeof(double));
    struct idx_query *qs = calloc((size_t)batch, sizeof(*qs));
    float *s = malloc((size_t)batch * o.k * sizeof(float));
    int64_t *l = malloc((size_t)batch * o.k * sizeof(int64_t));
    struct idx_error err = {0};
    char path[64], note[64];
    double t0 = now();

    for (long c = 0; c < calls; c++) {
        for (int i = 0; i < batch; i++) {
            long q = c * batch + i;
            size_t n_seen;
            const int64_t *ex = seen_of(q, &n_seen);
            qs[i] = (struct idx_query){.vec = user_vec(q),
                                       .dim = o.dim,
                                       .k = o.k,
                                       .exclude = ex,
                                       .n_exclude = n_seen,
                                       .labels = l + (size_t)i * o.k,
                                       .scores = s + (size_t)i * o.k};
        }
        double t = now();
        if (idx_search_filtered(ix, qs, (size_t)batch, &err) != 0)
            die_idx("batched search", &err);
        lat[c] = now() - t;
    }
    snprintf(path, sizeof(path), "idx_search_filtered, batch %d", batch);
    snprintf(note, sizeof(note), "latency is per batch call");
    add_row(path, calls * batch, 1, batch, lat, calls, now() - t0, note);
    free(lat);
    free(qs);
    free(s);
    free(l);
}

/* ------------------------------------------------------------------ */
/* Concurrent threads                                                  */

struct worker {
    const struct idx *ix;
    struct idx_batcher *batcher; /* NULL: search directly */
    int id;
    long per;
    double *lat; /* per entries */
    pthread_barrier_t *start;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    float *s = malloc((size_t)o.k * sizeof(float));
    int64_t *l = malloc((size_t)o.k * sizeof(int64_t));
    struct idx_error err = {0};

    pthread_barrier_wait(w->start);
    for (long i = 0; i < w->per; i++) {
        long q = w->id * w->per + i;
        size_t n_seen;
        const int64_t *ex = seen_of(q, &n_seen);
        struct idx_query iq = {.vec = user_vec(q),
                               .dim = o.dim,
                               .k = o.k,
                               .exclude = ex,
                               .n_exclude = n_seen,
                               .labels = l,
                               .scores = s};
        double t = now();
        int rc = w->batcher != NULL ? idx_batcher_search(w->batcher, &iq, &err)
                                    : idx_search_filtered(w->ix, &iq, 1, &err);
        if (rc != 0)
            die_idx("concurrent search", &err);
        w->lat[i] = now() - t;
    }
    free(s);
    free(l);
    return NULL;
}

static void bench_threads(const struct idx *ix, bool coalesce)
{
    long per = (o.queries + o.threads - 1) / o.threads;
    long total = per * o.threads;
    double *lat = malloc((size_t)total * sizeof(double));
    pthread_t *t = malloc((size_t)o.threads * sizeof(*t));
    struct worker *w = malloc((size_t)o.threads * sizeof(*w));
    struct idx_batcher *b = NULL;
    struct idx_error err = {0};
    pthread_barrier_t start;
    char path[64], note[64];
    double t0;

    if (coalesce && idx_batcher_new(ix, o.batch, o.wait_us, &b, &err) != 0)
        die_idx("batcher", &err);
    pthread_barrier_init(&start, NULL, (unsigned)o.threads + 1);
    for (int i = 0; i < o.threads; i++) {
        w[i] = (struct worker){.ix = ix,
                               .batcher = b,
                               .id = i,
                               .per = per,
                               .lat = lat + i * per,
                               .start = &start};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    /* Before the barrier: the workers may all finish before this thread
     * runs again after it. */
    t0 = now();
    pthread_barrier_wait(&start);
    for (int i = 0; i < o.threads; i++)
        pthread_join(t[i], NULL);

    snprintf(path, sizeof(path), "%d threads, %s", o.threads,
             coalesce ? "coalesced" : "one query per call");
    if (coalesce) {
        uint64_t batches, queries;
        idx_batcher_stats(b, &batches, &queries);
        snprintf(note, sizeof(note), "mean batch %.1f, wait <= %d us",
                 queries / (double)batches, o.wait_us);
    } else
        snprintf(note, sizeof(note), "seen excluded, each alone");
    add_row(path, total, o.threads, coalesce ? o.batch : 1, lat, total,
            now() - t0, note);
    pthread_barrier_destroy(&start);
    idx_batcher_free(b);
    free(lat);
    free(t);
    free(w);
}

/* ------------------------------------------------------------------ */
/* HNSW                                                                */

static void bench_hnsw(const struct idx *exact, const int *efs, int n_ef)
{
    struct idx_config cfg = {.factory = "HNSW32,Flat", .nthreads = 1};
    struct idx_error err = {0};
    struct idx *ix = NULL;
    long nq = o.queries;
    float *s = malloc((size_t)nq * o.k * sizeof(float));
    int64_t *truth = malloc((size_t)nq * o.k * sizeof(int64_t));
    int64_t *got = malloc((size_t)nq * o.k * sizeof(int64_t));
    float *qv = malloc((size_t)nq * o.dim * sizeof(float));
    double *lat = malloc((size_t)nq * sizeof(double));
    double t0 = now();
    char note[64], path[64];

    if (idx_build(&cfg, items, o.items, o.dim, &ix, &err) != 0)
        die_idx("hnsw build", &err);
    fprintf(stderr, "  HNSW32,Flat built in %.1f s\n", now() - t0);
    for (long q = 0; q < nq; q++)
        memcpy(qv + q * o.dim, user_vec(q), (size_t)o.dim * sizeof(float));
    if (idx_search(exact, nq, qv, o.dim, o.k, s, truth, &err) != 0)
        die_idx("exact truth", &err);

    for (int e = 0; e < n_ef * o.repeat; e++) {
        long hits = 0;
        int ef = efs[e % n_ef];

        if (idx_set_param(ix, "efSearch", ef, &err) != 0)
            die_idx("efSearch", &err);
        t0 = now();
        for (long q = 0; q < nq; q++) {
            double t = now();
            if (idx_search(ix, 1, qv + q * o.dim, o.dim, o.k, s, got + q * o.k,
                           &err) != 0)
                die_idx("hnsw search", &err);
            lat[q] = now() - t;
        }
        double wall = now() - t0;
        for (long q = 0; q < nq; q++) {
            for (int i = 0; i < o.k; i++) {
                for (int j = 0; j < o.k; j++)
                    hits += got[q * o.k + i] == truth[q * o.k + j];
            }
        }
        snprintf(path, sizeof(path), "HNSW32,Flat efSearch=%d", ef);
        snprintf(note, sizeof(note), "recall@%d vs exact = %.3f", o.k,
                 hits / (double)(nq * o.k));
        add_row(path, nq, 1, 1, lat, nq, wall, note);
    }
    idx_free(ix);
    free(s);
    free(truth);
    free(got);
    free(qv);
    free(lat);
}

/* ------------------------------------------------------------------ */
/* Report                                                              */

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One line per path, at its first run, with medians over its runs. */
static void print_line(FILE *f, int i)
{
    double qps[64], p50[64], p99[64];
    int n = 0;

    for (int j = i; j < n_rows && n < 64; j++) {
        if (strcmp(rows[j].path, rows[i].path) != 0)
            continue;
        qps[n] = rows[j].qps;
        p50[n] = rows[j].p50_ms;
        p99[n++] = rows[j].p99_ms;
    }
    fprintf(f, "| %s | %ld | %d | %d | %.0f | %.3f | %.3f | %s |\n",
            rows[i].path, rows[i].queries, rows[i].threads, rows[i].batch,
            median(qps, n), median(p50, n), median(p99, n), rows[i].note);
}

static void print_table(FILE *f, int argc, char **argv)
{
    double load[3] = {0};
    time_t t = time(NULL);
    char when[32];

    getloadavg(load, 3);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", gmtime(&t));
    fprintf(f,
            "Catalog: %d items, %d users, dim %d, %s; k = %d; FAISS BLAS "
            "threshold %d; %ld cores "
            "online; load average %.2f at the end; %s. Median of %d "
            "run(s) per line.\n\nCommand:\n\n    ",
            o.items, o.users, o.dim, source, o.k, idx_set_blas_threshold(0),
            sysconf(_SC_NPROCESSORS_ONLN), load[0], when, o.repeat);
    for (int i = 0; i < argc; i++)
        fprintf(f, "%s%s", argv[i], i + 1 < argc ? " " : "\n\n");
    fprintf(f, "| path | queries | threads | batch | queries/s | p50 ms "
               "| p99 ms | notes |\n");
    fprintf(f, "|---|---:|---:|---:|---:|---:|---:|---|\n");
    for (int i = 0; i < n_rows; i++) {
        bool first = true;

        for (int j = 0; j < i && first; j++)
            first = strcmp(rows[j].path, rows[i].path) != 0;
        if (first)
            print_line(f, i);
    }
}

static void usage(void)
{
    fprintf(stderr,
            "usage: search_bench [--items N] [--users N] [--dim D] "
            "[--queries Q]\n"
            "                    [--threads T] [--batch B] [--wait-us W] "
            "[--out FILE]\n"
            "                    [--blas-threshold N] [--skip-hnsw] "
            "[--repeat R] [--append]\n"
            "                    [--snapshot DIR]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {{"items", 1, NULL, 'i'},
                                          {"users", 1, NULL, 'u'},
                                          {"dim", 1, NULL, 'd'},
                                          {"queries", 1, NULL, 'q'},
                                          {"threads", 1, NULL, 't'},
                                          {"batch", 1, NULL, 'b'},
                                          {"wait-us", 1, NULL, 'w'},
                                          {"out", 1, NULL, 'o'},
                                          {"blas-threshold", 1, NULL, 'B'},
                                          {"skip-hnsw", 0, NULL, 'S'},
                                          {"repeat", 1, NULL, 'r'},
                                          {"append", 0, NULL, 'a'},
                                          {"snapshot", 1, NULL, 'D'},
                                          {NULL, 0, NULL, 0}};
    static const int efs[] = {16, 32, 48, 64, 128};
    struct idx_config one = {.nthreads = 1};
    struct idx_error err = {0};
    struct idx *flat = NULL;
    int c;

    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'i':
            o.items = atoi(optarg);
            break;
        case 'u':
            o.users = atoi(optarg);
            break;
        case 'd':
            o.dim = atoi(optarg);
            break;
        case 'q':
            o.queries = atoi(optarg);
            break;
        case 't':
            o.threads = atoi(optarg);
            break;
        case 'b':
            o.batch = atoi(optarg);
            break;
        case 'w':
            o.wait_us = atoi(optarg);
            break;
        case 'o':
            o.out = optarg;
            break;
        case 'B':
            o.blas_threshold = atoi(optarg);
            break;
        case 'S':
            o.skip_hnsw = true;
            break;
        case 'r':
            o.repeat = atoi(optarg);
            break;
        case 'a':
            o.append = true;
            break;
        case 'D':
            o.snapshot = optarg;
            break;
        default:
            usage();
        }
    }
    if (optind != argc || o.items < o.k + SEEN || o.users < 1 || o.dim < 1 ||
        o.queries < 1 || o.threads < 1 || o.batch < 1 || o.repeat < 1 ||
        o.repeat > 64)
        usage();

    if (o.snapshot != NULL)
        load_snapshot(o.snapshot);
    else
        make_data();
    if (o.blas_threshold > 0)
        idx_set_blas_threshold(o.blas_threshold);
    fprintf(stderr, "search_bench: building the flat index\n");
    if (idx_build(&one, items, o.items, o.dim, &flat, &err) != 0)
        die_idx("flat build", &err);

    /* A warm-up pass: the first touch of the index pages is not part of
     * any row. */
    bench_plain_single(flat);
    n_rows = 0;
    /* Runs interleaved, so that a burst of load on a shared machine
     * hits every path alike. */
    for (int r = 0; r < o.repeat; r++) {
        bench_plain_single(flat);
        bench_filtered_single(flat);
        for (int b = 8; b <= 256; b *= 4)
            bench_batched(flat, b);
        bench_threads(flat, false);
        bench_threads(flat, true);
    }
    if (!o.skip_hnsw)
        bench_hnsw(flat, efs, (int)(sizeof(efs) / sizeof(efs[0])));

    print_table(stdout, argc, argv);
    if (o.out != NULL) {
        FILE *f = fopen(o.out, o.append ? "a" : "w");
        if (f == NULL) {
            perror(o.out);
            return 1;
        }
        fprintf(f, o.append ? "\n" : "# Search benchmark\n\n");
        print_table(f, argc, argv);
        fclose(f);
    }
    idx_free(flat);
    free(items);
    free(users);
    free(seen_ptr);
    free(seen_rows);
    return 0;
}
