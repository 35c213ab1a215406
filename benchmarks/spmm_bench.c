/*
 * Memory bandwidth of the propagation kernel against the machine's.
 *
 *   spmm_bench DATA_DIR [DIM] [REPEATS]
 *
 * Measures a STREAM-like triad (a = b + s c over arrays far larger than
 * the caches) with 1 and 2 threads, then the SpMM y = A x of the data
 * set's normalized user-item adjacency at width DIM, and prints the
 * median time of each and the bytes per second each moves. The SpMM's
 * byte count is the compulsory traffic: row pointers, column indices
 * and values once, one x row gathered per entry, one y row written per
 * node; gathers that hit the cache make the figure an upper bound on
 * what DRAM served.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gnn.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct triad {
    float *a, *b, *c;
    int64_t n;
};

static void triad_task(int ith, int nth, void *ctx)
{
    struct triad *t = ctx;
    int64_t lo, hi;

    gnn_split_range(t->n, ith, nth, &lo, &hi);
    for (int64_t i = lo; i < hi; i++)
        t->a[i] = t->b[i] + 3.0f * t->c[i];
}

static void bench_triad(int nth, int reps)
{
    struct triad t;
    struct gnn_pool *p;
    double secs[64];

    t.n = 32 << 20; /* 3 arrays of 128 MiB */
    t.a = malloc((size_t)t.n * 4);
    t.b = malloc((size_t)t.n * 4);
    t.c = malloc((size_t)t.n * 4);
    if (t.a == NULL || t.b == NULL || t.c == NULL || reps > 64)
        exit(1);
    gnn_pool_new(nth, &p, NULL);
    /* First touch by the pool, so pages land where the threads run. */
    memset(t.b, 0, (size_t)t.n * 4);
    memset(t.c, 0, (size_t)t.n * 4);
    gnn_pool_run(p, triad_task, &t);
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        gnn_pool_run(p, triad_task, &t);
        secs[r] = now() - t0;
    }
    double s = median(secs, reps);
    printf("| triad | %d | %.2f ms | %.1f GB/s |\n", nth, 1e3 * s,
           3.0 * 4 * (double)t.n / s / 1e9);
    gnn_pool_free(p);
    free(t.a);
    free(t.b);
    free(t.c);
}

static void bench_spmm(const struct gnn_graph *g, int32_t d, int nth,
                       int reps)
{
    const struct gnn_csr *a = &g->adj;
    size_t n = (size_t)a->n_rows * (size_t)d;
    float *x = malloc(n * 4), *y = malloc(n * 4);
    struct gnn_pool *p;
    double secs[64];

    for (size_t i = 0; i < n; i++)
        x[i] = (float)(i % 13) * 0.01f;
    gnn_pool_new(nth, &p, NULL);
    gnn_csr_spmm(a, x, d, y, NULL, 0, p);
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        gnn_csr_spmm(a, x, d, y, NULL, 0, p);
        secs[r] = now() - t0;
    }
    double s = median(secs, reps);
    double bytes = 8.0 * (a->n_rows + 1) + 8.0 * a->nnz +
                   4.0 * d * (double)a->nnz + 4.0 * (double)n;
    printf("| spmm d=%d nnz=%lld | %d | %.2f ms | %.1f GB/s | %.1f GFLOP/s "
           "|\n",
           d, (long long)a->nnz, nth, 1e3 * s, bytes / s / 1e9,
           2.0 * d * (double)a->nnz / s / 1e9);
    gnn_pool_free(p);
    free(x);
    free(y);
}

int main(int argc, char **argv)
{
    struct gnn_dataset ds;
    struct gnn_graph g;
    struct gnn_error err;
    int32_t d = argc > 2 ? atoi(argv[2]) : 64;
    int reps = argc > 3 ? atoi(argv[3]) : 21;

    if (argc < 2 || d < 1 || reps < 1 || reps > 64) {
        fprintf(stderr, "usage: spmm_bench DATA_DIR [DIM] [REPEATS<=64]\n");
        return 2;
    }
    if (gnn_dataset_load_splits(argv[1], &ds, &err) != 0 ||
        gnn_graph_build(&ds.train, ds.n_users, ds.n_items, 0.5f, 0.5f, &g,
                        &err) != 0) {
        fprintf(stderr, "spmm_bench: %s\n", err.text);
        return 1;
    }
    printf("| kernel | threads | median time | bandwidth | compute |\n");
    printf("|---|---|---|---|---|\n");
    for (int nth = 1; nth <= 2; nth++)
        bench_triad(nth, reps < 11 ? reps : 11);
    for (int nth = 1; nth <= 2; nth++)
        bench_spmm(&g, d, nth, reps);
    gnn_graph_free(&g);
    gnn_dataset_free(&ds);
    return 0;
}
