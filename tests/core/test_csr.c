#include <criterion/criterion.h>
#include <string.h>

#include "gnn.h"

/* A 3 x 4 matrix with a duplicate entry and unsorted input. */
static const int32_t rows[] = {2, 0, 0, 1, 0, 2};
static const int32_t cols[] = {3, 2, 0, 1, 2, 0};
static const float vals[] = {5, 1, 2, 3, 4, 6};

Test(csr, from_coo_sorts_rows_and_sums_duplicates)
{
    struct gnn_csr a;
    struct gnn_error err;

    cr_assert_eq(gnn_csr_from_coo(3, 4, 6, rows, cols, vals, &a, &err), 0);
    cr_assert_eq(a.nnz, 5, "the duplicate (0, 2) should merge");
    int64_t rp[] = {0, 2, 3, 5};
    int32_t ci[] = {0, 2, 1, 0, 3};
    float v[] = {2, 5, 3, 6, 5};
    for (int r = 0; r <= 3; r++)
        cr_assert_eq(a.row_ptr[r], rp[r], "row_ptr[%d]", r);
    for (int k = 0; k < 5; k++) {
        cr_assert_eq(a.col_idx[k], ci[k], "col_idx[%d]", k);
        cr_assert_float_eq(a.val[k], v[k], 0, "val[%d]", k);
    }
    cr_assert(gnn_csr_has(&a, 2, 3));
    cr_assert(!gnn_csr_has(&a, 2, 2));
    gnn_csr_free(&a);
    gnn_csr_free(&a); /* freeing a zeroed matrix is a no-op */
}

Test(csr, from_coo_rejects_an_entry_outside_the_shape)
{
    struct gnn_csr a;
    struct gnn_error err;
    int32_t r[] = {0, 3}, c[] = {0, 0};

    cr_assert_eq(gnn_csr_from_coo(3, 4, 2, r, c, NULL, &a, &err), GNN_ERANGE);
    cr_assert(strstr(err.text, "(3, 0)") != NULL, "text: %s", err.text);
}

Test(csr, transpose_swaps_rows_and_columns)
{
    struct gnn_csr a, t;

    cr_assert_eq(gnn_csr_from_coo(3, 4, 6, rows, cols, vals, &a, NULL), 0);
    cr_assert_eq(gnn_csr_transpose(&a, &t, NULL), 0);
    cr_assert_eq(t.n_rows, 4);
    cr_assert_eq(t.n_cols, 3);
    for (int32_t r = 0; r < a.n_rows; r++) {
        for (int64_t k = a.row_ptr[r]; k < a.row_ptr[r + 1]; k++)
            cr_assert(gnn_csr_has(&t, a.col_idx[k], r));
    }
    cr_assert_eq(t.nnz, a.nnz);
    gnn_csr_free(&a);
    gnn_csr_free(&t);
}

/* A random sparse n x m matrix with about density * n * m entries. */
static void random_csr(int32_t n, int32_t m, double density, uint64_t seed,
                       struct gnn_csr *a)
{
    struct gnn_rng rng;
    int64_t cap = (int64_t)(density * n * m) + 1;
    int32_t *r = malloc((size_t)cap * sizeof(*r));
    int32_t *c = malloc((size_t)cap * sizeof(*c));
    float *v = malloc((size_t)cap * sizeof(*v));

    gnn_rng_seed(&rng, seed);
    for (int64_t k = 0; k < cap; k++) {
        r[k] = (int32_t)gnn_rng_below(&rng, (uint32_t)n);
        c[k] = (int32_t)gnn_rng_below(&rng, (uint32_t)m);
        v[k] = gnn_rng_normal(&rng);
    }
    cr_assert_eq(gnn_csr_from_coo(n, m, cap, r, c, v, a, NULL), 0);
    free(r);
    free(c);
    free(v);
}

static void check_spmm(int32_t d)
{
    struct gnn_csr a;
    struct gnn_rng rng;
    int32_t n = 37, m = 23;
    float *x = malloc((size_t)m * d * sizeof(*x));
    float *z = malloc((size_t)n * d * sizeof(*z));
    float *y = malloc((size_t)n * d * sizeof(*y));

    random_csr(n, m, 0.2, 7, &a);
    gnn_rng_seed(&rng, 3);
    for (int64_t i = 0; i < (int64_t)m * d; i++)
        x[i] = gnn_rng_normal(&rng);
    for (int64_t i = 0; i < (int64_t)n * d; i++)
        z[i] = gnn_rng_normal(&rng);

    gnn_csr_spmm(&a, x, d, y, z, 0.5f, NULL);
    for (int32_t r = 0; r < n; r++) {
        for (int32_t j = 0; j < d; j++) {
            double want = 0.5 * z[r * d + j];
            for (int64_t k = a.row_ptr[r]; k < a.row_ptr[r + 1]; k++)
                want += (double)a.val[k] * x[a.col_idx[k] * d + j];
            cr_assert_float_eq(y[r * d + j], want, 1e-4, "y[%d][%d] (d=%d)", r,
                               j, d);
        }
    }
    gnn_csr_free(&a);
    free(x);
    free(y);
    free(z);
}

Test(csr, spmm_matches_a_dense_reference_for_any_width)
{
    check_spmm(64);
    check_spmm(128);
    check_spmm(5);
    check_spmm(70);
}

Test(csr, spmm_gives_identical_bits_for_one_and_two_threads)
{
    struct gnn_csr a;
    struct gnn_pool *p1, *p2;
    int32_t n = 500, m = 400, d = 64;
    float *x = calloc((size_t)m * d, sizeof(float));
    float *y1 = calloc((size_t)n * d, sizeof(float));
    float *y2 = calloc((size_t)n * d, sizeof(float));

    random_csr(n, m, 0.05, 11, &a);
    for (int64_t i = 0; i < (int64_t)m * d; i++)
        x[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    cr_assert_eq(gnn_pool_new(1, &p1, NULL), 0);
    cr_assert_eq(gnn_pool_new(2, &p2, NULL), 0);
    gnn_csr_spmm(&a, x, d, y1, NULL, 0, p1);
    gnn_csr_spmm(&a, x, d, y2, NULL, 0, p2);
    cr_assert(memcmp(y1, y2, (size_t)n * d * sizeof(float)) == 0);

    int32_t lo, hi, prev = 0;
    for (int ith = 0; ith < 3; ith++) {
        gnn_csr_split(&a, ith, 3, &lo, &hi);
        cr_assert_eq(lo, prev, "slices must be contiguous");
        prev = hi;
    }
    cr_assert_eq(prev, n);
    gnn_pool_free(p1);
    gnn_pool_free(p2);
    gnn_csr_free(&a);
    free(x);
    free(y1);
    free(y2);
}

Test(csr, spmm_transpose_is_the_adjoint)
{
    /* <A x, y> = <x, A^T y>: what the backward pass relies on. */
    struct gnn_csr a, t;
    int32_t n = 40, m = 30, d = 3;
    float x[30 * 3], y[40 * 3], ax[40 * 3], aty[30 * 3];
    double lhs = 0, rhs = 0;

    random_csr(n, m, 0.1, 5, &a);
    cr_assert_eq(gnn_csr_transpose(&a, &t, NULL), 0);
    for (int i = 0; i < m * d; i++)
        x[i] = (float)(i % 7) - 3.0f;
    for (int i = 0; i < n * d; i++)
        y[i] = (float)(i % 5) - 2.0f;
    gnn_csr_spmm(&a, x, d, ax, NULL, 0, NULL);
    gnn_csr_spmm(&t, y, d, aty, NULL, 0, NULL);
    for (int i = 0; i < n * d; i++)
        lhs += (double)ax[i] * y[i];
    for (int i = 0; i < m * d; i++)
        rhs += (double)x[i] * aty[i];
    cr_assert_float_eq(lhs, rhs, 1e-3);
    gnn_csr_free(&a);
    gnn_csr_free(&t);
}

Test(csr, row_subsets_and_column_masks_give_the_same_bits)
{
    struct gnn_csr a;
    int32_t n = 60, d = 64;
    float *x = calloc((size_t)n * d, sizeof(float));
    float *y = calloc((size_t)n * d, sizeof(float));
    float *y2 = calloc((size_t)n * d, sizeof(float));
    uint8_t mask[60] = {0};
    int32_t pick[] = {3, 17, 59, 0};

    random_csr(n, n, 0.2, 21, &a);
    for (int32_t r = 0; r < n; r += 3) { /* x lives on every third row */
        mask[r] = 1;
        for (int32_t j = 0; j < d; j++)
            x[r * d + j] = (float)(r + j) / 50.0f - 0.7f;
    }
    gnn_csr_spmm(&a, x, d, y, NULL, 0, NULL);
    gnn_csr_spmm_masked(&a, x, d, y2, NULL, 0, mask, NULL);
    cr_assert(memcmp(y, y2, (size_t)n * d * sizeof(float)) == 0);

    memset(y2, 0, (size_t)n * d * sizeof(float));
    gnn_csr_spmm_rows(&a, x, d, y2, NULL, 0, pick, 4, NULL);
    for (int q = 0; q < 4; q++)
        cr_assert(memcmp(y + pick[q] * d, y2 + pick[q] * d,
                         (size_t)d * sizeof(float)) == 0);
    cr_assert_float_eq(y2[5 * d], 0.0f, 0, "unlisted rows stay untouched");
    gnn_csr_free(&a);
    free(x);
    free(y);
    free(y2);
}
