/*
 * The served model on in-memory snapshots (and one written folder):
 * answers against a brute-force reference, hidden items, cold start, the
 * on-the-fly path, bad arguments, and generation swaps under readers.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gnn_snapshot.h"
#include "model.h"

enum { USERS = 40, ITEMS = 300, DIM = 8, K = 10 };

static uint64_t rng = 1;

static float frand(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng >> 40) / (double)(1ULL << 24)) * 2.0f - 1.0f;
}

/*
 * A snapshot with random embeddings, ids "<tag>u<row>" and "<tag>i<row>",
 * user u having seen items u and u + 1, popularity rising with the row.
 */
static struct gnn_snapshot *make_snapshot(const char *tag)
{
    struct gnn_snapshot *s = NULL;
    char id[64];

    cr_assert_eq(gnn_snapshot_new("test", DIM, USERS, ITEMS, &s, NULL), 0);
    for (int i = 0; i < USERS * DIM; i++)
        s->users[i] = frand();
    for (int i = 0; i < ITEMS * DIM; i++) {
        s->items_source[i] = frand();
        s->items_target[i] = frand();
    }
    for (int u = 0; u < USERS; u++) {
        snprintf(id, sizeof(id), "%su%d", tag, u);
        cr_assert_eq(gnn_snapshot_set_user_id(s, u, id, NULL), 0);
    }
    for (int i = 0; i < ITEMS; i++) {
        snprintf(id, sizeof(id), "%si%d", tag, i);
        cr_assert_eq(gnn_snapshot_set_item_id(s, i, id, NULL), 0);
    }
    s->item_popularity = malloc(ITEMS * sizeof(float));
    s->seen_indptr = malloc((USERS + 1) * sizeof(int64_t));
    s->seen_items = malloc(2 * USERS * sizeof(int32_t));
    cr_assert(s->item_popularity && s->seen_indptr && s->seen_items);
    for (int i = 0; i < ITEMS; i++)
        s->item_popularity[i] = (float)i;
    for (int u = 0; u <= USERS; u++)
        s->seen_indptr[u] = 2 * u;
    for (int u = 0; u < USERS; u++) {
        s->seen_items[2 * u] = u;
        s->seen_items[2 * u + 1] = u + 1;
    }
    return s;
}

static struct svc_model *new_model(bool coalesce)
{
    struct svc_model_config cfg = {.max_k = 1000,
                                   .coalesce = coalesce ? SVC_COALESCE_ON
                                                        : SVC_COALESCE_OFF,
                                   .coalesce_wait_us = 50};
    struct svc_model *m = NULL;

    cr_assert_eq(svc_model_new(&cfg, &m, NULL), 0);
    return m;
}

/* The row of an item id made by make_snapshot(). */
static int item_row(const char *id)
{
    const char *p = strrchr(id, 'i');

    cr_assert_not_null(p, "odd item id %s", id);
    return atoi(p + 1);
}

static float dotp(const float *a, const float *b)
{
    float s = 0;

    for (int d = 0; d < DIM; d++)
        s += a[d] * b[d];
    return s;
}

/* Reference: the k best items for vector q against the targets, rows in
 * excl (n_excl) left out; returns their rows best first. */
static int reference(const struct gnn_snapshot *s, const float *q,
                     const int *excl, int n_excl, int k, int *rows)
{
    bool used[ITEMS] = {false};
    int n = 0;

    for (int i = 0; i < n_excl; i++)
        used[excl[i]] = true;
    for (; n < k; n++) {
        int best = -1;
        for (int i = 0; i < ITEMS; i++) {
            if (!used[i] &&
                (best < 0 || dotp(q, s->items_target + i * DIM) >
                                 dotp(q, s->items_target + best * DIM)))
                best = i;
        }
        if (best < 0)
            break;
        used[best] = true;
        rows[n] = best;
    }
    return n;
}

static void expect_rows(const struct svc_rec_result *r, const int *rows, int n)
{
    cr_assert_eq((int)r->n, n, "%zu results, expected %d", r->n, n);
    for (int i = 0; i < n; i++)
        cr_assert_eq(item_row(r->items[i].item_id), rows[i],
                     "rank %d: item %s, expected row %d", i,
                     r->items[i].item_id, rows[i]);
}

Test(model, known_user_gets_the_exact_top_items_without_seen_ones)
{
    struct gnn_snapshot *s = make_snapshot("");
    struct svc_model *m = new_model(false);
    struct svc_scored_item items[K];
    struct svc_rec_result r = {.items = items};
    struct svc_rec_query q = {.user_id = "u7", .k = K};
    struct svc_error err = {0};
    int all[K], unseen[K], excl[] = {7, 8};

    /* References computed before the snapshot is handed over. */
    int n_all = reference(s, s->users + 7 * DIM, NULL, 0, K, all);
    int n_unseen = reference(s, s->users + 7 * DIM, excl, 2, K, unseen);

    cr_assert_eq(svc_model_publish(m, s, &err), 0, "%s", err.text);
    struct svc_gen *g = svc_model_acquire(m);
    cr_assert_not_null(g);
    cr_assert_eq(svc_gen_version(g), 1);

    cr_assert_eq(svc_gen_recommend(g, &q, &r, &err), 0, "%s", err.text);
    cr_assert_eq(r.fallback, SVC_FALLBACK_NONE);
    expect_rows(&r, all, n_all);

    q.exclude_seen = true;
    cr_assert_eq(svc_gen_recommend(g, &q, &r, &err), 0, "%s", err.text);
    expect_rows(&r, unseen, n_unseen);

    /* Paging: the second page continues the first. */
    struct svc_scored_item page[5];
    struct svc_rec_result r2 = {.items = page};
    q.k = 5;
    q.offset = 5;
    cr_assert_eq(svc_gen_recommend(g, &q, &r2, &err), 0);
    expect_rows(&r2, unseen + 5, 5);

    svc_gen_release(g);
    svc_model_free(m);
}

Test(model, related_items_use_source_against_target_and_skip_the_item)
{
    struct gnn_snapshot *s = make_snapshot("");
    struct svc_model *m = new_model(false);
    struct svc_scored_item items[K];
    struct svc_rec_result r = {.items = items};
    struct svc_error err = {0};
    float src[DIM];
    int rows[K], self = 42;

    /* Reference computed before the snapshot is handed over. */
    memcpy(src, s->items_source + 42 * DIM, sizeof(src));
    int n = reference(s, src, &self, 1, K, rows);

    cr_assert_eq(svc_model_publish(m, s, &err), 0, "%s", err.text);
    struct svc_gen *g = svc_model_acquire(m);
    cr_assert_eq(svc_gen_related(g, "i42", K, 0, &r, &err), 0, "%s", err.text);
    expect_rows(&r, rows, n);
    cr_assert_eq(svc_gen_related(g, "nope", K, 0, &r, &err), SVC_ENOTFOUND);
    svc_gen_release(g);
    svc_model_free(m);
}

Test(model, unknown_user_gets_popular_items_minus_excludes_and_hidden)
{
    struct svc_model *m = new_model(false);
    struct svc_scored_item items[K];
    struct svc_rec_result r = {.items = items};
    const char *excl[] = {"i299", "no-such-item"};
    struct svc_rec_query q = {
        .user_id = "stranger", .k = 3, .exclude = excl, .n_exclude = 2};
    struct svc_error err = {0};

    cr_assert_eq(svc_model_publish(m, make_snapshot(""), &err), 0);
    cr_assert_eq(svc_model_set_hidden(m, "i297", true, &err), 0);
    struct svc_gen *g = svc_model_acquire(m);
    cr_assert_eq(svc_gen_recommend(g, &q, &r, &err), 0, "%s", err.text);
    cr_assert_eq(r.fallback, SVC_FALLBACK_POPULAR);
    cr_assert_str_eq(svc_fallback_name(r.fallback), "popular");
    cr_assert_eq(r.n, 3);
    cr_assert_str_eq(items[0].item_id, "i298");
    cr_assert_str_eq(items[1].item_id, "i296");
    cr_assert_str_eq(items[2].item_id, "i295");
    cr_assert_float_eq(items[0].score, 298.0f, 1e-6);
    svc_gen_release(g);
    svc_model_free(m);
}

Test(model, hidden_items_vanish_at_once_and_in_later_generations)
{
    struct svc_model *m = new_model(false);
    struct svc_scored_item items[K];
    struct svc_rec_result r = {.items = items};
    struct svc_rec_query q = {.user_id = "u3", .k = K};
    struct svc_error err = {0};
    char top[32];

    cr_assert_eq(svc_model_publish(m, make_snapshot(""), &err), 0);
    struct svc_gen *g = svc_model_acquire(m);
    cr_assert_eq(svc_gen_recommend(g, &q, &r, &err), 0);
    snprintf(top, sizeof(top), "%s", items[0].item_id);

    /* Hidden while this reader holds the generation. */
    cr_assert_eq(svc_model_set_hidden(m, top, true, &err), 0);
    cr_assert_eq(svc_gen_recommend(g, &q, &r, &err), 0);
    cr_assert_eq(r.n, K);
    for (size_t i = 0; i < r.n; i++)
        cr_assert_str_neq(items[i].item_id, top);
    svc_gen_release(g);

    /* Still hidden in a newly published generation. */
    cr_assert_eq(svc_model_publish(m, make_snapshot(""), &err), 0);
    g = svc_model_acquire(m);
    cr_assert_eq(svc_gen_version(g), 2);
    struct svc_scored_item all[ITEMS];
    struct svc_rec_result every = {.items = all};
    cr_assert_eq(svc_gen_related(g, "i0", ITEMS - 1, 0, &every, &err), 0);
    cr_assert_eq(every.n, ITEMS - 2, "all but i0 and the hidden item");
    for (size_t i = 0; i < every.n; i++)
        cr_assert_str_neq(all[i].item_id, top);

    cr_assert_eq(svc_model_set_hidden(m, top, false, &err), 0);
    cr_assert_eq(svc_gen_related(g, "i0", ITEMS - 1, 0, &every, &err), 0);
    cr_assert_eq(every.n, ITEMS - 1);
    cr_assert_eq(svc_model_set_hidden(m, "never-seen", true, &err),
                 SVC_ENOTFOUND);
    svc_gen_release(g);
    svc_model_free(m);
}

Test(model, new_user_with_interactions_gets_an_on_the_fly_answer)
{
    struct gnn_snapshot *s = make_snapshot("");
    struct svc_model *m = new_model(false);
    struct svc_scored_item items[K];
    struct svc_rec_result r = {.items = items};
    struct svc_rec_query q = {
        .user_id = "newcomer", .k = K, .exclude_seen = true};
    struct svc_error err = {0};
    float v[DIM];
    int rows[K], excl[] = {10, 20};

    /* Expected: (2 * source_10 + 1 * source_20) / 3. */
    for (int d = 0; d < DIM; d++)
        v[d] = (2 * s->items_source[10 * DIM + d] +
                s->items_source[20 * DIM + d]) /
               3;
    int n = reference(s, v, excl, 2, K, rows);

    cr_assert_eq(svc_model_add_interaction(m, "newcomer", "i10", 2, &err),
                 SVC_EUNAVAILABLE);
    cr_assert_eq(svc_model_publish(m, s, &err), 0);
    struct svc_gen *g = svc_model_acquire(m);
    cr_assert_eq(svc_gen_recommend(g, &q, &r, &err), 0);
    cr_assert_eq(r.fallback, SVC_FALLBACK_POPULAR);

    cr_assert_eq(svc_model_add_interaction(m, "newcomer", "i10", 2, &err), 0);
    cr_assert_eq(svc_model_add_interaction(m, "newcomer", "i20", 1, &err), 0);
    cr_assert_eq(svc_gen_recommend(g, &q, &r, &err), 0, "%s", err.text);
    cr_assert_eq(r.fallback, SVC_FALLBACK_ON_THE_FLY);
    cr_assert_str_eq(svc_fallback_name(r.fallback), "on_the_fly");
    expect_rows(&r, rows, n);

    cr_assert_eq(svc_model_add_interaction(m, "newcomer", "nope", 1, &err),
                 SVC_ENOTFOUND);
    cr_assert_eq(svc_model_add_interaction(m, "newcomer", "i1", NAN, &err),
                 SVC_EINVAL);
    cr_assert_eq(svc_model_add_interaction(m, "", "i1", 1, &err), SVC_EINVAL);
    svc_gen_release(g);
    svc_model_free(m);
}

Test(model, known_user_new_item_moves_answer_and_is_excluded)
{
    struct svc_model *m = new_model(false);
    struct svc_scored_item a[K], b[K];
    struct svc_rec_result ra = {.items = a}, rb = {.items = b};
    struct svc_rec_query q = {.user_id = "u5", .k = K, .exclude_seen = true};
    struct svc_error err = {0};
    char first[32];

    cr_assert_eq(svc_model_publish(m, make_snapshot(""), &err), 0);
    struct svc_gen *g = svc_model_acquire(m);
    cr_assert_eq(svc_gen_recommend(g, &q, &ra, &err), 0);
    cr_assert_eq(ra.fallback, SVC_FALLBACK_NONE);
    snprintf(first, sizeof(first), "%s", a[0].item_id);

    /* An item the snapshot already has for u5 changes nothing. */
    cr_assert_eq(svc_model_add_interaction(m, "u5", "i5", 1, &err), 0);
    cr_assert_eq(svc_gen_recommend(g, &q, &rb, &err), 0);
    cr_assert_eq(rb.fallback, SVC_FALLBACK_NONE);

    /* A new one is excluded at once and moves the vector. */
    cr_assert_eq(svc_model_add_interaction(m, "u5", first, 3, &err), 0);
    cr_assert_eq(svc_gen_recommend(g, &q, &rb, &err), 0);
    cr_assert_eq(rb.fallback, SVC_FALLBACK_ON_THE_FLY);
    cr_assert_eq(rb.n, K);
    for (size_t i = 0; i < rb.n; i++)
        cr_assert_str_neq(b[i].item_id, first);
    bool moved = false;
    for (size_t i = 0; i + 1 < K; i++)
        moved |= strcmp(a[i + 1].item_id, b[i].item_id) != 0;
    cr_assert(moved, "the answer did not move with the new item");
    svc_gen_release(g);
    svc_model_free(m);
}

Test(model, bad_arguments_and_bad_snapshots_leave_the_model_serving)
{
    struct svc_model *m = NULL;
    struct svc_model_config neg = {.max_k = -1};
    struct svc_scored_item items[K];
    struct svc_rec_result r = {.items = items};
    struct svc_rec_query q = {.user_id = "u1", .k = 0};
    struct svc_error err = {0};
    struct gnn_snapshot *dup = make_snapshot("");

    cr_assert_eq(svc_model_new(&neg, &m, &err), SVC_EINVAL);
    m = new_model(false);
    cr_assert_null(svc_model_acquire(m), "no generation before a load");
    cr_assert_eq(svc_model_publish(m, make_snapshot(""), &err), 0);

    cr_assert_eq(gnn_snapshot_set_item_id(dup, 1, "i0", NULL), 0);
    cr_assert_eq(svc_model_publish(m, dup, &err), SVC_EINVAL);
    cr_assert(strstr(err.text, "duplicate") != NULL, "%s", err.text);
    cr_assert_eq(svc_model_load(m, "/nonexistent/snapshot", &err), SVC_EIO);
    cr_assert_neq(err.text[0], '\0');

    struct svc_gen *g = svc_model_acquire(m);
    cr_assert_eq(svc_gen_version(g), 1, "failed loads publish nothing");
    cr_assert_eq(svc_gen_recommend(g, &q, &r, &err), SVC_EINVAL);
    q.k = 600;
    q.offset = 401;
    cr_assert_eq(svc_gen_recommend(g, &q, &r, &err), SVC_EINVAL);
    cr_assert(strstr(err.text, "1000") != NULL, "%s", err.text);
    q.offset = -1;
    cr_assert_eq(svc_gen_recommend(g, &q, &r, &err), SVC_EINVAL);
    cr_assert_eq(svc_gen_related(g, "i1", 0, 0, &r, &err), SVC_EINVAL);
    svc_gen_release(g);
    svc_gen_release(NULL);
    svc_model_free(m);
    svc_model_free(NULL);
}

Test(model, loads_a_snapshot_folder_and_describes_it)
{
    char dir[] = "/tmp/hoprec-model-XXXXXX", path[64];
    struct svc_model *m = new_model(false);
    struct gnn_snapshot *s = make_snapshot("");
    struct svc_error err = {0};

    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/snap", dir);
    s->info = json_pack("{s:f}", "recall_at_20", 0.1875);
    cr_assert_eq(gnn_snapshot_write(s, path, NULL), 0);
    gnn_snapshot_free(s);

    cr_assert_eq(svc_model_load(m, path, &err), 0, "%s", err.text);
    struct svc_gen *g = svc_model_acquire(m);
    json_t *d = svc_gen_describe(g);
    cr_assert_not_null(d);
    cr_assert_eq(json_integer_value(json_object_get(d, "version")), 1);
    cr_assert_eq(json_integer_value(json_object_get(d, "n_items")), ITEMS);
    cr_assert_eq(json_integer_value(json_object_get(d, "dim")), DIM);
    cr_assert_str_eq(json_string_value(json_object_get(d, "model")), "test");
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(d, "index"), "factory")),
                     "Flat");
    cr_assert_float_eq(json_real_value(json_object_get(
                           json_object_get(d, "info"), "recall_at_20")),
                       0.1875, 1e-9);
    json_decref(d);
    svc_gen_release(g);
    svc_model_free(m);

    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* ------------------------------------------------------------------ */
/* Generation swaps under concurrent readers                           */

enum { READERS = 6, SWAPS = 12 };

struct race {
    struct svc_model *m;
    atomic_bool stop;
    atomic_long answers;
    atomic_long bad;
};

/*
 * Every generation v names its items "g<v>-i<row>": an answer whose ids
 * do not all carry the version of the generation the reader holds, or
 * that is short, came from a mixed or half-built generation.
 */
static void *reader(void *arg)
{
    struct race *r = arg;
    struct svc_scored_item items[K];
    char prefix[32], id[48];
    long n = 0;

    while (!atomic_load(&r->stop) || n < 50) {
        struct svc_gen *g = svc_model_acquire(r->m);
        struct svc_rec_result res = {.items = items};
        int64_t v = svc_gen_version(g);
        int rc;

        snprintf(prefix, sizeof(prefix), "g%lld-i", (long long)v);
        if (n % 2) {
            snprintf(id, sizeof(id), "g%lld-u%ld", (long long)v, n % USERS);
            struct svc_rec_query q = {
                .user_id = id, .k = K, .exclude_seen = true};
            rc = svc_gen_recommend(g, &q, &res, NULL);
        } else {
            snprintf(id, sizeof(id), "%s%ld", prefix, n % ITEMS);
            rc = svc_gen_related(g, id, K, 0, &res, NULL);
        }
        if (rc != 0 || res.n != K)
            atomic_fetch_add(&r->bad, 1);
        for (size_t i = 0; i < res.n; i++) {
            if (strncmp(items[i].item_id, prefix, strlen(prefix)) != 0)
                atomic_fetch_add(&r->bad, 1);
        }
        svc_gen_release(g);
        n++;
    }
    atomic_fetch_add(&r->answers, n);
    return NULL;
}

static void swap_under_readers(bool coalesce)
{
    struct race r = {.m = new_model(coalesce)};
    pthread_t t[READERS];
    char tag[16];

    snprintf(tag, sizeof(tag), "g1-");
    cr_assert_eq(svc_model_publish(r.m, make_snapshot(tag), NULL), 0);
    for (int i = 0; i < READERS; i++)
        pthread_create(&t[i], NULL, reader, &r);
    for (int v = 2; v <= SWAPS; v++) {
        snprintf(tag, sizeof(tag), "g%d-", v);
        cr_assert_eq(svc_model_publish(r.m, make_snapshot(tag), NULL), 0);
    }
    atomic_store(&r.stop, true);
    for (int i = 0; i < READERS; i++)
        pthread_join(t[i], NULL);

    struct svc_gen *g = svc_model_acquire(r.m);
    cr_assert_eq(svc_gen_version(g), SWAPS);
    svc_gen_release(g);
    cr_assert_eq(atomic_load(&r.bad), 0, "%ld bad answers of %ld",
                 atomic_load(&r.bad), atomic_load(&r.answers));
    cr_assert_geq(atomic_load(&r.answers), READERS * 50);

    /* Every search of every generation went through the batcher, and was
     * counted once, whether its generation is current or retired. */
    uint64_t batches, queries;
    svc_model_batch_stats(r.m, &batches, &queries);
    if (coalesce) {
        cr_assert_eq(queries, (uint64_t)atomic_load(&r.answers));
        cr_assert(batches >= 1 && batches <= queries);
    } else {
        cr_assert_eq(batches, 0);
        cr_assert_eq(queries, 0);
    }
    svc_model_free(r.m);
}

Test(model, readers_only_ever_see_complete_generations)
{
    swap_under_readers(false);
}

Test(model, coalesced_readers_only_ever_see_complete_generations)
{
    swap_under_readers(true);
}

Test(model, index_settings_come_from_the_config)
{
    struct svc_model_config cfg = {.index_factory = "HNSW16,Flat",
                                   .ef_search = 64,
                                   .coalesce = SVC_COALESCE_ON};
    struct svc_model_config flat = {
        .index_factory = "Flat", .ef_search = 64, .nprobe = 8};
    struct svc_model_config bad = {.index_factory = "Bogus42"};
    struct svc_model *m = NULL, *b = NULL;
    struct svc_scored_item items[K];
    struct svc_rec_result r = {.items = items};
    struct svc_rec_query q = {.user_id = "u1", .k = K};
    struct svc_error err = {0};

    cr_assert_eq(svc_model_new(&cfg, &m, &err), 0);
    cr_assert_eq(svc_model_publish(m, make_snapshot(""), &err), 0, "%s",
                 err.text);
    struct svc_gen *g = svc_model_acquire(m);
    cr_assert_eq(svc_gen_recommend(g, &q, &r, &err), 0, "%s", err.text);
    cr_assert_eq(r.n, K);
    json_t *d = svc_gen_describe(g);
    json_t *ix = json_object_get(d, "index");
    cr_assert_str_eq(json_string_value(json_object_get(ix, "factory")),
                     "HNSW16,Flat");
    cr_assert(json_is_false(json_object_get(ix, "exact")));
    cr_assert(json_is_false(json_object_get(ix, "coalesce")),
              "approximate searches run alone");
    json_decref(d);
    svc_gen_release(g);
    svc_model_free(m);

    /* HNSW and IVF settings leave an exact index alone. */
    cr_assert_eq(svc_model_new(&flat, &m, &err), 0);
    cr_assert_eq(svc_model_publish(m, make_snapshot(""), &err), 0, "%s",
                 err.text);
    svc_model_free(m);

    cr_assert_eq(svc_model_new(&bad, &b, &err), 0);
    cr_assert_lt(svc_model_publish(b, make_snapshot(""), &err), 0);
    cr_assert(strstr(err.text, "faiss_index_factory") != NULL, "%s", err.text);
    cr_assert_null(svc_model_acquire(b));
    svc_model_free(b);
}

/* The index object of a generation described under a coalesce mode. */
static json_t *index_under(enum svc_coalesce mode)
{
    struct svc_model_config cfg = {.max_k = 1000, .coalesce = mode};
    struct svc_model *m = NULL;
    struct svc_error err = {0};

    cr_assert_eq(svc_model_new(&cfg, &m, &err), 0);
    cr_assert_eq(svc_model_publish(m, make_snapshot(""), &err), 0, "%s",
                 err.text);
    struct svc_gen *g = svc_model_acquire(m);
    json_t *d = svc_gen_describe(g);
    json_t *ix = json_incref(json_object_get(d, "index"));

    json_decref(d);
    svc_gen_release(g);
    svc_model_free(m);
    return ix;
}

Test(model, auto_coalescing_follows_the_measured_costs)
{
    json_t *ix = index_under(SVC_COALESCE_AUTO);
    json_t *cost = json_object_get(ix, "search_cost");
    double alone = json_number_value(json_object_get(cost, "alone_us"));
    double batched = json_number_value(json_object_get(cost, "batched_us"));

    cr_assert(alone > 0 && batched > 0, "%g %g", alone, batched);
    cr_assert_eq(json_is_true(json_object_get(ix, "coalesce")),
                 batched * 3.0 < alone, "alone %g us, batched %g us", alone,
                 batched);
    json_decref(ix);

    /* A fixed choice is taken as given, without a measurement. */
    ix = index_under(SVC_COALESCE_ON);
    cr_assert(json_is_true(json_object_get(ix, "coalesce")));
    cr_assert_null(json_object_get(ix, "search_cost"));
    json_decref(ix);
    ix = index_under(SVC_COALESCE_OFF);
    cr_assert(json_is_false(json_object_get(ix, "coalesce")));
    cr_assert_null(json_object_get(ix, "search_cost"));
    json_decref(ix);
}

Test(model, coalesce_modes_have_names)
{
    cr_assert_eq(svc_coalesce_parse("auto"), SVC_COALESCE_AUTO);
    cr_assert_eq(svc_coalesce_parse("on"), SVC_COALESCE_ON);
    cr_assert_eq(svc_coalesce_parse("true"), SVC_COALESCE_ON);
    cr_assert_eq(svc_coalesce_parse("off"), SVC_COALESCE_OFF);
    cr_assert_eq(svc_coalesce_parse("false"), SVC_COALESCE_OFF);
    cr_assert_eq(svc_coalesce_parse("sometimes"), -1);
    cr_assert_str_eq(svc_coalesce_name(SVC_COALESCE_AUTO), "auto");
    cr_assert_str_eq(svc_coalesce_name(svc_coalesce_parse(
                         svc_coalesce_name(SVC_COALESCE_ON))),
                     "on");
}
