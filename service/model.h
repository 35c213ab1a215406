/*
 * The served model: generations of (snapshot, indexes) and the queries
 * the HTTP handlers run against them.
 *
 * A generation is built off the request path (load a snapshot, build the
 * user->item and item->item indexes) and then published with one atomic
 * pointer swap. Readers take a reference with svc_model_acquire() and
 * drop it with svc_gen_release(); they never wait on a load, never see a
 * half-built generation, and the old generation is freed when its last
 * reader leaves.
 */
#ifndef SVC_MODEL_H
#define SVC_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct svc_model; /* the registry of generations; one per server */
struct svc_gen;   /* one published generation; read-only */
struct gnn_snapshot;

/* Whether concurrent exact searches are answered in shared batches. */
enum svc_coalesce {
    SVC_COALESCE_OFF,  /* each search alone */
    SVC_COALESCE_ON,   /* always batched */
    SVC_COALESCE_AUTO, /* batched when a measurement at each generation's
                          load finds a batch clearly cheaper per query */
};

/* "off", "on", "auto"; parsed back by svc_coalesce_parse() (-1 when
 * name is none of them; "true" and "false" are accepted too). */
const char *svc_coalesce_name(enum svc_coalesce c);
int svc_coalesce_parse(const char *name);

struct svc_model_config {
    const char *index_factory;  /* FAISS factory string; "Flat" = exact */
    int search_threads;         /* threads FAISS may use per batch */
    int max_k;                  /* largest k + offset a query may ask */
    enum svc_coalesce coalesce; /* batch concurrent exact searches */
    /* Optional; 0 picks the default. */
    int nprobe;             /* IVF lists probed per query (16) */
    int ef_search;          /* HNSW candidate list size (64) */
    int coalesce_max_batch; /* queries per batch (default 64) */
    int coalesce_wait_us;   /* longest wait for a batch to fill (200) */
    /* Flat searches of at least this many queries are one BLAS matrix
     * product; a process-wide FAISS setting, applied by svc_model_new().
     * 0 keeps FAISS's 20, or, with coalesce, sets 4: coalesced batches
     * are often smaller than 20, and a batch of 8 measured 5 to 10 times
     * the queries/s through BLAS (benchmarks/results/search.md). */
    int blas_threshold;
};

/* Which answer a recommendation request got. */
enum svc_fallback {
    SVC_FALLBACK_NONE,       /* the user's learned embedding */
    SVC_FALLBACK_ON_THE_FLY, /* an embedding made from the user's items */
    SVC_FALLBACK_POPULAR,    /* unknown user: recency-weighted popularity */
};

/* "none", "on_the_fly", "popular". */
const char *svc_fallback_name(enum svc_fallback f);

struct svc_scored_item {
    const char *item_id; /* borrowed from the generation it came from */
    float score;
};

struct svc_rec_query {
    const char *user_id;        /* external id */
    int k;                      /* 1..max_k */
    int offset;                 /* results to skip, for paging */
    bool exclude_seen;          /* drop the user's known items */
    const char *const *exclude; /* external item ids to drop */
    size_t n_exclude;
};

struct svc_rec_result {
    struct svc_scored_item *items; /* caller's array of at least k */
    size_t n;                      /* filled entries (may be < k) */
    enum svc_fallback fallback;
};

/* Create an empty registry (no generation yet); free with _free. */
int svc_model_new(const struct svc_model_config *cfg, struct svc_model **out,
                  struct svc_error *err);

/* Free the registry; every acquired generation must be released first. */
void svc_model_free(struct svc_model *m);

/*
 * Load the snapshot folder dir, build its indexes and publish it as the
 * new current generation. Runs in the caller's thread; requests keep
 * being served from the previous generation meanwhile. On failure the
 * previous generation stays current.
 */
int svc_model_load(struct svc_model *m, const char *dir, struct svc_error *err);

/*
 * Publish an in-memory snapshot as the new current generation, as
 * svc_model_load() does after reading a folder. Takes snap over in every
 * case (freed with gnn_snapshot_free() on failure, or when the
 * generation goes). SVC_EINVAL for an inconsistent snapshot (sizes,
 * duplicate ids, seen rows out of range).
 */
int svc_model_publish(struct svc_model *m, struct gnn_snapshot *snap,
                      struct svc_error *err);

/* Whether searches of the current generation wait for a shared batch. */
bool svc_model_coalescing(struct svc_model *m);

/*
 * Coalesced exact searches since the start, over every generation:
 * batches searched and the queries they held (their ratio is the mean
 * batch size).
 */
void svc_model_batch_stats(struct svc_model *m, uint64_t *batches,
                           uint64_t *queries);

/* The current generation with a reference taken, or NULL if none yet. */
struct svc_gen *svc_model_acquire(struct svc_model *m);

/* Drop a reference taken by svc_model_acquire(); g may be NULL. */
void svc_gen_release(struct svc_gen *g);

/* Top items for a user; unknown users get the popular fallback. */
int svc_gen_recommend(struct svc_gen *g, const struct svc_rec_query *q,
                      struct svc_rec_result *out, struct svc_error *err);

/*
 * Items that follow item_id (its source embedding against every target
 * embedding, itself excluded). SVC_ENOTFOUND when the item is unknown.
 */
int svc_gen_related(struct svc_gen *g, const char *item_id, int k, int offset,
                    struct svc_rec_result *out, struct svc_error *err);

/*
 * Hide or show an item at once, in this and every later generation.
 * SVC_ENOTFOUND when no generation knows the item.
 */
int svc_model_set_hidden(struct svc_model *m, const char *item_id, bool hidden,
                         struct svc_error *err);

/*
 * Record that user_id interacted with item_id with weight (negative for
 * negative feedback), in memory, at once: later recommendations for the
 * user exclude the item when exclude_seen is set, and a user the model
 * has no row for, or whose item the generation has not learned from,
 * gets an on-the-fly embedding built from these items. Thread-safe
 * against readers and loads. The most recent 256 interactions per user
 * are kept. SVC_ENOTFOUND when no generation knows the item, SVC_EINVAL
 * for an empty id or a non-finite weight, SVC_EUNAVAILABLE before the
 * first generation.
 */
int svc_model_add_interaction(struct svc_model *m, const char *user_id,
                              const char *item_id, float weight,
                              struct svc_error *err);

/* Monotonic version of g (1 for the first generation loaded). */
int64_t svc_gen_version(const struct svc_gen *g);

/*
 * A new JSON object describing g: version, loaded_at, model, dim,
 * n_users, n_items, index type and the snapshot manifest's training
 * figures. The caller owns the reference.
 */
json_t *svc_gen_describe(const struct svc_gen *g);

/* Whether g batches concurrent searches; *alone_s and *batched_s get the
 * seconds per query timed at its load (--coalesce auto), 0 when none
 * were timed. */
bool svc_gen_search_cost(const struct svc_gen *g, double *alone_s,
                         double *batched_s);

#endif
