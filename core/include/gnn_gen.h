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
    int64_t block_events; /* events sorted in memory at a time before
                             they spill to a run file; 0: the default,
                             GNN_GEN_BLOCK_EVENTS. Only memory and
                             speed depend on it, never the output. */
};

/*
 * Default block: 200000 events of 24 bytes in a buffer of 2^18 (6 MiB),
 * plus as much again while the block is sorted.
 */
#define GNN_GEN_BLOCK_EVENTS 200000

/*
 * Sizing by a target number of events. One user makes about 60 events
 * (views, clicks, carts, purchases and ratings) with the default
 * sessions and views; the catalog keeps the default shop's proportions:
 *   n_items      = max(2, round(n_events / GNN_GEN_EVENTS_PER_ITEM))
 *   n_categories = clamp(round(n_items / 100), 1, min(n_items, 10000))
 * and n_users is the smallest count whose simulated events reach
 * n_events, so the generated events are n_events plus at most the last
 * user's events (one user makes well under 1000 events, and the mean is
 * about 60). 1M events give about 16.7K users and 6.7K items; 50M give
 * about 830K users and 333K items.
 */
#define GNN_GEN_EVENTS_PER_ITEM 150

/*
 * Set c's n_items, n_categories and n_users for n_events events (>= 1,
 * <= GNN_GEN_MAX_EVENTS), keeping c's other fields; it simulates the
 * users (counting only, no output), which takes a few seconds per 10M
 * events. Errors: GNN_EINVAL (bad n_events or other field), GNN_ENOMEM,
 * GNN_ERANGE when more than INT32_MAX - 1 users would be needed.
 */
int gnn_gen_config_for_events(struct gnn_gen_config *c, int64_t n_events,
                              struct gnn_error *err);

#define GNN_GEN_MAX_EVENTS ((int64_t)10000000000)

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
 * of the same names are replaced). Streams to the files: memory is one
 * block of events (block_events * 24 bytes), about 40 bytes per catalog
 * item
 * and 32 KiB per spilled run, not O(users) or O(events); the runs take
 * 24 bytes per event of disk space in dir while pass 1 lasts. stats (may be
 * NULL) receives the counts, progress (may be NULL) is called with ctx. Errors:
 * GNN_EINVAL, GNN_EIO naming the file, GNN_ENOMEM, GNN_ECANCELED.
 */
int gnn_gen_write(const struct gnn_gen_config *c, const char *dir,
                  struct gnn_gen_stats *stats, gnn_gen_progress_fn progress,
                  void *ctx, struct gnn_error *err);

#endif
