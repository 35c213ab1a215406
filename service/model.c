/*
 * The served model: generations (a snapshot and its index), published
 * so that readers never wait, plus the state that outlives generations
 * (hidden items, interactions recorded since the last snapshot).
 *
 * Publication. m->cur points at the current generation, which holds one
 * reference owned by the model; readers add their own. The hazard is the
 * window between a reader loading m->cur and incrementing that
 * generation's count: a writer swapping in that window could drop the
 * last reference and free the generation under the reader. So readers
 * pin themselves around those two steps in one of two counters (picked
 * by the parity of m->epoch), and a writer, after the swap, waits for
 * each counter in turn to read zero, flipping the parity before each
 * wait so that new readers pin the other counter and the awaited one
 * drains in bounded time.
 *
 * Why that is enough: every operation here is sequentially consistent,
 * so all of them fall in one total order. A reader that got the old
 * pointer loaded it before the swap, so it pinned before the swap, hence
 * before both waits. The writer's wait on that reader's counter can read
 * zero only once the reader has unpinned, and the reader unpins only
 * after counting its reference. So when the writer drops the model's
 * reference, every reader holding the old pointer has counted itself,
 * and the count reaches zero only when the last of them releases it.
 * Readers do four atomic operations and never block; only writers
 * (serialised by m->write_lock) wait, and only for readers inside those
 * few instructions. The last reference may be dropped by a reader, which
 * then frees the generation.
 */
#include "model.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gnn_snapshot.h"
#include "idx.h"
#include "model_map.h"

#define DEFAULT_MAX_K          1000
#define DEFAULT_BATCH          64
#define DEFAULT_WAIT_US        200
#define DEFAULT_BLAS_THRESHOLD 4
#define DEFAULT_EF_SEARCH      64
#define DEFAULT_NPROBE         16
#define LOG_SHARDS             16
#define LOG_PER_USER           256

/* ------------------------------------------------------------------ */
/* Types                                                               */

/* One external item id ever published; lives as long as the model, so
 * that a hidden flag applies to every generation that has the item. */
struct item_state {
    atomic_bool hidden;
    char id[];
};

struct registry {
    pthread_mutex_t lock; /* map, items, n: held briefly */
    struct svc__map map;  /* id -> index into items */
    struct item_state **items;
    size_t n, cap;
    atomic_long n_hidden;
};

struct event {
    const struct item_state *item; /* the registry's, never freed */
    float weight;
};

struct user_log {
    char *user;
    struct event *ev; /* oldest first, n of cap (cap <= LOG_PER_USER) */
    int n, cap;
};

struct log_shard {
    pthread_mutex_t lock;
    struct svc__map map; /* user id -> index into users */
    struct user_log **users;
    size_t n, cap;
};

struct svc_gen {
    atomic_long refs;
    struct svc_model *m;
    int64_t version;
    time_t loaded_at;
    struct gnn_snapshot *snap;   /* owned */
    struct idx *index;           /* items_target, for both kinds of query */
    struct idx_batcher *batcher; /* NULL without coalescing */
    /* Seconds per query measured alone and batched (--coalesce auto);
     * 0 when not measured. */
    double alone_s, batched_s;
    struct svc__map users, items; /* external id -> row */
    struct item_state **state;    /* n_items, filled at publication */
    int32_t *popular;             /* n_items rows, most popular first */
    float *pop;                   /* n_items popularity scores */
};

struct svc_model {
    struct svc_model_config cfg;
    char *factory;
    _Atomic(struct svc_gen *) cur;
    atomic_uint epoch;
    atomic_long pins[2];
    pthread_mutex_t write_lock; /* publications, one at a time */
    int64_t version;            /* last published; under write_lock */
    struct registry reg;
    struct log_shard log[LOG_SHARDS];
    /* Coalesced searches of generations already freed. */
    atomic_uint_least64_t retired_batches, retired_queries;
    atomic_bool coalescing; /* the current generation batches searches */
};

const char *svc_coalesce_name(enum svc_coalesce c)
{
    switch (c) {
    case SVC_COALESCE_OFF:
        return "off";
    case SVC_COALESCE_ON:
        return "on";
    case SVC_COALESCE_AUTO:
        return "auto";
    }
    return "off";
}

int svc_coalesce_parse(const char *name)
{
    if (strcmp(name, "off") == 0 || strcmp(name, "false") == 0)
        return SVC_COALESCE_OFF;
    if (strcmp(name, "on") == 0 || strcmp(name, "true") == 0)
        return SVC_COALESCE_ON;
    if (strcmp(name, "auto") == 0)
        return SVC_COALESCE_AUTO;
    return -1;
}

const char *svc_fallback_name(enum svc_fallback f)
{
    switch (f) {
    case SVC_FALLBACK_NONE:
        return "none";
    case SVC_FALLBACK_ON_THE_FLY:
        return "on_the_fly";
    case SVC_FALLBACK_POPULAR:
        return "popular";
    }
    return "none";
}

static int from_idx(const struct idx_error *ie, struct svc_error *err)
{
    int code = ie->code == IDX_ENOMEM   ? SVC_ENOMEM
               : ie->code == IDX_EINVAL ? SVC_EINVAL
                                        : SVC_EINTERNAL;

    return svc_error_set(err, code, "index: %s", ie->text);
}

/* ------------------------------------------------------------------ */
/* Registry of item ids and their hidden flags                         */

/* The state of id, created if new; reg->lock held. NULL when out of
 * memory. */
static struct item_state *reg_intern(struct registry *reg, const char *id)
{
    int32_t at = svc__map_get(&reg->map, id);
    struct item_state *it;
    size_t len = strlen(id);

    if (at >= 0)
        return reg->items[at];
    if (reg->n == reg->cap) {
        size_t cap = reg->cap ? 2 * reg->cap : 1024;
        struct item_state **items = realloc(reg->items, cap * sizeof(*items));
        if (items == NULL)
            return NULL;
        reg->items = items;
        reg->cap = cap;
    }
    it = malloc(sizeof(*it) + len + 1);
    if (it == NULL)
        return NULL;
    atomic_init(&it->hidden, false);
    memcpy(it->id, id, len + 1);
    if (svc__map_put(&reg->map, it->id, (int32_t)reg->n) < 0) {
        free(it);
        return NULL;
    }
    reg->items[reg->n++] = it;
    return it;
}

static const struct item_state *reg_find(struct registry *reg, const char *id)
{
    const struct item_state *it = NULL;
    int32_t at;

    pthread_mutex_lock(&reg->lock);
    at = svc__map_get(&reg->map, id);
    if (at >= 0)
        it = reg->items[at];
    pthread_mutex_unlock(&reg->lock);
    return it;
}

int svc_model_set_hidden(struct svc_model *m, const char *item_id, bool hidden,
                         struct svc_error *err)
{
    struct item_state *it = NULL;
    int32_t at;

    if (m == NULL || item_id == NULL)
        return svc_error_set(err, SVC_EINVAL, "item id required");

    pthread_mutex_lock(&m->reg.lock);
    at = svc__map_get(&m->reg.map, item_id);
    if (at >= 0) {
        it = m->reg.items[at];
        if (atomic_exchange(&it->hidden, hidden) != hidden)
            atomic_fetch_add(&m->reg.n_hidden, hidden ? 1 : -1);
    }
    pthread_mutex_unlock(&m->reg.lock);

    if (it == NULL)
        return svc_error_set(err, SVC_ENOTFOUND, "unknown item");
    return 0;
}

/* ------------------------------------------------------------------ */
/* Interactions recorded since the snapshot                            */

/*
 * XXX: a user's log lives until the model is freed, even once a newer
 * generation has learned from every item in it (those items are then
 * just skipped), so memory grows with the number of distinct users that
 * posted events since the server started: about 40 bytes a user plus 16
 * an interaction, at most 256 interactions a user. Dropping the entries
 * a published generation has seen would bound it.
 */

static struct log_shard *log_shard(struct svc_model *m, const char *user)
{
    return &m->log[svc__map_hash(user) % LOG_SHARDS];
}

/* The log of user in shard s, created if new; s->lock held. */
static struct user_log *log_user(struct log_shard *s, const char *user)
{
    int32_t at = svc__map_get(&s->map, user);
    struct user_log *u;

    if (at >= 0)
        return s->users[at];
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        struct user_log **users = realloc(s->users, cap * sizeof(*users));
        if (users == NULL)
            return NULL;
        s->users = users;
        s->cap = cap;
    }
    u = calloc(1, sizeof(*u));
    if (u == NULL || (u->user = strdup(user)) == NULL ||
        svc__map_put(&s->map, u->user, (int32_t)s->n) < 0) {
        if (u != NULL)
            free(u->user);
        free(u);
        return NULL;
    }
    s->users[s->n++] = u;
    return u;
}

static int log_append(struct user_log *u, const struct item_state *it,
                      float weight)
{
    if (u->n == LOG_PER_USER) {
        /* Full: the oldest interaction makes room. */
        memmove(u->ev, u->ev + 1, (LOG_PER_USER - 1) * sizeof(*u->ev));
        u->n--;
    }
    if (u->n == u->cap) {
        int cap = u->cap ? 2 * u->cap : 8;
        struct event *ev;

        if (cap > LOG_PER_USER)
            cap = LOG_PER_USER;
        ev = realloc(u->ev, (size_t)cap * sizeof(*ev));
        if (ev == NULL)
            return SVC_ENOMEM;
        u->ev = ev;
        u->cap = cap;
    }
    u->ev[u->n++] = (struct event){.item = it, .weight = weight};
    return 0;
}

int svc_model_add_interaction(struct svc_model *m, const char *user_id,
                              const char *item_id, float weight,
                              struct svc_error *err)
{
    const struct item_state *it;
    struct log_shard *s;
    struct user_log *u;
    int ret;

    if (m == NULL || user_id == NULL || item_id == NULL || user_id[0] == '\0' ||
        item_id[0] == '\0' || !isfinite(weight))
        return svc_error_set(err, SVC_EINVAL,
                             "user id, item id and a finite weight "
                             "required");
    if (atomic_load(&m->cur) == NULL)
        return svc_error_set(err, SVC_EUNAVAILABLE, "no model loaded");
    it = reg_find(&m->reg, item_id);
    if (it == NULL)
        return svc_error_set(err, SVC_ENOTFOUND, "unknown item");

    s = log_shard(m, user_id);
    pthread_mutex_lock(&s->lock);
    u = log_user(s, user_id);
    ret = u != NULL ? log_append(u, it, weight) : SVC_ENOMEM;
    pthread_mutex_unlock(&s->lock);
    if (ret < 0)
        return svc_error_set(err, ret, "no memory for an interaction");
    return 0;
}

/*
 * The user's recorded interactions whose items g has, as rows and
 * weights (at most LOG_PER_USER); returns how many.
 */
static int log_collect(struct svc_model *m, const struct svc_gen *g,
                       const char *user, int32_t *rows, float *weights)
{
    struct log_shard *s = log_shard(m, user);
    int32_t at;
    int n = 0;

    pthread_mutex_lock(&s->lock);
    at = svc__map_get(&s->map, user);
    if (at >= 0) {
        const struct user_log *u = s->users[at];
        for (int i = 0; i < u->n; i++) {
            int32_t row = svc__map_get(&g->items, u->ev[i].item->id);
            if (row < 0)
                continue;
            rows[n] = row;
            weights[n++] = u->ev[i].weight;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* ------------------------------------------------------------------ */
/* Generations                                                         */

static int check_snapshot(const struct gnn_snapshot *s, struct svc_error *err)
{
    if (s->dim < 1 || s->n_items < 1 || s->n_users < 0)
        return svc_error_set(err, SVC_EINVAL,
                             "snapshot needs dim >= 1 and items (dim=%d "
                             "n_items=%d n_users=%d)",
                             s->dim, s->n_items, s->n_users);
    if (s->items_source == NULL || s->items_target == NULL ||
        s->item_ids == NULL ||
        (s->n_users > 0 && (s->users == NULL || s->user_ids == NULL)))
        return svc_error_set(err, SVC_EINVAL, "snapshot lacks arrays");
    if ((s->seen_indptr == NULL) != (s->seen_items == NULL))
        return svc_error_set(err, SVC_EINVAL,
                             "snapshot has half of the seen CSR");
    if (s->seen_indptr == NULL)
        return 0;
    if (s->seen_indptr[0] != 0)
        return svc_error_set(err, SVC_EINVAL, "seen_indptr[0] is not 0");
    for (int32_t u = 0; u < s->n_users; u++) {
        if (s->seen_indptr[u + 1] < s->seen_indptr[u])
            return svc_error_set(err, SVC_EINVAL,
                                 "seen_indptr decreases at user %d", u);
    }
    for (int64_t i = 0; i < s->seen_indptr[s->n_users]; i++) {
        if (s->seen_items[i] < 0 || s->seen_items[i] >= s->n_items)
            return svc_error_set(err, SVC_EINVAL, "seen item %d out of range",
                                 s->seen_items[i]);
    }
    return 0;
}

static int fill_map(struct svc__map *map, char **ids, int32_t n,
                    const char *what, struct svc_error *err)
{
    if (svc__map_reserve(map, (size_t)n) < 0)
        return svc_error_set(err, SVC_ENOMEM, "no memory for %s ids", what);
    for (int32_t i = 0; i < n; i++) {
        if (ids[i] == NULL || ids[i][0] == '\0')
            return svc_error_set(err, SVC_EINVAL, "empty %s id at row %d", what,
                                 i);
        if (svc__map_put(map, ids[i], i) != 0)
            return svc_error_set(err, SVC_EINVAL, "duplicate %s id at row %d",
                                 what, i);
    }
    return 0;
}

struct ranked {
    float score;
    int32_t row;
};

static int cmp_ranked(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;

    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return (x->row > y->row) - (x->row < y->row);
}

/*
 * Popularity per item: the snapshot's recency-weighted counts, or, in
 * older snapshots without them, how many users have seen each item; and
 * the rows in order of it.
 */
static int rank_popular(struct svc_gen *g, struct svc_error *err)
{
    const struct gnn_snapshot *s = g->snap;
    int32_t n = s->n_items;
    struct ranked *r = malloc((size_t)n * sizeof(*r));

    g->pop = calloc((size_t)n, sizeof(float));
    g->popular = malloc((size_t)n * sizeof(int32_t));
    if (r == NULL || g->pop == NULL || g->popular == NULL) {
        free(r);
        return svc_error_set(err, SVC_ENOMEM, "no memory for popularity");
    }
    if (s->item_popularity != NULL) {
        memcpy(g->pop, s->item_popularity, (size_t)n * sizeof(float));
    } else if (s->seen_indptr != NULL) {
        for (int64_t i = 0; i < s->seen_indptr[s->n_users]; i++)
            g->pop[s->seen_items[i]] += 1.0f;
    }
    for (int32_t i = 0; i < n; i++)
        r[i] = (struct ranked){.score = g->pop[i], .row = i};
    qsort(r, (size_t)n, sizeof(*r), cmp_ranked);
    for (int32_t i = 0; i < n; i++)
        g->popular[i] = r[i].row;
    free(r);
    return 0;
}

static void gen_free(struct svc_gen *g)
{
    if (g == NULL)
        return;
    if (g->batcher != NULL) {
        uint64_t batches, queries;
        idx_batcher_stats(g->batcher, &batches, &queries);
        atomic_fetch_add(&g->m->retired_batches, batches);
        atomic_fetch_add(&g->m->retired_queries, queries);
    }
    idx_batcher_free(g->batcher);
    idx_free(g->index);
    svc__map_clear(&g->users);
    svc__map_clear(&g->items);
    free(g->state);
    free(g->popular);
    free(g->pop);
    gnn_snapshot_free(g->snap);
    free(g);
}

/* Batches searched at once: enough to keep every core busy. */
static int parallel_batches(const struct svc_model *m)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int per_batch = m->cfg.search_threads > 0 ? m->cfg.search_threads : 1;
    long n = (cores > 0 ? cores : 1) / per_batch;

    return n > 1 ? (int)n : 1;
}

/* Queries of the measurement: enough to average out one scan's noise,
 * few enough to cost well under a second on a million items. */
enum { MEASURE_ALONE = 16, MEASURE_BATCH = 32, MEASURE_ROUNDS = 3 };

/*
 * How much cheaper per query a batch must time, one search after
 * another, to serve more under concurrent load. The timing flatters
 * batches: searched side by side, with their waits, they kept about a
 * third of it over HTTP on 2 cores (Gowalla's 41K items, 64
 * connections: timed 6x with scalar FAISS kernels, served 1.9x; timed
 * 1.6x with AVX2 kernels, served 0.55x; benchmarks/results/serving.md).
 */
#define BATCH_GAIN_NEEDED 3.0

/*
 * Time single against batched searches on g's index with queries shaped
 * like the recommendations it will answer: the snapshot's own user
 * vectors (item vectors when it has none), each excluding what that user
 * has seen. With vectorized distance kernels a single scan of a catalog
 * that fits in the caches costs about what FAISS's batched matrix-product
 * path does, and a batch only adds its wait; once the catalog outgrows
 * the caches, one pass over memory per batch wins by a wide margin.
 */
static int measure_batching(struct svc_gen *g, struct idx_error *err)
{
    enum { N = MEASURE_BATCH > MEASURE_ALONE ? MEASURE_BATCH : MEASURE_ALONE };
    const struct gnn_snapshot *s = g->snap;
    bool by_user = s->n_users > 0;
    const float *pool = by_user ? s->users : s->items_source;
    int64_t n_pool = by_user ? s->n_users : s->n_items;
    int k = s->n_items < 20 ? (int)s->n_items : 20;
    struct idx_query qs[N];
    int64_t *labels = malloc((size_t)N * (size_t)k * sizeof(int64_t));
    float *scores = malloc((size_t)N * (size_t)k * sizeof(float));
    int64_t *excl[N] = {0};
    int ret = 0;

    if (labels == NULL || scores == NULL)
        ret = idx_error_set(err, IDX_ENOMEM, "no memory for %d queries", N);
    /* Rows spread over the pool, not its first few. */
    for (int i = 0; i < N && ret == 0; i++) {
        int64_t row = (int64_t)i * n_pool / N, lo = 0, hi = 0;

        if (by_user && s->seen_indptr != NULL) {
            lo = s->seen_indptr[row];
            hi = s->seen_indptr[row + 1];
        }
        excl[i] = malloc((size_t)(hi - lo + 1) * sizeof(int64_t));
        if (excl[i] == NULL) {
            ret = idx_error_set(err, IDX_ENOMEM, "no memory for excludes");
            break;
        }
        for (int64_t j = lo; j < hi; j++)
            excl[i][j - lo] = s->seen_items[j];
        qs[i] = (struct idx_query){.vec = pool + (size_t)row * (size_t)s->dim,
                                   .dim = s->dim,
                                   .k = k,
                                   .exclude = excl[i],
                                   .n_exclude = (size_t)(hi - lo),
                                   .labels = labels + (size_t)i * (size_t)k,
                                   .scores = scores + (size_t)i * (size_t)k};
    }
    if (ret == 0)
        ret = idx_batch_costs(g->index, qs, MEASURE_ALONE, MEASURE_BATCH,
                              MEASURE_ROUNDS, &g->alone_s, &g->batched_s, err);
    for (int i = 0; i < N; i++)
        free(excl[i]);
    free(labels);
    free(scores);
    return ret;
}

static int build_index(struct svc_model *m, struct svc_gen *g,
                       struct svc_error *err)
{
    const struct gnn_snapshot *s = g->snap;
    struct idx_config ic = {.factory = m->factory,
                            .nprobe = m->cfg.nprobe,
                            .ef_search = m->cfg.ef_search,
                            .nthreads = m->cfg.search_threads};
    struct idx_error ie = {0};

    if (idx_build(&ic, s->items_target, s->n_items, s->dim, &g->index, &ie) < 0)
        return from_idx(&ie, err);
    /* Approximate indexes search one query about as fast alone as in a
     * batch; only exact ones can gain from one matrix product. */
    if (!idx_is_exact(g->index) || m->cfg.coalesce == SVC_COALESCE_OFF)
        return 0;
    if (m->cfg.coalesce == SVC_COALESCE_AUTO) {
        if (measure_batching(g, &ie) < 0)
            return from_idx(&ie, err);
        if (g->batched_s * BATCH_GAIN_NEEDED >= g->alone_s)
            return 0;
    }
    if (idx_batcher_new(g->index, m->cfg.coalesce_max_batch,
                        m->cfg.coalesce_wait_us, &g->batcher, &ie) < 0)
        return from_idx(&ie, err);
    idx_batcher_set_parallel(g->batcher, parallel_batches(m));
    return 0;
}

/* Build everything a generation needs, off the request path. Takes snap
 * over. */
static int gen_build(struct svc_model *m, struct gnn_snapshot *snap,
                     struct svc_gen **out, struct svc_error *err)
{
    struct svc_gen *g = calloc(1, sizeof(*g));
    int ret;

    if (g == NULL) {
        gnn_snapshot_free(snap);
        return svc_error_set(err, SVC_ENOMEM, "no memory for a model");
    }
    g->snap = snap;
    g->m = m;
    atomic_init(&g->refs, 1);

    ret = check_snapshot(snap, err);
    if (ret == 0)
        ret = fill_map(&g->users, snap->user_ids, snap->n_users, "user", err);
    if (ret == 0)
        ret = fill_map(&g->items, snap->item_ids, snap->n_items, "item", err);
    if (ret == 0)
        ret = rank_popular(g, err);
    if (ret == 0) {
        g->state = calloc((size_t)snap->n_items, sizeof(*g->state));
        if (g->state == NULL)
            ret = svc_error_set(err, SVC_ENOMEM, "no memory for items");
    }
    if (ret == 0)
        ret = build_index(m, g, err);
    if (ret < 0) {
        gen_free(g);
        return ret;
    }
    *out = g;
    return 0;
}

/* Point every row of g at its item's shared state. */
static int gen_intern(struct svc_model *m, struct svc_gen *g,
                      struct svc_error *err)
{
    int ret = 0;

    pthread_mutex_lock(&m->reg.lock);
    for (int32_t i = 0; i < g->snap->n_items && ret == 0; i++) {
        g->state[i] = reg_intern(&m->reg, g->snap->item_ids[i]);
        if (g->state[i] == NULL)
            ret = svc_error_set(err, SVC_ENOMEM, "no memory for item ids");
    }
    pthread_mutex_unlock(&m->reg.lock);
    return ret;
}

/* ------------------------------------------------------------------ */
/* Publication                                                         */

struct svc_gen *svc_model_acquire(struct svc_model *m)
{
    unsigned e = atomic_load(&m->epoch) & 1;
    struct svc_gen *g;

    atomic_fetch_add(&m->pins[e], 1);
    g = atomic_load(&m->cur);
    if (g != NULL)
        atomic_fetch_add(&g->refs, 1);
    atomic_fetch_sub(&m->pins[e], 1);
    return g;
}

void svc_gen_release(struct svc_gen *g)
{
    if (g != NULL && atomic_fetch_sub(&g->refs, 1) == 1)
        gen_free(g);
}

/* Wait until no reader can still be between loading an older m->cur
 * and counting its reference (see the top of the file). */
static void synchronize(struct svc_model *m)
{
    for (int flip = 0; flip < 2; flip++) {
        unsigned e = atomic_fetch_add(&m->epoch, 1) & 1;
        while (atomic_load(&m->pins[e]) != 0)
            sched_yield();
    }
}

int svc_model_publish(struct svc_model *m, struct gnn_snapshot *snap,
                      struct svc_error *err)
{
    struct svc_gen *g = NULL, *old = NULL;
    int ret;

    if (m == NULL || snap == NULL) {
        gnn_snapshot_free(snap);
        return svc_error_set(err, SVC_EINVAL, "model and snapshot needed");
    }
    ret = gen_build(m, snap, &g, err);
    if (ret < 0)
        return ret;

    pthread_mutex_lock(&m->write_lock);
    ret = gen_intern(m, g, err);
    if (ret == 0) {
        g->version = ++m->version;
        g->loaded_at = time(NULL);
        old = atomic_exchange(&m->cur, g);
        atomic_store(&m->coalescing, g->batcher != NULL);
        synchronize(m);
    }
    pthread_mutex_unlock(&m->write_lock);

    if (ret < 0) {
        gen_free(g);
        return ret;
    }
    svc_gen_release(old);
    return 0;
}

int svc_model_load(struct svc_model *m, const char *dir, struct svc_error *err)
{
    struct gnn_snapshot *snap = NULL;
    struct gnn_error ge = {0};

    if (m == NULL || dir == NULL)
        return svc_error_set(err, SVC_EINVAL, "model and folder needed");
    if (gnn_snapshot_load(dir, &snap, &ge) < 0)
        return svc_error_set(err, ge.code == GNN_ENOMEM ? SVC_ENOMEM : SVC_EIO,
                             "snapshot: %s", ge.text);
    return svc_model_publish(m, snap, err);
}

int64_t svc_gen_version(const struct svc_gen *g)
{
    return g->version;
}

/* ------------------------------------------------------------------ */
/* Registry lifetime                                                   */

/*
 * Keep the search parameters that apply to the index kind, with our
 * defaults where none was given: FAISS's own (efSearch 16, nprobe 1)
 * trade most of the recall away. On a Gowalla-size catalog HNSW32 found
 * 85% of the exact top 20 at efSearch 16 and 96% at 64
 * (benchmarks/results/search.md).
 */
static void search_params_for_factory(struct svc_model_config *c)
{
    const char *factory = c->index_factory ? c->index_factory : "Flat";

    if (strstr(factory, "HNSW") == NULL)
        c->ef_search = 0;
    else if (c->ef_search == 0)
        c->ef_search = DEFAULT_EF_SEARCH;
    if (strstr(factory, "IVF") == NULL)
        c->nprobe = 0;
    else if (c->nprobe == 0)
        c->nprobe = DEFAULT_NPROBE;
}

int svc_model_new(const struct svc_model_config *cfg, struct svc_model **out,
                  struct svc_error *err)
{
    struct svc_model_config c = {0};
    struct svc_model *m;

    if (out == NULL)
        return svc_error_set(err, SVC_EINVAL, "out required");
    *out = NULL;
    if (cfg != NULL)
        c = *cfg;
    if (c.max_k < 0 || c.search_threads < 0 || c.nprobe < 0 ||
        c.ef_search < 0 || c.coalesce_max_batch < 0 || c.coalesce_wait_us < 0 ||
        c.blas_threshold < 0)
        return svc_error_set(err, SVC_EINVAL,
                             "model settings must not be negative");
    c.max_k = c.max_k ? c.max_k : DEFAULT_MAX_K;
    c.coalesce_max_batch =
        c.coalesce_max_batch ? c.coalesce_max_batch : DEFAULT_BATCH;
    c.coalesce_wait_us =
        c.coalesce_wait_us ? c.coalesce_wait_us : DEFAULT_WAIT_US;
    search_params_for_factory(&c);

    m = calloc(1, sizeof(*m));
    if (m == NULL ||
        (m->factory = strdup(c.index_factory != NULL ? c.index_factory
                                                     : "Flat")) == NULL) {
        free(m);
        return svc_error_set(err, SVC_ENOMEM, "no memory for a model");
    }
    c.index_factory = m->factory;
    if (c.blas_threshold == 0 && c.coalesce != SVC_COALESCE_OFF)
        c.blas_threshold = DEFAULT_BLAS_THRESHOLD;
    if (c.blas_threshold > 0)
        idx_set_blas_threshold(c.blas_threshold);
    /* Batches are searched side by side, a core each (parallel_batches());
     * BLAS threads inside each would fight them for the same cores, and
     * flatter batches when their cost is timed at load. Process-wide,
     * like the threshold; training pools set their own. */
    openblas_set_num_threads(c.search_threads > 0 ? c.search_threads : 1);
    m->cfg = c;
    pthread_mutex_init(&m->write_lock, NULL);
    pthread_mutex_init(&m->reg.lock, NULL);
    for (int i = 0; i < LOG_SHARDS; i++)
        pthread_mutex_init(&m->log[i].lock, NULL);
    *out = m;
    return 0;
}

void svc_model_free(struct svc_model *m)
{
    if (m == NULL)
        return;
    svc_gen_release(atomic_exchange(&m->cur, NULL));
    for (size_t i = 0; i < m->reg.n; i++)
        free(m->reg.items[i]);
    free(m->reg.items);
    svc__map_clear(&m->reg.map);
    for (int s = 0; s < LOG_SHARDS; s++) {
        for (size_t i = 0; i < m->log[s].n; i++) {
            free(m->log[s].users[i]->user);
            free(m->log[s].users[i]->ev);
            free(m->log[s].users[i]);
        }
        free(m->log[s].users);
        svc__map_clear(&m->log[s].map);
        pthread_mutex_destroy(&m->log[s].lock);
    }
    pthread_mutex_destroy(&m->reg.lock);
    pthread_mutex_destroy(&m->write_lock);
    free(m->factory);
    free(m);
}

/* ------------------------------------------------------------------ */
/* Queries                                                             */

static bool row_hidden(const void *ctx, int64_t row)
{
    const struct svc_gen *g = ctx;

    return atomic_load_explicit(&g->state[row]->hidden, memory_order_relaxed);
}

/* A growing list of rows to leave out of one answer. */
struct excl {
    int64_t *rows;
    size_t n, cap;
};

static int excl_add(struct excl *e, int64_t row)
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 64;
        int64_t *rows = realloc(e->rows, cap * sizeof(*rows));
        if (rows == NULL)
            return SVC_ENOMEM;
        e->rows = rows;
        e->cap = cap;
    }
    e->rows[e->n++] = row;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static int check_page(const struct svc_gen *g, int k, int offset,
                      struct svc_error *err)
{
    int max_k = g->m->cfg.max_k;

    if (k < 1 || offset < 0 || k > max_k - offset)
        return svc_error_set(err, SVC_EINVAL,
                             "need k >= 1, offset >= 0 and k + offset <= "
                             "%d (k=%d offset=%d)",
                             max_k, k, offset);
    return 0;
}

/* Answer one query from the index (through the batcher when coalescing),
 * hidden items left out, and copy it into out. */
static int search(const struct svc_gen *g, struct idx_query *iq,
                  struct svc_rec_result *out, struct svc_error *err)
{
    struct idx_error ie = {0};
    int64_t *labels = malloc((size_t)iq->k * sizeof(int64_t));
    float *scores = malloc((size_t)iq->k * sizeof(float));
    int ret;

    if (labels == NULL || scores == NULL) {
        ret = svc_error_set(err, SVC_ENOMEM, "no memory for an answer");
        goto out;
    }
    iq->dim = g->snap->dim;
    iq->labels = labels;
    iq->scores = scores;
    iq->skip = row_hidden;
    iq->skip_ctx = g;
    iq->skip_hint = (size_t)atomic_load(&g->m->reg.n_hidden);
    ret = g->batcher != NULL ? idx_batcher_search(g->batcher, iq, &ie)
                             : idx_search_filtered(g->index, iq, 1, &ie);
    if (ret < 0) {
        ret = from_idx(&ie, err);
        goto out;
    }
    for (int i = 0; i < iq->n_found; i++) {
        out->items[i].item_id = g->snap->item_ids[labels[i]];
        out->items[i].score = scores[i];
    }
    out->n = (size_t)iq->n_found;
out:
    free(labels);
    free(scores);
    return ret;
}

/* The most popular items not excluded (sorted rows) nor hidden. */
static void answer_popular(const struct svc_gen *g, const struct excl *e, int k,
                           int offset, struct svc_rec_result *out)
{
    int valid = 0;

    out->n = 0;
    for (int32_t i = 0; i < g->snap->n_items && out->n < (size_t)k; i++) {
        int64_t row = g->popular[i];

        if ((e->n > 0 &&
             bsearch(&row, e->rows, e->n, sizeof(int64_t), cmp_i64)) ||
            row_hidden(g, row))
            continue;
        if (valid++ < offset)
            continue;
        out->items[out->n].item_id = g->snap->item_ids[row];
        out->items[out->n].score = g->pop[row];
        out->n++;
    }
}

static bool seen_by(const struct gnn_snapshot *s, int32_t user, int32_t row)
{
    if (s->seen_indptr == NULL)
        return false;
    for (int64_t i = s->seen_indptr[user]; i < s->seen_indptr[user + 1]; i++) {
        if (s->seen_items[i] == row)
            return true;
    }
    return false;
}

static float norm(const float *x, int dim)
{
    double s = 0;

    for (int d = 0; d < dim; d++)
        s += (double)x[d] * x[d];
    return (float)sqrt(s);
}

/*
 * The query vector for a user, and which fallback it is.
 *
 * Recorded items the generation has not learned from (all of them for a
 * user it has no row for) are folded in at once. Their embedding is the
 * weighted mean of the items' SOURCE embeddings, not a LightGCN-style
 * normalised sum of neighbour embeddings: the source embedding of i is,
 * by training, what scores the items that follow i (source_i . target_j
 * is the related-items score), so the mean of source embeddings against
 * the target index ranks exactly the average of the user's items'
 * related lists, which is meaningful for any model in the engine; a
 * LightGCN sum needs the degree normalisation and the propagation layers
 * of the model that made the snapshot, which are not in it. Weights
 * count with their sign (negative feedback pushes away) and are
 * normalised by the sum of their magnitudes.
 *
 * For a user with a row, the learned vector u is blended with that mean
 * m rescaled to |u| (so that scores keep their scale):
 * (1 - b) u + b m, with b = new weight / (new weight + items the
 * snapshot saw), so a few new items move a long history a little and a
 * short one a lot.
 */
static enum svc_fallback user_vector(const struct svc_gen *g, int32_t user,
                                     const int32_t *rows, const float *w, int n,
                                     float *vec)
{
    const struct gnn_snapshot *s = g->snap;
    int dim = s->dim;
    const float *u = user >= 0 ? s->users + (size_t)user * dim : NULL;
    double wsum = 0;

    memset(vec, 0, (size_t)dim * sizeof(float));
    for (int i = 0; i < n; i++) {
        const float *src = s->items_source + (size_t)rows[i] * dim;

        if (user >= 0 && seen_by(s, user, rows[i]))
            continue;
        for (int d = 0; d < dim; d++)
            vec[d] += w[i] * src[d];
        wsum += fabsf(w[i]);
    }

    if (wsum == 0) {
        if (u == NULL)
            return SVC_FALLBACK_POPULAR;
        memcpy(vec, u, (size_t)dim * sizeof(float));
        return SVC_FALLBACK_NONE;
    }
    for (int d = 0; d < dim; d++)
        vec[d] = (float)(vec[d] / wsum);
    if (u == NULL)
        return SVC_FALLBACK_ON_THE_FLY;

    int64_t hist = s->seen_indptr != NULL
                       ? s->seen_indptr[user + 1] - s->seen_indptr[user]
                       : 0;
    double b = wsum / (wsum + (double)(hist > 0 ? hist : 1));
    float nm = norm(vec, dim), scale = nm > 0 ? norm(u, dim) / nm : 0;

    for (int d = 0; d < dim; d++)
        vec[d] = (float)((1 - b) * u[d] + b * scale * vec[d]);
    return SVC_FALLBACK_ON_THE_FLY;
}

/* Explicit excludes (ids unknown to g are ignored), then, when asked,
 * what the snapshot and the recorded interactions say the user saw. */
static int gather_excludes(const struct svc_gen *g,
                           const struct svc_rec_query *q, int32_t user,
                           const int32_t *ev_rows, int n_ev, struct excl *e)
{
    const struct gnn_snapshot *s = g->snap;
    int ret = 0;

    for (size_t i = 0; i < q->n_exclude && ret == 0; i++) {
        int32_t row =
            q->exclude[i] != NULL ? svc__map_get(&g->items, q->exclude[i]) : -1;
        if (row >= 0)
            ret = excl_add(e, row);
    }
    if (!q->exclude_seen)
        return ret;
    if (user >= 0 && s->seen_indptr != NULL) {
        for (int64_t i = s->seen_indptr[user];
             i < s->seen_indptr[user + 1] && ret == 0; i++)
            ret = excl_add(e, s->seen_items[i]);
    }
    for (int i = 0; i < n_ev && ret == 0; i++)
        ret = excl_add(e, ev_rows[i]);
    return ret;
}

int svc_gen_recommend(struct svc_gen *g, const struct svc_rec_query *q,
                      struct svc_rec_result *out, struct svc_error *err)
{
    int32_t ev_rows[LOG_PER_USER], user;
    float ev_w[LOG_PER_USER], *vec = NULL;
    struct excl e = {0};
    int n_ev, ret;

    if (g == NULL || q == NULL || out == NULL || out->items == NULL ||
        q->user_id == NULL || (q->n_exclude > 0 && q->exclude == NULL))
        return svc_error_set(err, SVC_EINVAL, "bad recommendation query");
    ret = check_page(g, q->k, q->offset, err);
    if (ret < 0)
        return ret;
    out->n = 0;

    user = svc__map_get(&g->users, q->user_id);
    n_ev = log_collect(g->m, g, q->user_id, ev_rows, ev_w);
    vec = malloc((size_t)g->snap->dim * sizeof(float));
    if (vec == NULL || gather_excludes(g, q, user, ev_rows, n_ev, &e) < 0) {
        ret = svc_error_set(err, SVC_ENOMEM, "no memory for a query");
        goto out;
    }

    out->fallback = user_vector(g, user, ev_rows, ev_w, n_ev, vec);
    if (out->fallback == SVC_FALLBACK_POPULAR) {
        if (e.n > 0)
            qsort(e.rows, e.n, sizeof(int64_t), cmp_i64);
        answer_popular(g, &e, q->k, q->offset, out);
    } else {
        struct idx_query iq = {.vec = vec,
                               .k = q->k,
                               .offset = q->offset,
                               .exclude = e.rows,
                               .n_exclude = e.n};
        ret = search(g, &iq, out, err);
    }
out:
    free(vec);
    free(e.rows);
    return ret;
}

int svc_gen_related(struct svc_gen *g, const char *item_id, int k, int offset,
                    struct svc_rec_result *out, struct svc_error *err)
{
    int64_t row;
    int ret;

    if (g == NULL || item_id == NULL || out == NULL || out->items == NULL)
        return svc_error_set(err, SVC_EINVAL, "bad related-items query");
    ret = check_page(g, k, offset, err);
    if (ret < 0)
        return ret;
    out->n = 0;
    out->fallback = SVC_FALLBACK_NONE;

    row = svc__map_get(&g->items, item_id);
    if (row < 0)
        return svc_error_set(err, SVC_ENOTFOUND, "unknown item");

    /* Source of the item against every target, the item itself left
     * out: "what follows i", which need not be "what i follows". */
    struct idx_query iq = {.vec = g->snap->items_source +
                                  (size_t)row * g->snap->dim,
                           .k = k,
                           .offset = offset,
                           .exclude = &row,
                           .n_exclude = 1};
    return search(g, &iq, out, err);
}

json_t *svc_gen_describe(const struct svc_gen *g)
{
    const struct gnn_snapshot *s = g->snap;
    char when[32] = "";
    struct tm tm;
    json_t *measured = NULL;

    if (gmtime_r(&g->loaded_at, &tm) != NULL)
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (g->alone_s > 0)
        measured = json_pack("{s:f, s:f}", "alone_us", g->alone_s * 1e6,
                             "batched_us", g->batched_s * 1e6);
    return json_pack("{s:I, s:s, s:s, s:i, s:i, s:i, "
                     "s:{s:s, s:b, s:b, s:o*}, s:o*}",
                     "version", (json_int_t)g->version, "loaded_at", when,
                     "model", s->model, "dim", (int)s->dim, "n_users",
                     (int)s->n_users, "n_items", (int)s->n_items, "index",
                     "factory", idx_factory(g->index), "exact",
                     (int)idx_is_exact(g->index), "coalesce",
                     g->batcher != NULL, "search_cost", measured, "info",
                     s->info != NULL ? json_deep_copy(s->info) : NULL);
}

bool svc_gen_search_cost(const struct svc_gen *g, double *alone_s,
                         double *batched_s)
{
    *alone_s = g->alone_s;
    *batched_s = g->batched_s;
    return g->batcher != NULL;
}

void svc_model_batch_stats(struct svc_model *m, uint64_t *batches,
                           uint64_t *queries)
{
    /* The current generation first: holding it keeps it from retiring
     * between the two reads, so a search is never counted twice. */
    struct svc_gen *g = svc_model_acquire(m);
    uint64_t b = 0, q = 0;

    if (g != NULL && g->batcher != NULL)
        idx_batcher_stats(g->batcher, &b, &q);
    *batches = b + atomic_load(&m->retired_batches);
    *queries = q + atomic_load(&m->retired_queries);
    svc_gen_release(g);
}

bool svc_model_coalescing(struct svc_model *m)
{
    return atomic_load(&m->coalescing);
}
