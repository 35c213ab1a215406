#include "gnn_csr.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- build */

static int alloc_csr(struct gnn_csr *a, int32_t n_rows, int32_t n_cols,
                     int64_t nnz, struct gnn_error *err)
{
    memset(a, 0, sizeof(*a));
    a->n_rows = n_rows;
    a->n_cols = n_cols;
    a->nnz = nnz;
    a->row_ptr = calloc((size_t)n_rows + 1, sizeof(*a->row_ptr));
    a->col_idx = malloc((size_t)(nnz > 0 ? nnz : 1) * sizeof(*a->col_idx));
    a->val = malloc((size_t)(nnz > 0 ? nnz : 1) * sizeof(*a->val));
    if (a->row_ptr == NULL || a->col_idx == NULL || a->val == NULL) {
        gnn_csr_free(a);
        return gnn_error_set(err, GNN_ENOMEM,
                             "cannot allocate a %d x %d matrix of %lld "
                             "entries",
                             n_rows, n_cols, (long long)nnz);
    }
    return 0;
}

static int cmp_entry(const void *pa, const void *pb)
{
    const int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
    return (a > b) - (a < b);
}

struct entry {
    int32_t col;
    float val;
};

/* Sort each row by column and merge duplicates; returns the new nnz. */
static int64_t sort_and_merge(struct gnn_csr *a, struct entry *tmp)
{
    int64_t w = 0;

    for (int32_t r = 0; r < a->n_rows; r++) {
        int64_t lo = a->row_ptr[r], hi = a->row_ptr[r + 1];
        for (int64_t k = lo; k < hi; k++)
            tmp[k - lo] = (struct entry){a->col_idx[k], a->val[k]};
        qsort(tmp, (size_t)(hi - lo), sizeof(*tmp), cmp_entry);

        a->row_ptr[r] = w;
        for (int64_t k = 0; k < hi - lo; k++) {
            if (k > 0 && tmp[k].col == a->col_idx[w - 1]) {
                a->val[w - 1] += tmp[k].val;
                continue;
            }
            a->col_idx[w] = tmp[k].col;
            a->val[w] = tmp[k].val;
            w++;
        }
    }
    a->row_ptr[a->n_rows] = w;
    return w;
}

int gnn_csr_from_coo(int32_t n_rows, int32_t n_cols, int64_t nnz,
                     const int32_t *rows, const int32_t *cols,
                     const float *vals, struct gnn_csr *out,
                     struct gnn_error *err)
{
    struct entry *tmp = NULL;
    int64_t *fill = NULL;
    int ret;

    if (n_rows < 0 || n_cols < 0 || nnz < 0)
        return gnn_error_set(err, GNN_EINVAL, "negative matrix size");
    for (int64_t k = 0; k < nnz; k++) {
        if (rows[k] < 0 || rows[k] >= n_rows || cols[k] < 0 ||
            cols[k] >= n_cols)
            return gnn_error_set(err, GNN_ERANGE,
                                 "entry (%d, %d) outside %d x %d", rows[k],
                                 cols[k], n_rows, n_cols);
    }
    ret = alloc_csr(out, n_rows, n_cols, nnz, err);
    if (ret != 0)
        return ret;

    int64_t max_row = 0;
    for (int64_t k = 0; k < nnz; k++)
        out->row_ptr[rows[k] + 1]++;
    for (int32_t r = 0; r < n_rows; r++) {
        if (out->row_ptr[r + 1] > max_row)
            max_row = out->row_ptr[r + 1];
        out->row_ptr[r + 1] += out->row_ptr[r];
    }
    fill = malloc(((size_t)n_rows + 1) * sizeof(*fill));
    tmp = malloc((size_t)(max_row > 0 ? max_row : 1) * sizeof(*tmp));
    if (fill == NULL || tmp == NULL) {
        ret = gnn_error_set(err, GNN_ENOMEM, "cannot sort %lld entries",
                            (long long)nnz);
        goto out;
    }
    memcpy(fill, out->row_ptr, ((size_t)n_rows + 1) * sizeof(*fill));
    for (int64_t k = 0; k < nnz; k++) {
        int64_t at = fill[rows[k]]++;
        out->col_idx[at] = cols[k];
        out->val[at] = vals != NULL ? vals[k] : 1.0f;
    }
    out->nnz = sort_and_merge(out, tmp);
    ret = 0;
out:
    if (ret != 0)
        gnn_csr_free(out);
    free(fill);
    free(tmp);
    return ret;
}

int gnn_csr_transpose(const struct gnn_csr *a, struct gnn_csr *out,
                      struct gnn_error *err)
{
    int64_t *fill;
    int ret = alloc_csr(out, a->n_cols, a->n_rows, a->nnz, err);

    if (ret != 0)
        return ret;
    fill = malloc(((size_t)a->n_cols + 1) * sizeof(*fill));
    if (fill == NULL) {
        gnn_csr_free(out);
        return gnn_error_set(err, GNN_ENOMEM, "cannot transpose");
    }
    for (int64_t k = 0; k < a->nnz; k++)
        out->row_ptr[a->col_idx[k] + 1]++;
    for (int32_t c = 0; c < a->n_cols; c++)
        out->row_ptr[c + 1] += out->row_ptr[c];
    memcpy(fill, out->row_ptr, ((size_t)a->n_cols + 1) * sizeof(*fill));

    /* Walking rows in order leaves each output row sorted. */
    for (int32_t r = 0; r < a->n_rows; r++) {
        for (int64_t k = a->row_ptr[r]; k < a->row_ptr[r + 1]; k++) {
            int64_t at = fill[a->col_idx[k]]++;
            out->col_idx[at] = r;
            out->val[at] = a->val[k];
        }
    }
    free(fill);
    return 0;
}

void gnn_csr_free(struct gnn_csr *a)
{
    if (a == NULL)
        return;
    free(a->row_ptr);
    free(a->col_idx);
    free(a->val);
    memset(a, 0, sizeof(*a));
}

int gnn_csr_has(const struct gnn_csr *a, int32_t r, int32_t c)
{
    int64_t lo = a->row_ptr[r], hi = a->row_ptr[r + 1];

    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (a->col_idx[mid] < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < a->row_ptr[r + 1] && a->col_idx[lo] == c;
}

/* ----------------------------------------------------------------- spmm */

/* First row r with row_ptr[r] + r >= target (rows cost a little too). */
static int32_t find_row(const struct gnn_csr *a, int64_t target)
{
    int32_t lo = 0, hi = a->n_rows;

    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (a->row_ptr[mid] + mid < target)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void gnn_csr_split(const struct gnn_csr *a, int ith, int nth, int32_t *lo,
                   int32_t *hi)
{
    int64_t work = a->nnz + a->n_rows;

    *lo = ith == 0 ? 0 : find_row(a, work * ith / nth);
    *hi = ith == nth - 1 ? a->n_rows : find_row(a, work * (ith + 1) / nth);
}

#define BLOCK 64

/* Entries ahead whose x rows are fetched early: the gathers miss L2. */
#define PREFETCH 8

/* Eight floats; aligned(4) lets it load from any float address. */
typedef float v8f __attribute__((vector_size(32), aligned(4)));

/*
 * Rows r0..r1-1 of y = a x + beta z. Columns go in blocks of 64 floats
 * held in eight vector accumulators (eight AVX registers) while the
 * row's neighbours stream by; a remainder under 64 takes a scalar loop.
 * SPMM_ROWS expands to one copy per instruction set; spmm_rows picks one
 * at run time.
 */
#define SPMM_ROWS(NAME, ATTR)                                                  \
    ATTR static void NAME(                                                     \
        const struct gnn_csr *a, const float *restrict x, int32_t d,           \
        float *restrict y, const float *restrict z, float beta,                \
        const uint8_t *restrict mask, int32_t r0, int32_t r1)                  \
    {                                                                          \
        const int64_t *restrict rp = a->row_ptr;                               \
        const int32_t *restrict ci = a->col_idx;                               \
        const float *restrict av = a->val;                                     \
        int32_t d64 = d - d % BLOCK;                                           \
        int64_t kend = rp[r1];                                                 \
                                                                               \
        for (int32_t r = r0; r < r1; r++) {                                    \
            float *restrict yr = y + (size_t)r * (size_t)d;                    \
            for (int32_t j0 = 0; j0 < d64; j0 += BLOCK) {                      \
                v8f acc[8] = {0};                                              \
                for (int64_t k = rp[r]; k < rp[r + 1]; k++) {                  \
                    if (mask != NULL && !mask[ci[k]])                          \
                        continue;                                              \
                    const v8f *xr =                                            \
                        (const v8f *)(x + (size_t)ci[k] * (size_t)d + j0);     \
                    float v = av[k];                                           \
                    if (k + PREFETCH < kend) {                                 \
                        const char *nx =                                       \
                            (const char *)(x +                                 \
                                           (size_t)ci[k + PREFETCH] *          \
                                               (size_t)d +                     \
                                           j0);                                \
                        for (int l = 0; l < BLOCK * 4; l += 64)                \
                            __builtin_prefetch(nx + l, 0, 3);                  \
                    }                                                          \
                    v8f vv = {v, v, v, v, v, v, v, v};                         \
                    for (int q = 0; q < 8; q++)                                \
                        acc[q] += vv * xr[q];                                  \
                }                                                              \
                if (z != NULL) {                                               \
                    const v8f *zr =                                            \
                        (const v8f *)(z + (size_t)r * (size_t)d + j0);         \
                    v8f bb = {beta, beta, beta, beta, beta, beta, beta, beta}; \
                    for (int q = 0; q < 8; q++)                                \
                        acc[q] += bb * zr[q];                                  \
                }                                                              \
                for (int q = 0; q < 8; q++)                                    \
                    *(v8f *)(yr + j0 + 8 * q) = acc[q];                        \
            }                                                                  \
            for (int32_t j = d64; j < d; j++) {                                \
                float s = 0.0f;                                                \
                for (int64_t k = rp[r]; k < rp[r + 1]; k++) {                  \
                    if (mask == NULL || mask[ci[k]])                           \
                        s += av[k] * x[(size_t)ci[k] * (size_t)d + j];         \
                }                                                              \
                if (z != NULL)                                                 \
                    s += beta * z[(size_t)r * (size_t)d + j];                  \
                yr[j] = s;                                                     \
            }                                                                  \
        }                                                                      \
    }

SPMM_ROWS(spmm_rows_base, )

#if defined(__x86_64__) && defined(__GNUC__)
SPMM_ROWS(spmm_rows_avx2, __attribute__((target("avx2,fma"))))

static int has_avx2_fma(void)
{
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return known;
}
#endif

/* Both copies compute the same sums in the same order (C17 mode does not
 * contract a * b + c), so the choice never changes the bits. */
static void spmm_rows(const struct gnn_csr *a, const float *x, int32_t d,
                      float *y, const float *z, float beta, const uint8_t *mask,
                      int32_t r0, int32_t r1)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (has_avx2_fma()) {
        spmm_rows_avx2(a, x, d, y, z, beta, mask, r0, r1);
        return;
    }
#endif
    spmm_rows_base(a, x, d, y, z, beta, mask, r0, r1);
}

struct spmm_task {
    const struct gnn_csr *a;
    const float *x;
    int32_t d;
    float *y;
    const float *z;
    float beta;
    const uint8_t *mask;
    const int32_t *rows; /* NULL: every row */
    int32_t n_rows;
};

static void spmm_task(int ith, int nth, void *ctx)
{
    struct spmm_task *t = ctx;
    int32_t lo, hi;

    if (t->rows == NULL) {
        gnn_csr_split(t->a, ith, nth, &lo, &hi);
        spmm_rows(t->a, t->x, t->d, t->y, t->z, t->beta, t->mask, lo, hi);
        return;
    }
    lo = (int32_t)((int64_t)t->n_rows * ith / nth);
    hi = (int32_t)((int64_t)t->n_rows * (ith + 1) / nth);
    for (int32_t q = lo; q < hi; q++)
        spmm_rows(t->a, t->x, t->d, t->y, t->z, t->beta, t->mask, t->rows[q],
                  t->rows[q] + 1);
}

void gnn_csr_spmm(const struct gnn_csr *a, const float *x, int32_t d, float *y,
                  const float *z, float beta, struct gnn_pool *pool)
{
    struct spmm_task t = {a, x, d, y, z, beta, NULL, NULL, 0};

    gnn_pool_run(pool, spmm_task, &t);
}

void gnn_csr_spmm_masked(const struct gnn_csr *a, const float *x, int32_t d,
                         float *y, const float *z, float beta,
                         const uint8_t *mask, struct gnn_pool *pool)
{
    struct spmm_task t = {a, x, d, y, z, beta, mask, NULL, 0};

    gnn_pool_run(pool, spmm_task, &t);
}

void gnn_csr_spmm_rows(const struct gnn_csr *a, const float *x, int32_t d,
                       float *y, const float *z, float beta,
                       const int32_t *rows, int32_t n_rows,
                       struct gnn_pool *pool)
{
    struct spmm_task t = {a, x, d, y, z, beta, NULL, rows, n_rows};

    gnn_pool_run(pool, spmm_task, &t);
}
