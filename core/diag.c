#include "gnn_diag.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gnn_rng.h"

/* Mean column std over the root mean square of all entries. */
static double table_std(const float *x, int32_t n, int32_t d, double *mean)
{
    double total = 0.0, sq = 0.0;

    memset(mean, 0, (size_t)d * sizeof(*mean));
    for (int64_t r = 0; r < n; r++) {
        for (int32_t c = 0; c < d; c++)
            mean[c] += x[r * d + c];
    }
    for (int32_t c = 0; c < d; c++)
        mean[c] /= n;
    for (int32_t c = 0; c < d; c++) {
        double v = 0.0;
        for (int64_t r = 0; r < n; r++) {
            double e = x[r * d + c] - mean[c];
            v += e * e;
            sq += (double)x[r * d + c] * x[r * d + c];
        }
        total += sqrt(v / n);
    }
    sq = sqrt(sq / ((double)n * d));
    return sq > 0.0 ? total / d / sq : 0.0;
}

/*
 * Mean cosine distance over pairs of the rows rows[0..m-1] (zero rows
 * skipped): with u the unit rows and s their sum, the sum of cos over
 * ordered pairs a != b is |s|^2 - m.
 */
static double table_mad(const float *x, int32_t d, const int32_t *rows,
                        int32_t m, double *sum)
{
    int64_t used = 0;
    double s2 = 0.0;

    memset(sum, 0, (size_t)d * sizeof(*sum));
    for (int32_t q = 0; q < m; q++) {
        const float *r = x + (size_t)rows[q] * d;
        double nn = 0.0;
        for (int32_t c = 0; c < d; c++)
            nn += (double)r[c] * r[c];
        if (nn <= 0.0)
            continue;
        nn = 1.0 / sqrt(nn);
        for (int32_t c = 0; c < d; c++)
            sum[c] += r[c] * nn;
        used++;
    }
    if (used < 2)
        return 0.0;
    for (int32_t c = 0; c < d; c++)
        s2 += sum[c] * sum[c];
    double cos = (s2 - (double)used) / ((double)used * (double)(used - 1));
    return 1.0 - cos;
}

static double table_energy(const float *x, int32_t n, int32_t d,
                           const struct gnn_csr *adj)
{
    int32_t rows = adj->n_rows < n ? adj->n_rows : n;
    double e = 0.0;

    for (int32_t a = 0; a < rows; a++) {
        double fa =
            1.0 / sqrt(1.0 + (double)(adj->row_ptr[a + 1] - adj->row_ptr[a]));
        for (int64_t k = adj->row_ptr[a]; k < adj->row_ptr[a + 1]; k++) {
            int32_t b = adj->col_idx[k];
            if (b <= a || b >= n)
                continue;
            double fb =
                1.0 /
                sqrt(1.0 + (double)(adj->row_ptr[b + 1] - adj->row_ptr[b]));
            for (int32_t c = 0; c < d; c++) {
                double t =
                    fa * x[(size_t)a * d + c] - fb * x[(size_t)b * d + c];
                e += t * t;
            }
        }
    }
    return e / n;
}

int gnn_diag_table(const float *x, int32_t n_rows, int32_t d,
                   const struct gnn_csr *adj, int32_t sample, uint64_t seed,
                   struct gnn_diag *out, struct gnn_error *err)
{
    int32_t m = sample > 0 && sample < n_rows ? sample : n_rows;
    int32_t *rows = NULL;
    double *buf = NULL;
    struct gnn_rng rng;

    memset(out, 0, sizeof(*out));
    if (x == NULL || n_rows < 1 || d < 1 || sample < 0)
        return gnn_error_set(err, GNN_EINVAL, "bad diagnostics shape");
    rows = malloc((size_t)n_rows * sizeof(*rows));
    buf = malloc((size_t)d * sizeof(*buf));
    if (rows == NULL || buf == NULL) {
        free(rows);
        free(buf);
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate diagnostics");
    }
    /* A partial Fisher-Yates shuffle: the first m rows are the sample. */
    for (int32_t r = 0; r < n_rows; r++)
        rows[r] = r;
    gnn_rng_seed(&rng, seed);
    for (int32_t q = 0; m < n_rows && q < m; q++) {
        int32_t j = q + (int32_t)gnn_rng_below(&rng, (uint32_t)(n_rows - q));
        int32_t s = rows[q];
        rows[q] = rows[j];
        rows[j] = s;
    }
    out->n_rows = n_rows;
    out->std = table_std(x, n_rows, d, buf);
    out->mad = table_mad(x, d, rows, m, buf);
    out->energy = adj != NULL ? table_energy(x, n_rows, d, adj) : 0.0;
    free(rows);
    free(buf);
    return 0;
}

int gnn_diag_model(const struct gnn_model *m, int32_t sample, uint64_t seed,
                   struct gnn_diag *out, int32_t max, int32_t *n_out,
                   struct gnn_error *err)
{
    int32_t n_hops = 0, n_rows, n = m->n_users + m->n_items, d = m->dim;
    const struct gnn_csr *adj = &m->graph->adj;
    float *fin;
    int ret = 0;

    *n_out = 0;
    if (max < 1 || m->user_out == NULL || n < 1)
        return gnn_error_set(err, GNN_EINVAL,
                             "no room or no embeddings for diagnostics");
    if (m->ops->hop != NULL)
        m->ops->hop(m, 0, &n_hops, &n_rows);
    for (int32_t k = 0; k < n_hops && *n_out < max - 1; k++) {
        const float *x = m->ops->hop(m, k, &n_hops, &n_rows);
        ret =
            gnn_diag_table(x, n_rows, d, adj, sample, seed, &out[*n_out], err);
        if (ret != 0)
            return ret;
        out[(*n_out)++].hop = k;
    }
    /* The outputs may live in two tables (users, items): join them. */
    fin = malloc((size_t)n * (size_t)d * sizeof(*fin));
    if (fin == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate diagnostics");
    memcpy(fin, m->user_out, (size_t)m->n_users * d * sizeof(*fin));
    memcpy(fin + (size_t)m->n_users * d, m->item_out,
           (size_t)m->n_items * d * sizeof(*fin));
    ret = gnn_diag_table(fin, n, d, adj, sample, seed, &out[*n_out], err);
    free(fin);
    if (ret != 0)
        return ret;
    out[(*n_out)++].hop = -1;
    return 0;
}

int gnn_diag_smoothed(const struct gnn_diag *final, double std_min,
                      double mad_min)
{
    return (std_min > 0.0 && final->std < std_min) ||
           (mad_min > 0.0 && final->mad < mad_min);
}
