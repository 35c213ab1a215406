/*
 * Coalesced search: many threads querying through one batcher get the
 * same answers as each would alone.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "idx.h"

enum { N = 2000, DIM = 8, K = 5, THREADS = 16, PER_THREAD = 40 };

static float vecs[N * DIM];
static struct idx *ix;
static struct idx_batcher *batcher;

struct worker {
    int id;
    int failures;
};

static void fill(void)
{
    uint64_t s = 7;

    for (int i = 0; i < N * DIM; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        vecs[i] = (float)((s >> 40) / (double)(1ULL << 24)) - 0.5f;
    }
}

/* Each query is a stored row; its own row is excluded, as for related
 * items, and the answer is checked against an unbatched search. */
static void *work(void *arg)
{
    struct worker *w = arg;

    for (int i = 0; i < PER_THREAD; i++) {
        int64_t row = (w->id * PER_THREAD + i) % N;
        int64_t got[K], want[K];
        float gs[K], ws[K];
        struct idx_query q = {.vec = vecs + row * DIM,
                              .dim = DIM,
                              .k = K,
                              .offset = i % 3,
                              .exclude = &row,
                              .n_exclude = 1,
                              .labels = got,
                              .scores = gs};
        struct idx_query ref = q;

        ref.labels = want;
        ref.scores = ws;
        if (idx_batcher_search(batcher, &q, NULL) != 0 ||
            idx_search_filtered(ix, &ref, 1, NULL) != 0 || q.n_found != K ||
            memcmp(got, want, sizeof(got)) != 0)
            w->failures++;
    }
    return NULL;
}

static void run_threads(int max_batch, int wait_us, int parallel)
{
    pthread_t t[THREADS];
    struct worker w[THREADS];

    fill();
    cr_assert_eq(idx_build(NULL, vecs, N, DIM, &ix, NULL), 0);
    cr_assert_eq(idx_batcher_new(ix, max_batch, wait_us, &batcher, NULL), 0);
    idx_batcher_set_parallel(batcher, parallel);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.id = i};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(w[i].failures, 0, "thread %d: %d wrong answers", i,
                     w[i].failures);
    }

    uint64_t batches, queries;
    idx_batcher_stats(batcher, &batches, &queries);
    cr_assert_eq(queries, THREADS * PER_THREAD);
    cr_assert(batches >= queries / (uint64_t)max_batch && batches <= queries);
    idx_batcher_free(batcher);
    idx_free(ix);
}

Test(batch, concurrent_queries_get_their_own_answers)
{
    run_threads(8, 200, 1);
}

Test(batch, batches_searched_side_by_side_keep_answers_apart)
{
    run_threads(8, 200, 3);
}

Test(batch, batch_of_one_and_no_wait_work_too)
{
    run_threads(1, 0, 1);
}

Test(batch, errors_reach_the_member_that_caused_them)
{
    struct idx_error err = {0};
    int64_t l[K];
    float s[K];
    struct idx_query q = {
        .vec = vecs, .dim = DIM + 1, .k = K, .labels = l, .scores = s};

    fill();
    cr_assert_eq(idx_build(NULL, vecs, N, DIM, &ix, NULL), 0);
    cr_assert_eq(idx_batcher_new(ix, 0, 10, &batcher, &err), IDX_EINVAL);
    cr_assert_eq(idx_batcher_new(ix, 4, -1, &batcher, &err), IDX_EINVAL);
    cr_assert_eq(idx_batcher_new(ix, 4, 10, &batcher, &err), 0);
    cr_assert_eq(idx_batcher_search(batcher, &q, &err), IDX_EINVAL);
    cr_assert(strstr(err.text, "dim") != NULL, "%s", err.text);
    idx_batcher_free(batcher);
    idx_batcher_free(NULL);
    idx_free(ix);
}

Test(batch, batch_costs_are_measured_per_query)
{
    enum { NQ = 16 };
    struct idx_error err = {0};
    struct idx_query qs[NQ];
    int64_t labels[NQ][K], rows[NQ];
    float scores[NQ][K];
    double alone = 0, batched = 0;

    fill();
    cr_assert_eq(idx_build(NULL, vecs, N, DIM, &ix, NULL), 0);
    for (int i = 0; i < NQ; i++) {
        rows[i] = i * 97;
        qs[i] = (struct idx_query){.vec = vecs + rows[i] * DIM,
                                   .dim = DIM,
                                   .k = K,
                                   .exclude = &rows[i],
                                   .n_exclude = 1,
                                   .labels = labels[i],
                                   .scores = scores[i]};
    }
    cr_assert_eq(idx_batch_costs(ix, qs, 4, NQ, 2, &alone, &batched, &err), 0,
                 "%s", err.text);
    /* One scan of 2000 rows of 8 floats: far under a millisecond, but
     * never free. */
    cr_assert(alone > 0 && alone < 0.1, "alone %g s", alone);
    cr_assert(batched > 0 && batched < 0.1, "batched %g s", batched);
    /* The queries were answered, with their exclusions. */
    for (int i = 0; i < NQ; i++) {
        cr_assert_eq(qs[i].n_found, K);
        for (int j = 0; j < K; j++)
            cr_assert_neq(labels[i][j], rows[i]);
    }

    cr_assert_eq(idx_batch_costs(ix, qs, 0, NQ, 2, &alone, &batched, &err),
                 IDX_EINVAL);
    cr_assert_eq(idx_batch_costs(ix, qs, 4, NQ, 0, &alone, &batched, &err),
                 IDX_EINVAL);
    cr_assert_eq(idx_batch_costs(NULL, qs, 4, NQ, 2, &alone, &batched, &err),
                 IDX_EINVAL);
    /* A bad query is reported, not timed. */
    qs[1].dim = DIM + 1;
    cr_assert_eq(idx_batch_costs(ix, qs, 4, NQ, 2, &alone, &batched, &err),
                 IDX_EINVAL);
    idx_free(ix);
}
