/*
 * The index layer against a brute-force reference: exact search,
 * exclusions (listed and by callback, with right and wrong hints),
 * paging, factory strings, save/load, thread settings and bad arguments.
 */
#include <criterion/criterion.h>
#include <faiss/c_api/IndexFlat_c.h>
#include <faiss/c_api/index_io_c.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "idx.h"

enum { N = 1000, DIM = 16, NQ = 12, K = 10 };

static float *vecs;
static float *queries;

/* Deterministic uniform floats in [-1, 1). */
static uint64_t rng_state;

static float frand(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng_state >> 40) / (double)(1ULL << 24)) * 2.0f - 1.0f;
}

static float *random_matrix(int64_t rows, int cols)
{
    float *m = malloc((size_t)rows * (size_t)cols * sizeof(float));

    cr_assert_not_null(m);
    for (int64_t i = 0; i < rows * cols; i++)
        m[i] = frand();
    return m;
}

static void setup(void)
{
    rng_state = 42;
    vecs = random_matrix(N, DIM);
    queries = random_matrix(NQ, DIM);
}

static void teardown(void)
{
    free(vecs);
    free(queries);
}

static double true_score(const float *q, int64_t row)
{
    double s = 0;

    for (int d = 0; d < DIM; d++)
        s += (double)q[d] * vecs[row * DIM + d];
    return s;
}

static bool in_list(const int64_t *list, size_t n, int64_t row)
{
    for (size_t i = 0; i < n; i++) {
        if (list[i] == row)
            return true;
    }
    return false;
}

static bool skip_multiple_of_3(const void *ctx, int64_t row)
{
    (void)ctx;
    return row % 3 == 0;
}

/*
 * Reference answer: every row not excluded, scored in double, sorted
 * best first; ranks offset..offset+k-1. Returns how many it wrote.
 */
static int brute_force(const float *q, const int64_t *excl, size_t n_excl,
                       bool skip3, int k, int offset, double *ref)
{
    double *all = malloc(N * sizeof(double));
    int n = 0, written = 0;

    cr_assert_not_null(all);
    for (int64_t row = 0; row < N; row++) {
        if (in_list(excl, n_excl, row) || (skip3 && row % 3 == 0))
            continue;
        all[n++] = true_score(q, row);
    }
    /* Selection by repeated maximum: small sizes, clarity first. */
    for (int r = 0; r < offset + k && r < n; r++) {
        int best = r;
        for (int j = r + 1; j < n; j++) {
            if (all[j] > all[best])
                best = j;
        }
        double t = all[r];
        all[r] = all[best];
        all[best] = t;
        if (r >= offset)
            ref[written++] = all[r];
    }
    free(all);
    return written;
}

/* The answer's rows have the reference's scores, rank by rank, and none
 * is excluded or repeated. */
static void check_answer(const struct idx_query *q, const int64_t *excl,
                         size_t n_excl, bool skip3)
{
    double ref[64];
    int n_ref = brute_force(q->vec, excl, n_excl, skip3, q->k, q->offset, ref);

    cr_assert_eq(q->n_found, n_ref, "found %d rows, reference has %d",
                 q->n_found, n_ref);
    for (int i = 0; i < q->n_found; i++) {
        int64_t row = q->labels[i];

        cr_assert(row >= 0 && row < N, "row %lld out of range", (long long)row);
        cr_assert(!in_list(excl, n_excl, row), "excluded row %lld returned",
                  (long long)row);
        cr_assert(!(skip3 && row % 3 == 0), "skipped row %lld returned",
                  (long long)row);
        cr_assert(!in_list(q->labels, (size_t)i, row), "row %lld twice",
                  (long long)row);
        cr_assert(fabs(true_score(q->vec, row) - ref[i]) < 1e-4,
                  "rank %d: row %lld scores %f, reference %f", i,
                  (long long)row, true_score(q->vec, row), ref[i]);
        cr_assert(fabs(q->scores[i] - ref[i]) < 1e-4);
    }
    for (int i = q->n_found; i < q->k; i++)
        cr_assert_eq(q->labels[i], -1, "tail entry %d is not -1", i);
}

static struct idx *build(const char *factory)
{
    struct idx_config cfg = {.factory = factory};
    struct idx_error err = {0};
    struct idx *ix = NULL;

    cr_assert_eq(idx_build(&cfg, vecs, N, DIM, &ix, &err), 0, "%s", err.text);
    return ix;
}

TestSuite(idx, .init = setup, .fini = teardown);

Test(idx, exact_search_matches_brute_force)
{
    struct idx *ix = build(NULL);
    float scores[NQ * K];
    int64_t labels[NQ * K];

    cr_assert(idx_is_exact(ix));
    cr_assert_eq(idx_size(ix), N);
    cr_assert_eq(idx_dim(ix), DIM);
    cr_assert_eq(idx_search(ix, NQ, queries, DIM, K, scores, labels, NULL), 0);
    for (int i = 0; i < NQ; i++) {
        struct idx_query q = {.vec = queries + i * DIM,
                              .k = K,
                              .labels = labels + i * K,
                              .scores = scores + i * K,
                              .n_found = K};
        check_answer(&q, NULL, 0, false);
    }
    idx_free(ix);
}

/* Queries with exclusion lists of every size: none, a few, most rows
 * (which forces the grown fetch and the exact scan), all rows. */
Test(idx, filtered_search_matches_brute_force)
{
    static const size_t sizes[] = {0, 5, 60, 400, 700, 990, N};
    enum { NS = sizeof(sizes) / sizeof(sizes[0]) };
    struct idx *ix = build(NULL);
    int64_t *excl[NS], labels[NS][K];
    float scores[NS][K];
    struct idx_query qs[NS];

    for (size_t s = 0; s < NS; s++) {
        excl[s] = malloc((sizes[s] + 1) * sizeof(int64_t));
        /* Rows spread over the whole index (7 is prime to N). */
        for (size_t i = 0; i < sizes[s]; i++)
            excl[s][i] = (int64_t)((i * 7) % N);
        qs[s] = (struct idx_query){.vec = queries + s * DIM,
                                   .dim = DIM,
                                   .k = K,
                                   .exclude = excl[s],
                                   .n_exclude = sizes[s],
                                   .labels = labels[s],
                                   .scores = scores[s]};
    }
    cr_assert_eq(idx_search_filtered(ix, qs, NS, NULL), 0);
    for (size_t s = 0; s < NS; s++) {
        check_answer(&qs[s], excl[s], sizes[s], false);
        free(excl[s]);
    }
    cr_assert_eq(qs[NS - 1].n_found, 0, "everything excluded: no answer");
    idx_free(ix);
}

/* The top rows of each query excluded: the first fetch, sized by the
 * list's length, comes back mostly excluded and must be grown. */
Test(idx, excluding_a_query_favourites_still_gives_the_next_best)
{
    struct idx *ix = build(NULL);
    float scores[50];
    int64_t top[50], labels[K];
    struct idx_query q = {.vec = queries,
                          .dim = DIM,
                          .k = K,
                          .exclude = top,
                          .n_exclude = 50,
                          .labels = labels,
                          .scores = scores};

    cr_assert_eq(idx_search(ix, 1, queries, DIM, 50, scores, top, NULL), 0);
    cr_assert_eq(idx_search_filtered(ix, &q, 1, NULL), 0);
    check_answer(&q, top, 50, false);
    idx_free(ix);
}

Test(idx, skip_callback_is_honoured_whatever_the_hint)
{
    struct idx *ix = build(NULL);
    int64_t labels[2][K];
    float scores[2][K];
    struct idx_query qs[2];

    for (int i = 0; i < 2; i++) {
        qs[i] = (struct idx_query){.vec = queries + i * DIM,
                                   .dim = DIM,
                                   .k = K,
                                   .offset = 3,
                                   .skip = skip_multiple_of_3,
                                   /* right hint, then none at all */
                                   .skip_hint = i == 0 ? N / 3 : 0,
                                   .labels = labels[i],
                                   .scores = scores[i]};
    }
    cr_assert_eq(idx_search_filtered(ix, qs, 2, NULL), 0);
    check_answer(&qs[0], NULL, 0, true);
    check_answer(&qs[1], NULL, 0, true);
    idx_free(ix);
}

Test(idx, pages_by_offset_join_into_one_long_page)
{
    struct idx *ix = build(NULL);
    int64_t excl[] = {3, 14, 15, 92, 65};
    int64_t whole[30], page[10];
    float ws[30], ps[10];
    struct idx_query q = {.vec = queries,
                          .dim = DIM,
                          .k = 30,
                          .exclude = excl,
                          .n_exclude = 5,
                          .labels = whole,
                          .scores = ws};

    cr_assert_eq(idx_search_filtered(ix, &q, 1, NULL), 0);
    cr_assert_eq(q.n_found, 30);
    for (int p = 0; p < 3; p++) {
        q.k = 10;
        q.offset = 10 * p;
        q.labels = page;
        q.scores = ps;
        cr_assert_eq(idx_search_filtered(ix, &q, 1, NULL), 0);
        cr_assert_eq(q.n_found, 10);
        cr_assert_arr_eq(page, whole + 10 * p, sizeof(page),
                         "page %d differs from the long answer", p);
    }
    idx_free(ix);
}

Test(idx, paging_past_the_end_returns_a_short_page)
{
    struct idx *ix = build(NULL);
    int64_t labels[K];
    float scores[K];
    struct idx_query q = {.vec = queries,
                          .dim = DIM,
                          .k = K,
                          .offset = N - 4,
                          .labels = labels,
                          .scores = scores};

    cr_assert_eq(idx_search_filtered(ix, &q, 1, NULL), 0);
    cr_assert_eq(q.n_found, 4);
    check_answer(&q, NULL, 0, false);
    idx_free(ix);
}

Test(idx, hnsw_factory_has_high_recall_and_honours_excludes)
{
    struct idx_config cfg = {.factory = "HNSW16,Flat", .ef_search = 128};
    struct idx_error err = {0};
    struct idx *ix = NULL, *exact = build(NULL);
    float s1[NQ * K], s2[NQ * K];
    int64_t l1[NQ * K], l2[NQ * K], excl[] = {1, 2, 3};
    int hits = 0;

    cr_assert_eq(idx_build(&cfg, vecs, N, DIM, &ix, &err), 0, "%s", err.text);
    cr_assert(!idx_is_exact(ix));
    cr_assert_str_eq(idx_factory(ix), "HNSW16,Flat");
    cr_assert_eq(idx_search(ix, NQ, queries, DIM, K, s1, l1, NULL), 0);
    cr_assert_eq(idx_search(exact, NQ, queries, DIM, K, s2, l2, NULL), 0);
    for (int i = 0; i < NQ * K; i++)
        hits += in_list(l2 + (i / K) * K, K, l1[i]);
    cr_assert_geq(hits, NQ * K * 9 / 10, "recall %d/%d", hits, NQ * K);

    struct idx_query q = {.vec = queries,
                          .dim = DIM,
                          .k = K,
                          .exclude = excl,
                          .n_exclude = 3,
                          .labels = l1,
                          .scores = s1};
    cr_assert_eq(idx_search_filtered(ix, &q, 1, NULL), 0);
    cr_assert_eq(q.n_found, K);
    for (int i = 0; i < K; i++)
        cr_assert(!in_list(excl, 3, l1[i]));
    idx_free(ix);
    idx_free(exact);
}

/* Probing every list of an IVF index makes it exact: a check that the
 * training ran and that nprobe reached the index. */
Test(idx, ivf_with_every_list_probed_is_exact)
{
    struct idx_config cfg = {.factory = "IVF8,Flat", .nprobe = 8};
    struct idx_error err = {0};
    struct idx *ix = NULL;
    int64_t labels[NQ][K];
    float scores[NQ][K];
    struct idx_query qs[NQ];

    cr_assert_eq(idx_build(&cfg, vecs, N, DIM, &ix, &err), 0, "%s", err.text);
    for (int i = 0; i < NQ; i++)
        qs[i] = (struct idx_query){.vec = queries + i * DIM,
                                   .dim = DIM,
                                   .k = K,
                                   .labels = labels[i],
                                   .scores = scores[i]};
    cr_assert_eq(idx_search_filtered(ix, qs, NQ, NULL), 0);
    for (int i = 0; i < NQ; i++)
        check_answer(&qs[i], NULL, 0, false);
    idx_free(ix);
}

Test(idx, bad_factory_string_is_a_faiss_error_with_its_message)
{
    struct idx_config cfg = {.factory = "NoSuchIndex,Flat"};
    struct idx_error err = {0};
    struct idx *ix = (struct idx *)&err;

    cr_assert_eq(idx_build(&cfg, vecs, N, DIM, &ix, &err), IDX_EFAISS);
    cr_assert_null(ix, "no index handed out on failure");
    cr_assert_eq(err.code, IDX_EFAISS);
    cr_assert(strstr(err.text, "faiss_index_factory") != NULL, "%s", err.text);
    cr_assert_gt(strlen(err.text), strlen("faiss_index_factory: "));
}

Test(idx, ivf_with_too_few_vectors_reports_training_failure)
{
    struct idx_config cfg = {.factory = "IVF4096,Flat"};
    struct idx_error err = {0};
    struct idx *ix = NULL;

    cr_assert_eq(idx_build(&cfg, vecs, N, DIM, &ix, &err), IDX_EFAISS);
    cr_assert(strstr(err.text, "faiss_Index_train") != NULL, "%s", err.text);
}

Test(idx, search_parameter_the_index_lacks_is_an_error)
{
    struct idx_config cfg = {.nprobe = 4};
    struct idx_error err = {0};
    struct idx *ix = NULL;

    cr_assert_eq(idx_build(&cfg, vecs, N, DIM, &ix, &err), IDX_EFAISS);
    cr_assert_null(ix);
    cr_assert(strstr(err.text, "nprobe") != NULL, "%s", err.text);
}

Test(idx, bad_arguments_are_refused_with_a_message)
{
    struct idx_error err = {0};
    struct idx *ix = NULL;
    struct idx_config neg = {.nthreads = -1};
    float s[K];
    int64_t l[K];

    cr_assert_eq(idx_build(NULL, vecs, 0, DIM, &ix, &err), IDX_EINVAL);
    cr_assert_eq(idx_build(NULL, vecs, N, 0, &ix, &err), IDX_EINVAL);
    cr_assert_eq(idx_build(NULL, NULL, N, DIM, &ix, &err), IDX_EINVAL);
    cr_assert_eq(idx_build(&neg, vecs, N, DIM, &ix, &err), IDX_EINVAL);
    cr_assert_neq(err.text[0], '\0');

    ix = build(NULL);
    cr_assert_eq(idx_search(ix, 1, queries, DIM, 0, s, l, &err), IDX_EINVAL);
    cr_assert_eq(idx_search(ix, 1, queries, DIM, -3, s, l, &err), IDX_EINVAL);
    cr_assert_eq(idx_search(ix, 0, queries, DIM, K, s, l, &err), IDX_EINVAL);
    cr_assert_eq(idx_search(ix, 1, queries, DIM + 1, K, s, l, &err),
                 IDX_EINVAL);
    cr_assert(strstr(err.text, "dim") != NULL, "%s", err.text);

    struct idx_query q = {
        .vec = queries, .dim = DIM, .k = 0, .labels = l, .scores = s};
    cr_assert_eq(idx_search_filtered(ix, &q, 1, &err), IDX_EINVAL);
    q.k = K;
    q.offset = -1;
    cr_assert_eq(idx_search_filtered(ix, &q, 1, &err), IDX_EINVAL);
    q.offset = 0;
    q.dim = 3;
    cr_assert_eq(idx_search_filtered(ix, &q, 1, &err), IDX_EINVAL);
    q.dim = DIM;
    q.n_exclude = 2;
    cr_assert_eq(idx_search_filtered(ix, &q, 1, &err), IDX_EINVAL);
    q.n_exclude = 0;
    cr_assert_eq(idx_search_filtered(ix, &q, 0, &err), IDX_EINVAL);
    cr_assert_eq(idx_search_filtered(ix, &q, 1, NULL), 0);
    idx_free(ix);
    idx_free(NULL);
}

static void save_load_roundtrip(const char *factory)
{
    char path[] = "/tmp/hoprec-idx-XXXXXX";
    struct idx_error err = {0};
    struct idx *ix = build(factory), *back = NULL;
    float s1[NQ * K], s2[NQ * K];
    int64_t l1[NQ * K], l2[NQ * K];
    int fd = mkstemp(path);

    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(idx_save(ix, path, &err), 0, "%s", err.text);
    cr_assert_eq(idx_load(path, NULL, &back, &err), 0, "%s", err.text);
    cr_assert_eq(idx_size(back), N);
    cr_assert_eq(idx_dim(back), DIM);
    cr_assert_eq(idx_is_exact(back), idx_is_exact(ix));
    cr_assert_eq(idx_search(ix, NQ, queries, DIM, K, s1, l1, NULL), 0);
    cr_assert_eq(idx_search(back, NQ, queries, DIM, K, s2, l2, NULL), 0);
    cr_assert_arr_eq(l1, l2, sizeof(l1),
                     "%s: loaded index answers "
                     "differently",
                     factory ? factory : "Flat");

    /* The exact fallback works on the loaded copy too. */
    int64_t excl[900];
    for (int i = 0; i < 900; i++)
        excl[i] = i;
    struct idx_query q = {.vec = queries,
                          .dim = DIM,
                          .k = K,
                          .exclude = excl,
                          .n_exclude = 900,
                          .labels = l2,
                          .scores = s2};
    cr_assert_eq(idx_search_filtered(back, &q, 1, NULL), 0);
    check_answer(&q, excl, 900, false);

    unlink(path);
    idx_free(ix);
    idx_free(back);
}

Test(idx, save_and_load_give_the_same_answers)
{
    save_load_roundtrip(NULL);
    save_load_roundtrip("HNSW16,Flat");
}

Test(idx, load_refuses_missing_files_and_other_metrics)
{
    char path[] = "/tmp/hoprec-idx-XXXXXX";
    struct idx_error err = {0};
    struct idx *ix = NULL;
    FaissIndexFlatL2 *l2 = NULL;
    int fd = mkstemp(path);

    cr_assert_eq(idx_load("/nonexistent/index.faiss", NULL, &ix, &err),
                 IDX_EFAISS);
    cr_assert(strstr(err.text, "faiss_read_index_fname") != NULL, "%s",
              err.text);

    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(faiss_IndexFlatL2_new_with(&l2, DIM), 0);
    cr_assert_eq(faiss_Index_add((FaissIndex *)l2, N, vecs), 0);
    cr_assert_eq(faiss_write_index_fname((FaissIndex *)l2, path), 0);
    faiss_Index_free((FaissIndex *)l2);
    cr_assert_eq(idx_load(path, NULL, &ix, &err), IDX_EINVAL);
    cr_assert(strstr(err.text, "inner product") != NULL, "%s", err.text);
    cr_assert_null(ix);
    unlink(path);
}

Test(idx, thread_count_leaves_answers_and_caller_setting_alone)
{
    struct idx_config one = {.nthreads = 1}, two = {.nthreads = 2};
    struct idx *a = NULL, *b = NULL;
    float s1[NQ * K], s2[NQ * K];
    int64_t l1[NQ * K], l2[NQ * K];
    int before;

    omp_set_num_threads(3);
    before = omp_get_max_threads();
    cr_assert_eq(idx_build(&one, vecs, N, DIM, &a, NULL), 0);
    cr_assert_eq(idx_build(&two, vecs, N, DIM, &b, NULL), 0);
    cr_assert_eq(idx_search(a, NQ, queries, DIM, K, s1, l1, NULL), 0);
    cr_assert_eq(idx_search(b, NQ, queries, DIM, K, s2, l2, NULL), 0);
    cr_assert_arr_eq(l1, l2, sizeof(l1));
    cr_assert_eq(omp_get_max_threads(), before,
                 "the caller's OpenMP setting was not restored");
    idx_free(a);
    idx_free(b);
}

/* A skip() whose answer flips after the first question about a row, as
 * when an item is hidden while a query runs. */
static bool skip_on_second_ask(const void *ctx, int64_t row)
{
    unsigned char *asked = (unsigned char *)ctx;

    return asked[row]++ > 0;
}

Test(idx, rows_hidden_during_an_exact_scan_never_shorten_the_answer)
{
    struct idx *ix = build(NULL);
    static unsigned char asked[N];
    int64_t excl[N / 2], labels[K];
    float scores[K];

    for (int i = 0; i < N / 2; i++)
        excl[i] = 2 * i;
    struct idx_query q = {.vec = queries,
                          .dim = DIM,
                          .k = K,
                          .exclude = excl,
                          .n_exclude = N / 2,
                          .skip = skip_on_second_ask,
                          .skip_ctx = asked,
                          .labels = labels,
                          .scores = scores};
    cr_assert_eq(idx_search_filtered(ix, &q, 1, NULL), 0);
    cr_assert_eq(q.n_found, K, "answer cut to %d by a late change", q.n_found);
    idx_free(ix);
}

/* A lower BLAS threshold changes how FAISS computes, not what it finds. */
Test(idx, blas_threshold_changes_the_path_not_the_answer)
{
    struct idx *ix = build(NULL);
    float s1[NQ * K], s2[NQ * K];
    int64_t l1[NQ * K], l2[NQ * K];
    int old = idx_set_blas_threshold(0);

    cr_assert_gt(old, 0);
    cr_assert_eq(idx_search(ix, NQ, queries, DIM, K, s1, l1, NULL), 0);
    cr_assert_eq(idx_set_blas_threshold(2), old);
    cr_assert_eq(idx_set_blas_threshold(0), 2);
    cr_assert_eq(idx_search(ix, NQ, queries, DIM, K, s2, l2, NULL), 0);
    idx_set_blas_threshold(old);
    for (int i = 0; i < NQ * K; i++)
        cr_assert_float_eq(s1[i], s2[i], 1e-4, "score %d differs", i);
    idx_free(ix);
}
