/*
 * The learner: turns the events in the store into new model generations.
 *
 * Training data = the base snapshot's interactions (its seen items, the
 * offline training set) + every event in the store, weighted by type.
 * Each round:
 *
 *   1. maps new users and items to fresh rows (ids only ever grow);
 *   2. measures the current model on the events that arrived since it
 *      was trained (a rolling holdout: the model never saw them), NDCG@20
 *      and Recall@20 over the users it knows;
 *   3. trains: an incremental round warm-starts from the previous model's
 *      base embeddings (a new user starts at the mean of its items', a new
 *      item at the mean of its users') and runs a few epochs over a
 *      bounded set of edges (those of the users with new events first,
 *      then a uniform sample of the rest) within a time budget; a full
 *      round starts from scratch and runs more epochs over every edge;
 *   4. writes DIR/snapshots/gen-<watermark>/ atomically, with the store's
 *      last sequence number as its watermark, and publishes it;
 *   5. removes older generation folders but the newest `keep`.
 *
 * An incremental round reads only the events after the watermark and adds
 * them to the interactions it keeps from the previous round; a full round
 * reads the base and the whole store again. Each round logs the seconds
 * of its phases (events, graph, holdout, train, snapshot, publish) and
 * reports them in describe().
 *
 * Rounds run on the background loop's worker thread, one at a time.
 */
#ifndef SVC_LEARN_H
#define SVC_LEARN_H

#include <jansson.h>
#include <stdint.h>

#include "gnn_store.h"
#include "loop.h"
#include "model.h"

struct svc_learner_config {
    const char *dir;   /* data folder; snapshots/ is made inside */
    const char *model; /* trainable kind: lightgcn, mf, gcn, ... */
    int dim;           /* used when there is no base snapshot */
    int layers;
    int incremental_epochs; /* epochs of a warm-started round */
    int full_epochs;        /* epochs of a full round */
    int batch;
    float lr;
    int threads; /* training threads, >= 1 */
    int keep;    /* generation folders kept, >= 1 */
    uint64_t seed;
    /* Bounds on an incremental round, so that its cost does not grow with
     * the whole graph (0 lifts each one): */
    int round_batches;     /* most mini-batches per epoch: the touched
                              users' edges, then a uniform sample of all */
    double round_budget_s; /* seconds a round aims at: training gets
                              what the other phases leave */
    int holdout_users;     /* most users the rolling holdout scores */
};

struct svc_learner;

/*
 * A learner over store and model (both borrowed, outliving it), starting
 * from the snapshot folder base (may be NULL: then only the store's events
 * are learned, at cfg->dim). Free with svc_learner_free().
 */
int svc_learner_new(const struct svc_learner_config *cfg,
                    struct svc_model *model, struct gnn_store *store,
                    const char *base, struct svc_learner **out,
                    struct svc_error *err);

void svc_learner_free(struct svc_learner *l);

/* One round; the svc_round_fn of the background loop (ctx = learner). */
int svc_learner_round(void *ctx, enum svc_round_kind kind, int64_t new_events,
                      struct svc_error *err);

/*
 * The newest generation folder under cfg->dir/snapshots into *path
 * (caller frees), or SVC_ENOTFOUND when there is none.
 */
int svc_learner_latest(const char *dir, char **path, struct svc_error *err);

/*
 * Tell the served model about every stored event after the watermark of
 * the snapshot it serves, so that a restart sees what was learned
 * online. *replayed (may be NULL) gets the count.
 */
int svc_learner_replay(struct svc_model *model, struct gnn_store *store,
                       int64_t watermark, int64_t *replayed,
                       struct svc_error *err);

/* A new JSON object about the last round (kind, seconds, holdout
 * figures, watermark, users, items, phase seconds); the caller owns it. */
json_t *svc_learner_describe(struct svc_learner *l);

#endif
