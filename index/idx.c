/*
 * Inner-product indexes over the FAISS C API: build, search with
 * exclusions and paging, save and load. Every FAISS call goes through
 * FAISS_TRY, which turns its status into IDX_EFAISS and copies FAISS's
 * message at once (it is only valid until the next FAISS call).
 */
#include "idx.h"

#include <faiss/c_api/AutoTune_c.h>
#include <faiss/c_api/IndexFlat_c.h>
#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/error_c.h>
#include <faiss/c_api/index_factory_c.h>
#include <faiss/c_api/index_io_c.h>
#include <faiss/c_api/utils/distances_c.h>
#include <limits.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define FACTORY_MAX 128

struct idx {
    FaissIndex *index;
    int dim;
    int64_t n;
    bool exact;      /* a flat index: FAISS's answer is the true top */
    int nthreads;    /* OpenMP threads per call; 0 = as is */
    const float *xb; /* n * dim rows for exact scans, or NULL */
    float *own_xb;   /* xb when the index cannot lend its storage */
    char factory[FACTORY_MAX];
};

/* ------------------------------------------------------------------ */
/* FAISS calls                                                          */

/*
 * The one place a FAISS status becomes an idx error. call is the
 * stringized call; only the function name (up to the parenthesis) goes
 * into the message, followed by FAISS's own text.
 */
static int faiss_check(int rc, const char *call, struct idx_error *err)
{
    const char *msg;
    int len;

    if (rc == 0)
        return 0;

    msg = faiss_get_last_error();
    len = (int)strcspn(call, "(");
    return idx_error_set(err, IDX_EFAISS, "%.*s: %s", len, call,
                         msg != NULL && msg[0] != '\0' ? msg : "failed");
}

#define FAISS_TRY(call, err) faiss_check((call), #call, (err))

/*
 * OpenMP's thread count is a per-thread setting; set it for one call and
 * put back what the calling thread had, so a server thread's other
 * OpenMP users are unaffected.
 */
struct omp_scope {
    int saved;
    bool set;
};

static void threads_enter(const struct idx *ix, struct omp_scope *s)
{
    s->set = ix->nthreads > 0;
    s->saved = 0;
    if (s->set) {
        s->saved = omp_get_max_threads();
        omp_set_num_threads(ix->nthreads);
    }
}

static void threads_leave(struct omp_scope *s)
{
    if (s->set)
        omp_set_num_threads(s->saved);
}

/* ------------------------------------------------------------------ */
/* Build, settings, free                                               */

/*
 * FAISS's distance kernels may be compiled for AVX2 (index/faiss/
 * meson.build defines IDX_FAISS_AVX2 then). Every search goes through an
 * index made here, so checking here turns an illegal instruction on an
 * older CPU into an error that says what to do.
 */
static bool cpu_runs_the_kernels(void)
{
#if defined(IDX_FAISS_AVX2) && defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
#else
    return true;
#endif
}

static int idx_alloc(const struct idx_config *cfg, const char *factory,
                     struct idx **out, struct idx_error *err)
{
    struct idx *ix;

    if (strlen(factory) >= FACTORY_MAX)
        return idx_error_set(err, IDX_EINVAL,
                             "factory string longer than %d characters",
                             FACTORY_MAX - 1);
    if (cfg != NULL &&
        (cfg->nthreads < 0 || cfg->nprobe < 0 || cfg->ef_search < 0))
        return idx_error_set(err, IDX_EINVAL,
                             "nthreads, nprobe and ef_search must be >= 0");

    if (!cpu_runs_the_kernels())
        return idx_error_set(err, IDX_EINVAL,
                             "this build's FAISS distance kernels need AVX2, "
                             "FMA and F16C, which this CPU lacks (rebuild "
                             "with -Dfaiss_simd=none)");

    ix = calloc(1, sizeof(*ix));
    if (ix == NULL)
        return idx_error_set(err, IDX_ENOMEM, "no memory for an index");
    ix->nthreads = cfg != NULL ? cfg->nthreads : 0;
    strcpy(ix->factory, factory);
    *out = ix;
    return 0;
}

/*
 * Give the index a view of its vectors for exact scans: a flat index
 * lends its own storage; others keep a copy of vecs, or, after a load,
 * whatever reconstruct_n gives back (none for indexes that cannot
 * reconstruct: their exact fallback then asks FAISS for every row).
 */
static int attach_vectors(struct idx *ix, const float *vecs,
                          struct idx_error *err)
{
    FaissIndexFlat *flat = faiss_IndexFlat_cast(ix->index);
    size_t len = (size_t)ix->n * (size_t)ix->dim;
    struct idx_error ignored;
    float *xb = NULL;
    size_t size = 0;

    ix->exact = flat != NULL;
    if (flat != NULL) {
        faiss_IndexFlat_xb(flat, &xb, &size);
        ix->xb = xb;
        return 0;
    }

    ix->own_xb = malloc(len * sizeof(float));
    if (ix->own_xb == NULL)
        return idx_error_set(err, IDX_ENOMEM, "no memory for %zu floats", len);
    if (vecs != NULL) {
        memcpy(ix->own_xb, vecs, len * sizeof(float));
    } else if (FAISS_TRY(
                   faiss_Index_reconstruct_n(ix->index, 0, ix->n, ix->own_xb),
                   &ignored) < 0) {
        /* Not an error: this index type cannot give its vectors back. */
        free(ix->own_xb);
        ix->own_xb = NULL;
    }
    ix->xb = ix->own_xb;
    return 0;
}

int idx_set_param(struct idx *ix, const char *name, double value,
                  struct idx_error *err)
{
    FaissParameterSpace *space = NULL;
    int ret;

    if (ix == NULL || name == NULL)
        return idx_error_set(err, IDX_EINVAL, "index and name required");

    ret = FAISS_TRY(faiss_ParameterSpace_new(&space), err);
    if (ret == 0)
        ret = FAISS_TRY(faiss_ParameterSpace_set_index_parameter(
                            space, ix->index, name, value),
                        err);
    faiss_ParameterSpace_free(space);
    return ret;
}

static int apply_params(struct idx *ix, const struct idx_config *cfg,
                        struct idx_error *err)
{
    int ret = 0;

    if (cfg == NULL)
        return 0;
    if (cfg->nprobe > 0)
        ret = idx_set_param(ix, "nprobe", cfg->nprobe, err);
    if (ret == 0 && cfg->ef_search > 0)
        ret = idx_set_param(ix, "efSearch", cfg->ef_search, err);
    return ret;
}

int idx_build(const struct idx_config *cfg, const float *vecs, int64_t n,
              int dim, struct idx **out, struct idx_error *err)
{
    const char *factory;
    struct idx *ix = NULL;
    struct omp_scope scope;
    int ret;

    if (out == NULL || vecs == NULL)
        return idx_error_set(err, IDX_EINVAL, "vectors and out required");
    *out = NULL;
    if (n < 1 || dim < 1)
        return idx_error_set(err, IDX_EINVAL,
                             "need n >= 1 and dim >= 1 (n=%lld dim=%d)",
                             (long long)n, dim);

    factory = cfg != NULL && cfg->factory != NULL ? cfg->factory : "Flat";
    ret = idx_alloc(cfg, factory, &ix, err);
    if (ret < 0)
        goto out;
    ret = FAISS_TRY(
        faiss_index_factory(&ix->index, dim, factory, METRIC_INNER_PRODUCT),
        err);
    if (ret < 0)
        goto out;
    ix->dim = dim;
    ix->n = n;

    threads_enter(ix, &scope);
    if (!faiss_Index_is_trained(ix->index))
        ret = FAISS_TRY(faiss_Index_train(ix->index, n, vecs), err);
    if (ret == 0)
        ret = FAISS_TRY(faiss_Index_add(ix->index, n, vecs), err);
    threads_leave(&scope);
    if (ret < 0)
        goto out;

    ret = attach_vectors(ix, vecs, err);
    if (ret == 0)
        ret = apply_params(ix, cfg, err);
    if (ret < 0)
        goto out;

    *out = ix;
    ix = NULL;
out:
    idx_free(ix);
    return ret;
}

void idx_free(struct idx *ix)
{
    if (ix == NULL)
        return;
    faiss_Index_free(ix->index);
    free(ix->own_xb);
    free(ix);
}

int idx_dim(const struct idx *ix)
{
    return ix->dim;
}

int64_t idx_size(const struct idx *ix)
{
    return ix->n;
}

bool idx_is_exact(const struct idx *ix)
{
    return ix->exact;
}

const char *idx_factory(const struct idx *ix)
{
    return ix->factory;
}

/* ------------------------------------------------------------------ */
/* Plain search                                                        */

int idx_search(const struct idx *ix, int64_t nq, const float *queries, int dim,
               int k, float *scores, int64_t *labels, struct idx_error *err)
{
    struct omp_scope scope;
    int ret;

    if (ix == NULL || queries == NULL || scores == NULL || labels == NULL)
        return idx_error_set(err, IDX_EINVAL, "NULL argument to search");
    if (nq < 1 || k < 1)
        return idx_error_set(err, IDX_EINVAL,
                             "need nq >= 1 and k >= 1 (nq=%lld k=%d)",
                             (long long)nq, k);
    if (dim != ix->dim)
        return idx_error_set(err, IDX_EINVAL,
                             "query dim %d does not match index dim %d", dim,
                             ix->dim);

    threads_enter(ix, &scope);
    ret = FAISS_TRY(
        faiss_Index_search(ix->index, nq, queries, k, scores, labels), err);
    threads_leave(&scope);
    return ret;
}

/* ------------------------------------------------------------------ */
/* Filtered search                                                     */

/* Where one query stands between rounds. */
struct qstate {
    struct idx_query *q;
    int64_t *excl; /* sorted, unique copy of q->exclude */
    size_t n_excl;
    int64_t need; /* offset + k */
    int64_t want; /* rows to fetch in the next round */
};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static bool excluded(const struct qstate *st, int64_t row)
{
    const struct idx_query *q = st->q;

    if (st->n_excl > 0 &&
        bsearch(&row, st->excl, st->n_excl, sizeof(int64_t), cmp_i64))
        return true;
    return q->skip != NULL && q->skip(q->skip_ctx, row);
}

/*
 * Write the valid candidates (rows, best first) into the query's output
 * past its offset; return how many valid ones were seen, at most need.
 * filter is false for rows already filtered (by the exact scan): asking
 * skip() again could drop a row hidden in the meantime and leave the
 * answer short.
 */
static int64_t collect(const struct qstate *st, const int64_t *rows,
                       const float *scores, int64_t n, bool filter)
{
    struct idx_query *q = st->q;
    int64_t valid = 0;

    q->n_found = 0;
    for (int64_t i = 0; i < n && valid < st->need; i++) {
        if (rows[i] < 0 || (filter && excluded(st, rows[i])))
            continue;
        if (valid++ < q->offset)
            continue;
        q->labels[q->n_found] = rows[i];
        q->scores[q->n_found] = scores[i];
        q->n_found++;
    }
    for (int i = q->n_found; i < q->k; i++) {
        q->labels[i] = -1;
        q->scores[i] = 0.0f;
    }
    return valid;
}

static float dot(const float *a, const float *b, int dim)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int i = 0;

    for (; i + 4 <= dim; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < dim; i++)
        s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

/* Heap order: a is worse than b (lower score; on a tie, higher row). */
static bool worse(float sa, int64_t ra, float sb, int64_t rb)
{
    return sa < sb || (sa == sb && ra > rb);
}

static void heap_sift_down(float *s, int64_t *r, int64_t n, int64_t i)
{
    for (;;) {
        int64_t l = 2 * i + 1, m = i;

        if (l < n && worse(s[l], r[l], s[m], r[m]))
            m = l;
        if (l + 1 < n && worse(s[l + 1], r[l + 1], s[m], r[m]))
            m = l + 1;
        if (m == i)
            return;
        float ts = s[i];
        int64_t tr = r[i];
        s[i] = s[m];
        r[i] = r[m];
        s[m] = ts;
        r[m] = tr;
        i = m;
    }
}

/*
 * Exact top-need over every non-excluded row by brute force, into
 * rows/scores (need entries); returns how many were found. A min-heap of
 * the best so far keeps the worst at the root.
 */
static int64_t scan_exact(const struct idx *ix, const struct qstate *st,
                          int64_t *rows, float *scores)
{
    const float *x = st->q->vec;
    int64_t len = 0;

    for (int64_t row = 0; row < ix->n; row++) {
        if (excluded(st, row))
            continue;
        float s = dot(x, ix->xb + row * ix->dim, ix->dim);
        if (len < st->need) {
            /* Insert at the end and sift up. */
            int64_t i = len++;
            scores[i] = s;
            rows[i] = row;
            while (i > 0) {
                int64_t p = (i - 1) / 2;
                if (!worse(scores[i], rows[i], scores[p], rows[p]))
                    break;
                float ts = scores[i];
                int64_t tr = rows[i];
                scores[i] = scores[p];
                rows[i] = rows[p];
                scores[p] = ts;
                rows[p] = tr;
                i = p;
            }
        } else if (worse(scores[0], rows[0], s, row)) {
            scores[0] = s;
            rows[0] = row;
            heap_sift_down(scores, rows, len, 0);
        }
    }

    /* Pop the worst to the end repeatedly: sorted best first. */
    for (int64_t end = len - 1; end > 0; end--) {
        float ts = scores[0];
        int64_t tr = rows[0];
        scores[0] = scores[end];
        rows[0] = rows[end];
        scores[end] = ts;
        rows[end] = tr;
        heap_sift_down(scores, rows, end, 0);
    }
    return len;
}

/*
 * The fallback for one query: an exact scan over the stored vectors, or,
 * for a loaded index that cannot give them back, FAISS asked for every
 * row (so nothing the index can find is missed).
 */
static int answer_exhaustively(const struct idx *ix, struct qstate *st,
                               struct idx_error *err)
{
    int64_t fetch = ix->xb != NULL ? st->need : ix->n;
    int64_t *rows = malloc((size_t)fetch * sizeof(int64_t));
    float *scores = malloc((size_t)fetch * sizeof(float));
    struct omp_scope scope;
    int ret = 0;

    if (rows == NULL || scores == NULL) {
        ret = idx_error_set(err, IDX_ENOMEM, "no memory for a scan");
        goto out;
    }
    if (ix->xb != NULL) {
        collect(st, rows, scores, scan_exact(ix, st, rows, scores), false);
        goto out;
    }
    threads_enter(ix, &scope);
    ret = FAISS_TRY(
        faiss_Index_search(ix->index, 1, st->q->vec, fetch, scores, rows), err);
    threads_leave(&scope);
    if (ret == 0)
        collect(st, rows, scores, fetch, true);
out:
    free(rows);
    free(scores);
    return ret;
}

static int check_query(const struct idx *ix, const struct idx_query *q,
                       struct idx_error *err)
{
    if (q->vec == NULL || q->labels == NULL || q->scores == NULL ||
        (q->n_exclude > 0 && q->exclude == NULL))
        return idx_error_set(err, IDX_EINVAL, "NULL array in a query");
    if (q->k < 1 || q->offset < 0 || q->k > INT_MAX - q->offset)
        return idx_error_set(err, IDX_EINVAL,
                             "need k >= 1 and offset >= 0 (k=%d offset=%d)",
                             q->k, q->offset);
    if (q->dim != ix->dim)
        return idx_error_set(err, IDX_EINVAL,
                             "query dim %d does not match index dim %d", q->dim,
                             ix->dim);
    return 0;
}

/* Sorted, unique copy of the query's exclusions. */
static int prepare(const struct idx *ix, struct qstate *st, struct idx_query *q,
                   struct idx_error *err)
{
    size_t n = 0;

    st->q = q;
    st->need = (int64_t)q->k + q->offset;
    st->excl = NULL;
    st->n_excl = 0;
    if (q->n_exclude > 0) {
        st->excl = malloc(q->n_exclude * sizeof(int64_t));
        if (st->excl == NULL)
            return idx_error_set(err, IDX_ENOMEM, "no memory for excludes");
        memcpy(st->excl, q->exclude, q->n_exclude * sizeof(int64_t));
        qsort(st->excl, q->n_exclude, sizeof(int64_t), cmp_i64);
        for (size_t i = 0; i < q->n_exclude; i++) {
            if (n == 0 || st->excl[n - 1] != st->excl[i])
                st->excl[n++] = st->excl[i];
        }
        st->n_excl = n;
    }
    st->want = st->need + (int64_t)st->n_excl + (int64_t)q->skip_hint;
    if (st->want > ix->n)
        st->want = ix->n;
    return 0;
}

/*
 * One round: search the pending queries (their indices in pend[]) with
 * one FAISS call at the largest fetch any of them wants, keep those that
 * are answered and return how many are still short, moved to the front
 * of pend[] with a larger want.
 */
static int round_search(const struct idx *ix, struct qstate *sts, size_t *pend,
                        size_t n_pend, size_t *n_left, struct idx_error *err)
{
    int64_t fetch = 0;
    size_t dim = (size_t)ix->dim, left = 0;
    float *x = NULL, *scores = NULL;
    int64_t *rows = NULL;
    struct omp_scope scope;
    int ret;

    for (size_t i = 0; i < n_pend; i++) {
        if (sts[pend[i]].want > fetch)
            fetch = sts[pend[i]].want;
    }
    x = malloc(n_pend * dim * sizeof(float));
    scores = malloc(n_pend * (size_t)fetch * sizeof(float));
    rows = malloc(n_pend * (size_t)fetch * sizeof(int64_t));
    if (x == NULL || scores == NULL || rows == NULL) {
        ret = idx_error_set(err, IDX_ENOMEM, "no memory for %zu x %lld", n_pend,
                            (long long)fetch);
        goto out;
    }
    for (size_t i = 0; i < n_pend; i++)
        memcpy(x + i * dim, sts[pend[i]].q->vec, dim * sizeof(float));

    threads_enter(ix, &scope);
    ret = FAISS_TRY(
        faiss_Index_search(ix->index, (idx_t)n_pend, x, fetch, scores, rows),
        err);
    threads_leave(&scope);
    if (ret < 0)
        goto out;

    for (size_t i = 0; i < n_pend; i++) {
        struct qstate *st = &sts[pend[i]];
        size_t off = i * (size_t)fetch;
        int64_t valid = collect(st, rows + off, scores + off, fetch, true);

        /* Done: enough rows, or the exact index gave every row. */
        if (valid >= st->need || (ix->exact && fetch >= ix->n))
            continue;
        st->want = 2 * fetch;
        pend[left++] = pend[i];
    }
out:
    *n_left = left;
    free(x);
    free(scores);
    free(rows);
    return ret;
}

/*
 * Queries that want half the index or more are answered by a scan, which
 * costs about what such a fetch would and is exact; the rest stay
 * pending (compacted at the front of pend[]).
 */
static int scan_large(const struct idx *ix, struct qstate *sts, size_t *pend,
                      size_t *n_pend, struct idx_error *err)
{
    size_t kept = 0;

    for (size_t i = 0; i < *n_pend; i++) {
        struct qstate *st = &sts[pend[i]];

        if (2 * st->want >= ix->n) {
            int ret = answer_exhaustively(ix, st, err);
            if (ret < 0)
                return ret;
        } else {
            pend[kept++] = pend[i];
        }
    }
    *n_pend = kept;
    return 0;
}

int idx_search_filtered(const struct idx *ix, struct idx_query *qs, size_t nq,
                        struct idx_error *err)
{
    struct qstate *sts = NULL;
    size_t *pend = NULL, n_pend = nq, prepared = 0;
    int ret = 0;

    if (ix == NULL || qs == NULL || nq == 0)
        return idx_error_set(err, IDX_EINVAL, "index and queries required");
    for (size_t i = 0; i < nq; i++) {
        ret = check_query(ix, &qs[i], err);
        if (ret < 0)
            return ret;
    }

    sts = calloc(nq, sizeof(*sts));
    pend = malloc(nq * sizeof(*pend));
    if (sts == NULL || pend == NULL) {
        ret = idx_error_set(err, IDX_ENOMEM, "no memory for %zu queries", nq);
        goto out;
    }
    for (; prepared < nq; prepared++) {
        ret = prepare(ix, &sts[prepared], &qs[prepared], err);
        if (ret < 0)
            goto out;
        pend[prepared] = prepared;
    }

    /* Each round either answers a query or doubles its fetch, so a query
     * sees at most log2(n) rounds before the scan takes it. */
    while (n_pend > 0) {
        ret = scan_large(ix, sts, pend, &n_pend, err);
        if (ret < 0 || n_pend == 0)
            break;
        ret = round_search(ix, sts, pend, n_pend, &n_pend, err);
        if (ret < 0)
            break;
    }
out:
    for (size_t i = 0; i < prepared; i++)
        free(sts[i].excl);
    free(sts);
    free(pend);
    return ret;
}

int idx_set_blas_threshold(int nq)
{
    int old = faiss_get_distance_compute_blas_threshold();

    if (nq > 0)
        faiss_set_distance_compute_blas_threshold(nq);
    return old;
}

/* ------------------------------------------------------------------ */
/* Files                                                               */

int idx_save(const struct idx *ix, const char *path, struct idx_error *err)
{
    if (ix == NULL || path == NULL)
        return idx_error_set(err, IDX_EINVAL, "index and path required");
    return FAISS_TRY(faiss_write_index_fname(ix->index, path), err);
}

int idx_load(const char *path, const struct idx_config *cfg, struct idx **out,
             struct idx_error *err)
{
    struct idx *ix = NULL;
    int ret;

    if (path == NULL || out == NULL)
        return idx_error_set(err, IDX_EINVAL, "path and out required");
    *out = NULL;

    ret = idx_alloc(cfg, "loaded", &ix, err);
    if (ret < 0)
        goto out;
    ret = FAISS_TRY(faiss_read_index_fname(path, 0, &ix->index), err);
    if (ret < 0)
        goto out;
    if (faiss_Index_metric_type(ix->index) != METRIC_INNER_PRODUCT) {
        ret = idx_error_set(err, IDX_EINVAL,
                            "%s: index metric is not inner product", path);
        goto out;
    }
    ix->dim = faiss_Index_d(ix->index);
    ix->n = faiss_Index_ntotal(ix->index);
    if (ix->n < 1) {
        ret = idx_error_set(err, IDX_EINVAL, "%s: index is empty", path);
        goto out;
    }

    ret = attach_vectors(ix, NULL, err);
    if (ret == 0)
        ret = apply_params(ix, cfg, err);
    if (ret < 0)
        goto out;

    *out = ix;
    ix = NULL;
out:
    idx_free(ix);
    return ret;
}
