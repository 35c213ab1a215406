/*
 * A synthetic e-commerce data set that has structure for a model to find.
 *
 * The catalog has n_items products in n_categories categories of uneven
 * size; item popularity follows a Zipf law (weight 1/rank^zipf). Every
 * even category is a "main" category whose odd successor holds its
 * accessories (phones, then phone cases): a share of the main items are
 * anchors, each with one accessory item.
 *
 * Each user likes one to three categories (weights drawn from a flat
 * Dirichlet) and visits the shop in sessions spread over `days` days.
 * A session browses one category (now and then the whole shop): views of
 * popular items, some of which are clicked, put in the cart, bought, and
 * sometimes rated. Buying an anchor makes the user likely to come back
 * for its accessory one to ten days later, so anchor -> accessory is a
 * directed pattern; the reverse order only arises by chance.
 *
 * Everything is a function of the seed (splitmix64 streams, one per user
 * and one for the catalog), so the same configuration writes the same
 * bytes on every machine.
 *
 * Files written into the output folder:
 *   events.csv           every event in time order, header
 *                        "user,item,type,value,timestamp" (see
 *                        gnn_events.h), external ids
 *   train.txt, valid.txt, test.txt
 *                        LightGCN split format, dense ids, each user's
 *                        distinct items split by time (gnn_split_counts)
 *   users.txt, items.txt external ids in dense-id order ("u000042",
 *                        "sku-001337"); items that no event touched are
 *                        left out, so items.txt has exactly as many lines
 *                        as the splits' largest item id + 1
 *   item_categories.txt  the category name of each item, dense-id order
 *   pairs_test.txt       "i j" per line, dense ids: the user bought anchor
 *                        i in their train/valid period and interacted with
 *                        its accessory j in their test period
 */
#ifndef GNN_GEN_H
#define GNN_GEN_H

#include <stdint.h>

#include "gnn_err.h"

struct gnn_gen_config {
    int32_t n_users;          /* >= 1 */
    int32_t n_items;          /* catalog size, >= 2 */
    int32_t n_categories;     /* 1 .. min(n_items, 10000) */
    double sessions_per_user; /* mean sessions of a user, > 0 */
    double views_per_session; /* mean product views per session, >= 1 */
    double zipf;              /* popularity exponent, >= 0 */
    double anchor_share;      /* share of main-category items with an
                                 accessory, 0 .. 1 */
    double follow_prob;       /* P(coming back for the accessory) */
    int32_t days;             /* time span, 1 .. 3650 */
    int64_t start_time;       /* unix seconds of the first day */
    double valid_frac;        /* of each user's items, see gnn_split_counts */
    double test_frac;
    uint64_t seed;
};

/* What was written. */
struct gnn_gen_stats {
    int64_t n_events;
    int64_t n_by_type[5]; /* indexed by enum gnn_event_type */
    int32_t n_users;
    int32_t n_items;                  /* items with at least one event */
    int32_t n_anchors;                /* catalog items with an accessory */
    int64_t n_train, n_valid, n_test; /* split lines' items */
    int64_t n_pairs_test;
    int64_t pairs_forward; /* users who bought anchor, then accessory */
    int64_t pairs_reverse; /* users who bought accessory, then anchor */
};

/*
 * Progress: called after each stage step with a stage name ("events",
 * "splits") and the share done in [0, 1]; a non-zero return stops the
 * generator with GNN_ECANCELED.
 */
typedef int (*gnn_gen_progress_fn)(void *ctx, const char *stage, double done);

/* The defaults: 5000 users, 2000 items, 20 categories, 8 sessions, ... */
void gnn_gen_config_default(struct gnn_gen_config *c);

/*
 * Check c; GNN_EINVAL with a text naming the first bad field.
 */
int gnn_gen_config_check(const struct gnn_gen_config *c, struct gnn_error *err);

/*
 * Generate the data set into the folder dir (created when missing; files
 * of the same names are replaced). Streams to the files: memory is
 * O(n_users + n_items), not O(events). stats (may be NULL) receives the
 * counts, progress (may be NULL) is called with ctx. Errors: GNN_EINVAL,
 * GNN_EIO naming the file, GNN_ENOMEM, GNN_ECANCELED.
 */
int gnn_gen_write(const struct gnn_gen_config *c, const char *dir,
                  struct gnn_gen_stats *stats, gnn_gen_progress_fn progress,
                  void *ctx, struct gnn_error *err);

#endif
