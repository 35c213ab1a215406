#include "learn.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "gnn.h"
#include "gnn_events.h"
#include "gnn_idmap.h"
#include "log.h"

struct svc_learner {
    struct svc_learner_config cfg;
    char *dir;
    char *model_name;
    struct svc_model *served; /* borrowed */
    struct gnn_store *store;  /* borrowed */
    struct gnn_event_weights weights;
    struct gnn_pool *pool;

    struct gnn_idmap *users, *items; /* external id <-> row, only grow */
    struct gnn_interactions base;    /* the base snapshot's seen items */
    struct gnn_snapshot *init;       /* base embeddings for the first
                                        warm start; NULL afterwards */
    int dim;

    struct gnn_model *prev;      /* the last round's model */
    struct gnn_graph prev_graph; /* and the graph it was trained on */
    struct gnn_interactions all; /* and its interactions, aggregated */
    int64_t watermark;           /* last event seq learned */
    double batch_s; /* seconds per mini-batch in the last incremental
                       round (0: none yet), to size the next one */
    double tail_s;  /* seconds of the last round's snapshot and publish */

    pthread_mutex_t lock; /* last */
    json_t *last;         /* describe() */
};

/* ---------------------------------------------------------------------- */
/* Set-up                                                                 */

static int gnn_failed(struct svc_error *err, const struct gnn_error *gerr,
                      const char *what)
{
    int code = gerr->code == GNN_ENOMEM ? SVC_ENOMEM
               : gerr->code == GNN_EIO  ? SVC_EIO
                                        : SVC_EINTERNAL;
    return svc_error_set(err, code, "%s: %s", what, gerr->text);
}

/* Rows of the base snapshot keep their numbers: id maps filled in order. */
static int load_base(struct svc_learner *l, const char *base,
                     struct gnn_error *gerr)
{
    struct gnn_snapshot *s = NULL;
    int ret = gnn_snapshot_load(base, &s, gerr);

    for (int32_t u = 0; ret == 0 && u < s->n_users; u++) {
        const char *id = s->user_ids[u];
        int32_t row =
            gnn_idmap_get_or_add(l->users, id, strlen(id), NULL, gerr);
        ret = row < 0 ? row : 0;
    }
    for (int32_t i = 0; ret == 0 && i < s->n_items; i++) {
        const char *id = s->item_ids[i];
        int32_t row =
            gnn_idmap_get_or_add(l->items, id, strlen(id), NULL, gerr);
        ret = row < 0 ? row : 0;
    }
    for (int32_t u = 0; ret == 0 && s->seen_indptr && u < s->n_users; u++) {
        for (int64_t k = s->seen_indptr[u];
             ret == 0 && k < s->seen_indptr[u + 1]; k++)
            ret = gnn_interactions_push(&l->base, u, s->seen_items[k], 1.0f, 0,
                                        gerr);
    }
    if (ret != 0) {
        gnn_snapshot_free(s);
        return ret;
    }
    l->dim = s->dim;
    l->init = s;
    return 0;
}

int svc_learner_new(const struct svc_learner_config *cfg,
                    struct svc_model *model, struct gnn_store *store,
                    const char *base, struct svc_learner **out,
                    struct svc_error *err)
{
    struct svc_learner *l = calloc(1, sizeof(*l));
    struct gnn_error gerr = {0};
    char path[4096];
    int ret = 0;

    *out = NULL;
    if (l == NULL)
        return svc_error_set(err, SVC_ENOMEM, "cannot allocate a learner");
    if (gnn_model_kind_parse(cfg->model) < 0 || cfg->threads < 1 ||
        cfg->keep < 1 || cfg->incremental_epochs < 1 || cfg->full_epochs < 1 ||
        cfg->round_batches < 0 || !(cfg->round_budget_s >= 0) ||
        cfg->holdout_users < 0) {
        free(l);
        return svc_error_set(err, SVC_EINVAL, "invalid learner settings");
    }

    l->cfg = *cfg;
    l->served = model;
    l->store = store;
    l->dim = cfg->dim;
    pthread_mutex_init(&l->lock, NULL);
    gnn_event_weights_default(&l->weights);
    gnn_interactions_init(&l->base);
    gnn_interactions_init(&l->all);
    l->dir = strdup(cfg->dir);
    l->model_name = strdup(cfg->model);
    l->cfg.dir = l->dir;
    l->cfg.model = l->model_name;

    snprintf(path, sizeof(path), "%s/snapshots", cfg->dir);
    if (l->dir == NULL || l->model_name == NULL)
        ret = svc_error_set(err, SVC_ENOMEM, "cannot allocate a learner");
    else if (mkdir(cfg->dir, 0755) != 0 && errno != EEXIST)
        ret = svc_error_set(err, SVC_EIO, "cannot create '%s': %s", cfg->dir,
                            strerror(errno));
    else if (mkdir(path, 0755) != 0 && errno != EEXIST)
        ret = svc_error_set(err, SVC_EIO, "cannot create '%s': %s", path,
                            strerror(errno));
    if (ret == 0 && (gnn_idmap_new(&l->users, &gerr) != 0 ||
                     gnn_idmap_new(&l->items, &gerr) != 0 ||
                     gnn_pool_new(cfg->threads, &l->pool, &gerr) != 0))
        ret = gnn_failed(err, &gerr, "cannot set up the learner");
    if (ret == 0 && base != NULL && load_base(l, base, &gerr) != 0)
        ret = gnn_failed(err, &gerr, "cannot read the base snapshot");
    if (ret != 0) {
        svc_learner_free(l);
        return ret;
    }
    *out = l;
    return 0;
}

void svc_learner_free(struct svc_learner *l)
{
    if (l == NULL)
        return;
    gnn_model_free(l->prev);
    gnn_graph_free(&l->prev_graph);
    gnn_snapshot_free(l->init);
    gnn_interactions_free(&l->base);
    gnn_interactions_free(&l->all);
    gnn_idmap_free(l->users);
    gnn_idmap_free(l->items);
    gnn_pool_free(l->pool);
    json_decref(l->last);
    pthread_mutex_destroy(&l->lock);
    free(l->dir);
    free(l->model_name);
    free(l);
}

/* ---------------------------------------------------------------------- */
/* Collecting the training set                                            */

struct collect {
    struct svc_learner *l;
    struct gnn_interactions *x;       /* everything to train on, or NULL */
    struct gnn_interactions *holdout; /* new events the last model knows */
    struct gnn_interactions *fresh;   /* events after the watermark */
    int64_t last_seq;
    struct gnn_error *gerr;
};

static int collect_event(void *arg, int64_t seq, const struct gnn_event *ev)
{
    struct collect *c = arg;
    struct svc_learner *l = c->l;
    float w = gnn_event_weight(&l->weights, ev->type, (float)ev->value);
    int32_t u, i;

    c->last_seq = seq;
    if (!(w > 0))
        return 0; /* negative feedback is not a positive to learn from */

    u = gnn_idmap_get_or_add(l->users, ev->user_id, strlen(ev->user_id), NULL,
                             c->gerr);
    i = gnn_idmap_get_or_add(l->items, ev->item_id, strlen(ev->item_id), NULL,
                             c->gerr);
    if (u < 0 || i < 0)
        return u < 0 ? u : i;

    int64_t t = ev->occurred_at_ms / 1000;
    int ret = 0;
    if (seq > l->watermark && l->prev != NULL && u < l->prev->n_users &&
        i < l->prev->n_items)
        ret = gnn_interactions_push(c->holdout, u, i, 1.0f, t, c->gerr);
    if (ret == 0 && seq > l->watermark)
        ret = gnn_interactions_push(c->fresh, u, i, w, t, c->gerr);
    if (ret != 0 || c->x == NULL)
        return ret;
    return gnn_interactions_push(c->x, u, i, w, t, c->gerr);
}

static int copy_interactions(const struct gnn_interactions *from,
                             struct gnn_interactions *to,
                             struct gnn_error *gerr)
{
    for (int64_t k = 0; k < from->n; k++) {
        int ret = gnn_interactions_push(to, from->user[k], from->item[k],
                                        from->weight[k], from->time[k], gerr);
        if (ret != 0)
            return ret;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Warm start                                                             */

/* Copy known rows from src (n_src rows) into dst; rows past stay. */
static void copy_rows(float *dst, const float *src, int32_t n_src,
                      int32_t n_dst, int dim)
{
    int32_t n = n_src < n_dst ? n_src : n_dst;

    memcpy(dst, src, (size_t)n * (size_t)dim * sizeof(float));
}

/*
 * Rows from `known` on of `rows` start at the mean of their neighbours'
 * rows in `other` (neighbours below other_known only), through csr.
 */
static void mean_of_neighbours(float *rows, int32_t known, int32_t n,
                               const float *other, int32_t other_known,
                               const struct gnn_csr *csr, int dim)
{
    for (int32_t r = known; r < n; r++) {
        float *dst = rows + (size_t)r * (size_t)dim;
        int count = 0;

        for (int64_t k = csr->row_ptr[r]; k < csr->row_ptr[r + 1]; k++) {
            int32_t c = csr->col_idx[k];
            if (c >= other_known)
                continue;
            const float *src = other + (size_t)c * (size_t)dim;
            if (count++ == 0)
                memset(dst, 0, (size_t)dim * sizeof(float));
            for (int d = 0; d < dim; d++)
                dst[d] += src[d];
        }
        for (int d = 0; count > 0 && d < dim; d++)
            dst[d] /= (float)count;
    }
}

static void warm_start(struct svc_learner *l, struct gnn_model *m,
                       const struct gnn_graph *g)
{
    int32_t known_users = 0, known_items = 0;

    if (m->user_base == NULL || m->item_base == NULL)
        return;
    if (l->prev != NULL && l->prev->dim == m->dim &&
        l->prev->user_base != NULL) {
        known_users = l->prev->n_users;
        known_items = l->prev->n_items;
        copy_rows(m->user_base, l->prev->user_base, known_users, m->n_users,
                  m->dim);
        copy_rows(m->item_base, l->prev->item_base, known_items, m->n_items,
                  m->dim);
    } else if (l->init != NULL && l->init->dim == m->dim) {
        /* The base snapshot holds outputs, not base embeddings: close
         * enough to start from, and training corrects the rest. */
        known_users = l->init->n_users;
        known_items = l->init->n_items;
        copy_rows(m->user_base, l->init->users, known_users, m->n_users,
                  m->dim);
        copy_rows(m->item_base, l->init->items_target, known_items, m->n_items,
                  m->dim);
    }
    if (known_users == 0 && known_items == 0)
        return;

    mean_of_neighbours(m->user_base, known_users, m->n_users, m->item_base,
                       known_items, &g->ui, m->dim);
    mean_of_neighbours(m->item_base, known_items, m->n_items, m->user_base,
                       known_users, &g->iu, m->dim);
}

/* ---------------------------------------------------------------------- */
/* Generation folders                                                     */

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the gen-* folders under dir/snapshots (caller frees). */
static int list_generations(const char *dir, char ***names, size_t *n)
{
    char path[4096];
    struct dirent *e;
    size_t cap = 0;

    *names = NULL;
    *n = 0;
    snprintf(path, sizeof(path), "%s/snapshots", dir);
    DIR *d = opendir(path);
    if (d == NULL)
        return errno == ENOENT ? 0 : -1;

    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "gen-", 4) != 0)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            char **grown = realloc(*names, cap * sizeof(char *));
            if (grown == NULL)
                break;
            *names = grown;
        }
        if (((*names)[*n] = strdup(e->d_name)) != NULL)
            (*n)++;
    }
    closedir(d);
    if (*n > 1)
        qsort(*names, *n, sizeof(char *), name_cmp);
    return 0;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static void prune(const struct svc_learner *l)
{
    char **names, path[4096];
    size_t n;

    if (list_generations(l->dir, &names, &n) != 0)
        return;
    for (size_t i = 0; i + (size_t)l->cfg.keep < n; i++) {
        snprintf(path, sizeof(path), "%s/snapshots/%s", l->dir, names[i]);
        nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    free_names(names, n);
}

int svc_learner_latest(const char *dir, char **path, struct svc_error *err)
{
    char **names;
    size_t n;

    *path = NULL;
    if (list_generations(dir, &names, &n) != 0)
        return svc_error_set(err, SVC_EIO, "cannot list '%s/snapshots': %s",
                             dir, strerror(errno));
    if (n == 0) {
        free_names(names, n);
        return svc_error_set(err, SVC_ENOTFOUND, "no generation in '%s'", dir);
    }

    size_t len = strlen(dir) + strlen(names[n - 1]) + 12;
    *path = malloc(len);
    if (*path != NULL)
        snprintf(*path, len, "%s/snapshots/%s", dir, names[n - 1]);
    free_names(names, n);
    return *path ? 0 : svc_error_set(err, SVC_ENOMEM, "out of memory");
}

/* ---------------------------------------------------------------------- */
/* A round                                                                */

/* The phases a round's seconds are reported by, in order. */
enum phase {
    PHASE_EVENTS,   /* reading the store */
    PHASE_GRAPH,    /* aggregating and building the graph */
    PHASE_HOLDOUT,  /* scoring the previous model */
    PHASE_TRAIN,    /* model set-up, warm start, training */
    PHASE_SNAPSHOT, /* outputs, ids, writing the folder */
    PHASE_PUBLISH,  /* indexes and the swap in the served model */
    N_PHASES
};

static const char *const phase_names[N_PHASES] = {
    "events", "graph", "holdout", "train", "snapshot", "publish"};

struct round {
    enum svc_round_kind kind;
    struct gnn_interactions x, holdout, fresh;
    struct gnn_graph graph;
    struct gnn_model *model;
    struct gnn_snapshot *snap;
    struct gnn_metrics holdout_metrics;
    bool has_holdout;
    int64_t last_seq;
    int64_t n_entries; /* edges an epoch trains on */
    struct gnn_train_result result;
    double phase[N_PHASES];
    double mark; /* start of the running phase */
};

static double clock_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Close the running phase as p and start the next one. */
static void phase_done(struct round *r, enum phase p)
{
    double now = clock_s();

    r->phase[p] += now - r->mark;
    r->mark = now;
}

static void round_free(struct round *r)
{
    gnn_interactions_free(&r->x);
    gnn_interactions_free(&r->holdout);
    gnn_interactions_free(&r->fresh);
    gnn_graph_free(&r->graph);
    gnn_model_free(r->model);
    gnn_snapshot_free(r->snap);
}

/* (user, item) order, as gnn_interactions_aggregate() leaves a list. */
static int pair_cmp(const struct gnn_interactions *a, int64_t i,
                    const struct gnn_interactions *b, int64_t j)
{
    if (a->user[i] != b->user[j])
        return a->user[i] < b->user[j] ? -1 : 1;
    return (a->item[i] > b->item[j]) - (a->item[i] < b->item[j]);
}

/*
 * out = the union of two aggregated lists, in one pass: a pair in both
 * gets the sum of the weights and the later time, as aggregating the
 * concatenation would give, without sorting the large list again.
 */
static int merge_sorted(const struct gnn_interactions *a,
                        const struct gnn_interactions *b,
                        struct gnn_interactions *out, struct gnn_error *gerr)
{
    int64_t i = 0, j = 0;
    int ret = 0;

    while (ret == 0 && (i < a->n || j < b->n)) {
        int c = i == a->n ? 1 : j == b->n ? -1 : pair_cmp(a, i, b, j);
        if (c < 0) {
            ret = gnn_interactions_push(out, a->user[i], a->item[i],
                                        a->weight[i], a->time[i], gerr);
            i++;
        } else if (c > 0) {
            ret = gnn_interactions_push(out, b->user[j], b->item[j],
                                        b->weight[j], b->time[j], gerr);
            j++;
        } else {
            int64_t t = a->time[i] > b->time[j] ? a->time[i] : b->time[j];
            ret = gnn_interactions_push(out, a->user[i], a->item[i],
                                        a->weight[i] + b->weight[j], t, gerr);
            i++;
            j++;
        }
    }
    return ret;
}

/*
 * The interactions to train on: a full round (or the first) reads the
 * base and every stored event; an incremental one reads only the events
 * after the watermark and merges them into the previous round's list.
 */
static int gather(struct svc_learner *l, struct round *r,
                  struct gnn_error *gerr)
{
    bool from_scratch = r->kind == SVC_ROUND_FULL || l->prev == NULL;
    struct collect c = {.l = l,
                        .x = from_scratch ? &r->x : NULL,
                        .holdout = &r->holdout,
                        .fresh = &r->fresh,
                        .last_seq = l->watermark,
                        .gerr = gerr};
    int ret = from_scratch ? copy_interactions(&l->base, &r->x, gerr) : 0;

    if (ret == 0)
        ret = gnn_store_scan(l->store, from_scratch ? 0 : l->watermark,
                             collect_event, &c, gerr);
    r->last_seq = c.last_seq;
    phase_done(r, PHASE_EVENTS);
    if (ret == 0)
        ret =
            gnn_interactions_aggregate(from_scratch ? &r->x : &r->fresh, gerr);
    if (ret == 0 && !from_scratch)
        ret = merge_sorted(&l->all, &r->fresh, &r->x, gerr);
    return ret;
}

/* A fixed scramble of a row number: the holdout sample's order. */
static uint64_t row_key(int32_t row)
{
    uint64_t z = (uint64_t)row + 0x9e3779b97f4a7c15u;

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/*
 * Keep the holdout events of at most `most` users: those whose row_key is
 * smallest, so that two learners over the same rows pick the same users.
 */
static int sample_holdout(struct gnn_interactions *h, int32_t n_users, int most,
                          struct gnn_error *gerr)
{
    uint8_t *in = calloc((size_t)n_users + 1, 1);
    uint64_t *keys = NULL, cut;
    int64_t n = 0, kept = 0;

    if (in == NULL)
        return gnn_error_set(gerr, GNN_ENOMEM, "cannot sample the holdout");
    for (int64_t k = 0; k < h->n; k++) {
        n += in[h->user[k]] == 0;
        in[h->user[k]] = 1;
    }
    if (most <= 0 || n <= most) {
        free(in);
        return 0;
    }
    keys = malloc((size_t)n * sizeof(*keys));
    if (keys == NULL) {
        free(in);
        return gnn_error_set(gerr, GNN_ENOMEM, "cannot sample the holdout");
    }
    n = 0;
    for (int32_t u = 0; u < n_users; u++) {
        if (in[u])
            keys[n++] = row_key(u);
    }
    qsort(keys, (size_t)n, sizeof(*keys), cmp_u64);
    cut = keys[most - 1];
    for (int64_t k = 0; k < h->n; k++) {
        if (row_key(h->user[k]) > cut)
            continue;
        h->user[kept] = h->user[k];
        h->item[kept] = h->item[k];
        h->weight[kept] = h->weight[k];
        h->time[kept] = h->time[k];
        kept++;
    }
    h->n = kept;
    free(keys);
    free(in);
    return 0;
}

/* The previous model on (a sample of the users of) the events it has not
 * seen. */
static int score_holdout(struct svc_learner *l, struct round *r,
                         struct gnn_error *gerr)
{
    struct gnn_csr truth = {0};
    const int32_t cut[] = {20};

    if (l->prev == NULL || r->holdout.n == 0)
        return 0;
    int ret = sample_holdout(&r->holdout, l->prev->n_users,
                             l->cfg.holdout_users, gerr);
    if (ret == 0)
        ret = gnn_interactions_to_csr(&r->holdout, l->prev->n_users,
                                      l->prev->n_items, &truth, gerr);
    if (ret == 0)
        ret = gnn_evaluate(l->prev, &l->prev_graph.ui, &truth, cut, 1, l->pool,
                           &r->holdout_metrics, gerr);
    r->has_holdout = ret == 0 && r->holdout_metrics.n_users > 0;
    gnn_csr_free(&truth);
    return ret;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b != 0) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/*
 * The edges (indices into ui's entries) an incremental round trains on,
 * at most `most`: every edge of the users with new events (a random
 * share of them when they fill more than half), then distinct edges drawn
 * over the whole graph, which keep the rest of the model in step. *entries is
 * NULL (train on everything) when `most` covers the graph. Caller frees.
 */
static int pick_entries(const struct gnn_csr *ui,
                        const struct gnn_interactions *fresh, int64_t most,
                        uint64_t seed, int64_t **entries, int64_t *n,
                        struct gnn_error *gerr)
{
    uint8_t *mark = NULL;
    int64_t *e = NULL, touched = 0;
    struct gnn_rng rng;

    *entries = NULL;
    *n = ui->nnz;
    if (most <= 0 || most >= ui->nnz)
        return 0;
    mark = calloc((size_t)ui->n_rows + 1, 1);
    e = malloc((size_t)most * sizeof(*e));
    if (mark == NULL || e == NULL) {
        free(mark);
        free(e);
        return gnn_error_set(gerr, GNN_ENOMEM, "cannot pick training edges");
    }
    gnn_rng_seed(&rng, seed);

    /* Reservoir over the touched users' edges: the first most / 2 slots. */
    int64_t half = most / 2 > 0 ? most / 2 : 1;
    for (int64_t k = 0; k < fresh->n; k++) {
        int32_t u = fresh->user[k];
        if (u >= ui->n_rows || mark[u])
            continue;
        mark[u] = 1;
        for (int64_t p = ui->row_ptr[u]; p < ui->row_ptr[u + 1]; p++) {
            if (touched < half) {
                e[touched] = p;
            } else {
                uint64_t j = gnn_rng_next(&rng) % (uint64_t)(touched + 1);
                if (j < (uint64_t)half)
                    e[j] = p;
            }
            touched++;
        }
    }
    /* The rest walks all edges from a random start by a random step
     * prime to nnz: distinct edges spread over the whole graph, so that
     * an epoch covers as many as the bound allows. */
    int64_t filled = touched < half ? touched : half;
    uint64_t nnz = (uint64_t)ui->nnz, at = gnn_rng_next(&rng) % nnz;
    uint64_t step = 1 + gnn_rng_next(&rng) % nnz;
    while (gcd(step, nnz) != 1)
        step = step % nnz + 1;
    while (filled < most) {
        e[filled++] = (int64_t)at;
        at = (at + step) % nnz;
    }

    free(mark);
    *entries = e;
    *n = most;
    return 0;
}

/*
 * The training time left to an incremental round under the round budget,
 * after what the round has spent and what writing and publishing took
 * last time (at least a moment: one batch always runs). When a batch's
 * cost is known, *batches shrinks to what fits, so that each epoch covers
 * its whole set (the touched users' edges included) rather than a random
 * part of it. 0 when there is no budget.
 */
static double train_budget(const struct svc_learner *l, const struct round *r,
                           int64_t *batches, int32_t epochs)
{
    double spent = 0, left;

    if (!(l->cfg.round_budget_s > 0))
        return 0;
    for (int p = 0; p < N_PHASES; p++)
        spent += r->phase[p];
    left = l->cfg.round_budget_s - spent - (clock_s() - r->mark) - l->tail_s;
    if (left < 1e-3)
        left = 1e-3;
    if (l->batch_s > 0) {
        int64_t fit = (int64_t)(left / (l->batch_s * (double)epochs));
        fit = fit < 1 ? 1 : fit;
        if (*batches <= 0 || fit < *batches)
            *batches = fit;
    }
    return left;
}

static int train(struct svc_learner *l, struct round *r, struct gnn_error *gerr)
{
    struct gnn_model_config mc;
    struct gnn_train_config tc;
    int32_t n_users = gnn_idmap_size(l->users);
    int32_t n_items = gnn_idmap_size(l->items);
    bool incremental = r->kind == SVC_ROUND_INCREMENTAL;
    int64_t *entries = NULL;

    if (n_users == 0 || n_items == 0 || r->x.n == 0)
        return gnn_error_set(gerr, GNN_EINVAL, "nothing to learn from yet");
    int ret =
        gnn_graph_build(&r->x, n_users, n_items, 0.5f, 0.5f, &r->graph, gerr);
    phase_done(r, PHASE_GRAPH);
    if (ret != 0)
        return ret;

    gnn_model_config_default(&mc, gnn_model_kind_parse(l->cfg.model));
    mc.dim = l->dim;
    mc.layers = l->cfg.layers;
    mc.seed = l->cfg.seed + (uint64_t)r->last_seq;
    ret = gnn_model_new(&mc, &r->graph, &r->model, gerr);
    if (ret != 0)
        return ret;
    if (incremental)
        warm_start(l, r->model, &r->graph);

    gnn_train_config_default(&tc);
    tc.epochs = incremental ? l->cfg.incremental_epochs : l->cfg.full_epochs;
    tc.batch = l->cfg.batch;
    tc.lr = l->cfg.lr;
    tc.seed = mc.seed + 1;
    tc.eval_every = 0;
    tc.patience = 0;
    r->n_entries = r->graph.ui.nnz;
    if (incremental) {
        int64_t batches = l->cfg.round_batches;
        tc.budget_seconds = train_budget(l, r, &batches, tc.epochs);
        ret = pick_entries(&r->graph.ui, &r->fresh, batches * l->cfg.batch,
                           tc.seed + 1, &entries, &r->n_entries, gerr);
        tc.entries = entries;
        tc.n_entries = r->n_entries;
    }
    if (ret == 0)
        ret = gnn_train(r->model, NULL, NULL, &tc, l->pool, &r->result, gerr);
    free(entries);
    phase_done(r, PHASE_TRAIN);
    return ret;
}

static json_t *phases_json(const struct round *r)
{
    json_t *o = json_object();

    for (int p = 0; o != NULL && p < N_PHASES; p++)
        json_object_set_new(o, phase_names[p], json_real(r->phase[p]));
    return o;
}

static json_t *round_info(const struct svc_learner *l, const struct round *r)
{
    json_t *info = json_pack(
        "{s:I, s:{s:s, s:i, s:I, s:I, s:b, s:f, s:f, s:I, s:I}}", "watermark",
        (json_int_t)r->last_seq, "round", "kind", svc_round_kind_name(r->kind),
        "epochs", (json_int_t)r->result.epochs_run, "batches",
        (json_int_t)r->result.batches_run, "trained_edges",
        (json_int_t)r->n_entries, "budget_hit", r->result.budget_hit != 0,
        "train_seconds", r->result.train_seconds, "final_loss",
        r->result.final_loss, "interactions", (json_int_t)r->x.n, "users",
        (json_int_t)gnn_idmap_size(l->users));

    if (info != NULL && r->has_holdout)
        json_object_set_new(info, "holdout",
                            json_pack("{s:f, s:f, s:I}", "ndcg@20",
                                      r->holdout_metrics.ndcg[0], "recall@20",
                                      r->holdout_metrics.recall[0], "users",
                                      (json_int_t)r->holdout_metrics.n_users));
    return info;
}

static int write_generation(struct svc_learner *l, struct round *r, char *path,
                            size_t size, struct gnn_error *gerr)
{
    int ret = gnn_snapshot_from_model(r->model, &r->graph, l->cfg.model,
                                      &r->snap, gerr);

    for (int32_t u = 0; ret == 0 && u < r->snap->n_users; u++)
        ret = gnn_snapshot_set_user_id(r->snap, u,
                                       gnn_idmap_name(l->users, u, NULL), gerr);
    for (int32_t i = 0; ret == 0 && i < r->snap->n_items; i++)
        ret = gnn_snapshot_set_item_id(r->snap, i,
                                       gnn_idmap_name(l->items, i, NULL), gerr);
    if (ret != 0)
        return ret;

    r->snap->info = round_info(l, r);
    snprintf(path, size, "%s/snapshots/gen-%012lld", l->dir,
             (long long)r->last_seq);
    ret = gnn_snapshot_write(r->snap, path, gerr);
    phase_done(r, PHASE_SNAPSHOT);
    return ret;
}

static void remember(struct svc_learner *l, struct round *r, json_t *info)
{
    gnn_model_free(l->prev);
    gnn_graph_free(&l->prev_graph);
    gnn_interactions_free(&l->all);
    l->prev = r->model;
    l->prev_graph = r->graph;
    l->all = r->x;
    r->model = NULL;
    memset(&r->graph, 0, sizeof(r->graph));
    gnn_interactions_init(&r->x);
    l->watermark = r->last_seq;
    l->tail_s = r->phase[PHASE_SNAPSHOT] + r->phase[PHASE_PUBLISH];
    if (r->kind == SVC_ROUND_INCREMENTAL && r->result.batches_run > 0)
        l->batch_s = r->result.train_seconds / (double)r->result.batches_run;

    /* The base embeddings served their one warm start. */
    gnn_snapshot_free(l->init);
    l->init = NULL;

    json_object_set_new(json_object_get(info, "round"), "phases",
                        phases_json(r));
    pthread_mutex_lock(&l->lock);
    json_decref(l->last);
    l->last = info;
    pthread_mutex_unlock(&l->lock);
}

static void log_round(const struct svc_learner *l, const struct round *r)
{
    double total = 0;

    for (int p = 0; p < N_PHASES; p++)
        total += r->phase[p];
    svc_log_info("learning round phases",
                 "kind=%s watermark=%lld new_events=%lld interactions=%lld "
                 "trained_edges=%lld batches=%lld budget_hit=%d "
                 "events_s=%.3f graph_s=%.3f holdout_s=%.3f train_s=%.3f "
                 "snapshot_s=%.3f publish_s=%.3f total_s=%.3f",
                 svc_round_kind_name(r->kind), (long long)r->last_seq,
                 (long long)r->fresh.n, (long long)l->all.n,
                 (long long)r->n_entries, (long long)r->result.batches_run,
                 r->result.budget_hit, r->phase[PHASE_EVENTS],
                 r->phase[PHASE_GRAPH], r->phase[PHASE_HOLDOUT],
                 r->phase[PHASE_TRAIN], r->phase[PHASE_SNAPSHOT],
                 r->phase[PHASE_PUBLISH], total);
}

int svc_learner_round(void *ctx, enum svc_round_kind kind, int64_t new_events,
                      struct svc_error *err)
{
    struct svc_learner *l = ctx;
    struct gnn_error gerr = {0};
    struct round r = {.kind = kind, .mark = clock_s()};
    char path[4096];
    int ret;

    (void)new_events;
    gnn_interactions_init(&r.x);
    gnn_interactions_init(&r.holdout);
    gnn_interactions_init(&r.fresh);

    ret = gather(l, &r, &gerr);
    phase_done(&r, PHASE_GRAPH);
    if (ret == 0)
        ret = score_holdout(l, &r, &gerr);
    phase_done(&r, PHASE_HOLDOUT);
    if (ret == 0)
        ret = train(l, &r, &gerr);
    if (ret == 0)
        ret = write_generation(l, &r, path, sizeof(path), &gerr);
    if (ret != 0) {
        ret = gnn_failed(err, &gerr, "training round failed");
        round_free(&r);
        return ret;
    }

    /* The folder is written; serve the same snapshot from memory rather
     * than read it back. */
    json_t *info = json_deep_copy(r.snap->info);
    struct gnn_snapshot *snap = r.snap;
    r.snap = NULL;
    ret = svc_model_publish(l->served, snap, err);
    phase_done(&r, PHASE_PUBLISH);
    if (ret == 0) {
        remember(l, &r, info);
        info = NULL;
        log_round(l, &r);
        prune(l);
    }
    json_decref(info);
    round_free(&r);
    return ret;
}

json_t *svc_learner_describe(struct svc_learner *l)
{
    pthread_mutex_lock(&l->lock);
    json_t *copy = l->last ? json_deep_copy(l->last) : json_object();
    pthread_mutex_unlock(&l->lock);
    return copy;
}

/* ---------------------------------------------------------------------- */
/* Replay after a restart                                                 */

struct replay {
    struct svc_model *model;
    struct gnn_event_weights weights;
    int64_t count;
};

static int replay_event(void *arg, int64_t seq, const struct gnn_event *ev)
{
    struct replay *rp = arg;
    float w = gnn_event_weight(&rp->weights, ev->type, (float)ev->value);

    (void)seq;
    /* Items the model does not know yet cannot be served; skip them. */
    svc_model_add_interaction(rp->model, ev->user_id, ev->item_id, w, NULL);
    rp->count++;
    return 0;
}

int svc_learner_replay(struct svc_model *model, struct gnn_store *store,
                       int64_t watermark, int64_t *replayed,
                       struct svc_error *err)
{
    struct replay rp = {.model = model};
    struct gnn_error gerr = {0};

    gnn_event_weights_default(&rp.weights);
    if (gnn_store_scan(store, watermark, replay_event, &rp, &gerr) != 0)
        return gnn_failed(err, &gerr, "cannot replay the event store");
    if (replayed != NULL)
        *replayed = rp.count;
    return 0;
}
