#include "gnn_dense.h"

#include <cblas.h>
#include <string.h>

struct gemm_task {
    int32_t m, n, k;
    const float *a, *b;
    int trans_b;
    float beta;
    float *c;
};

static void gemm_task(int ith, int nth, void *ctx)
{
    struct gemm_task *t = ctx;
    int64_t lo, hi;

    gnn_split_range(t->m, ith, nth, &lo, &hi);
    if (hi <= lo || t->n == 0)
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans,
                t->trans_b ? CblasTrans : CblasNoTrans, (int)(hi - lo), t->n,
                t->k, 1.0f, t->a + lo * t->k, t->k, t->b,
                t->trans_b ? t->k : t->n, t->beta, t->c + lo * t->n, t->n);
}

void gnn_dense_gemm(int32_t m, int32_t n, int32_t k, const float *a,
                    const float *b, int trans_b, float beta, float *c,
                    struct gnn_pool *pool)
{
    struct gemm_task t = {m, n, k, a, b, trans_b, beta, c};

    gnn_pool_run(pool, gemm_task, &t);
}

#define TN_CHUNK 4096

struct tn_task {
    int32_t m, n;
    int64_t k, n_chunks;
    const float *a, *b;
    float *parts; /* n_chunks x m x n */
};

static void tn_task(int ith, int nth, void *ctx)
{
    struct tn_task *t = ctx;

    for (int64_t ch = ith; ch < t->n_chunks; ch += nth) {
        int64_t lo = ch * TN_CHUNK;
        int64_t rows = t->k - lo < TN_CHUNK ? t->k - lo : TN_CHUNK;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, t->m, t->n,
                    (int)rows, 1.0f, t->a + lo * t->m, t->m, t->b + lo * t->n,
                    t->n, 0.0f, t->parts + ch * (int64_t)t->m * t->n, t->n);
    }
}

int64_t gnn_dense_gemm_tn_scratch(int32_t m, int32_t n, int64_t k)
{
    return (k + TN_CHUNK - 1) / TN_CHUNK * (int64_t)m * n;
}

void gnn_dense_gemm_tn(int32_t m, int32_t n, int64_t k, const float *a,
                       const float *b, float *c, float *scratch,
                       struct gnn_pool *pool)
{
    int64_t mn = (int64_t)m * n;
    struct tn_task t = {m, n, k, (k + TN_CHUNK - 1) / TN_CHUNK, a, b, scratch};

    memset(c, 0, (size_t)mn * sizeof(*c));
    gnn_pool_run(pool, tn_task, &t);
    for (int64_t ch = 0; ch < t.n_chunks; ch++) {
        const float *p = t.parts + ch * mn;
        for (int64_t i = 0; i < mn; i++)
            c[i] += p[i];
    }
}

void gnn_relu(int64_t n, const float *x, float *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void gnn_relu_backward(int64_t n, const float *y, float *g)
{
    for (int64_t i = 0; i < n; i++)
        g[i] = y[i] > 0.0f ? g[i] : 0.0f;
}
