/*
 * Event files: user actions with string ids, turned into weighted
 * interactions with dense ids.
 *
 * A file is CSV or TSV: the delimiter is a tab when the first line holds
 * one, else a comma. Fields are not quoted, so ids may not hold the
 * delimiter. Empty lines are skipped. Two layouts are read:
 *
 *   with a header line, columns found by name (any case) in any order:
 *     user (or user_id), item (or item_id), type (or event), value (or
 *     rating), timestamp (or time); type and value may be absent but not
 *     both; other columns (event_id, session_id, ...) are ignored.
 *     This is the file hoprec writes: "user,item,type,value,timestamp"
 *     with type one of view, click, cart, purchase, rating and value the
 *     rating (1..5) on rating rows, empty on others.
 *   without a header (no field of the first line is "user" or
 *     "user_id"): user, item, type_or_rating, timestamp. A third field
 *     that is a number is a rating (MovieLens u.data: tab-separated user,
 *     item, rating 1-5, unix time); else it is a type name.
 *
 * Timestamps are integer unix seconds. Any other line is GNN_EFORMAT with
 * "file:line: what".
 *
 * Weights (struct gnn_event_weights): view, click, cart and purchase
 * events weigh 1, 2, 3 and 5 by default. A rating r weighs
 *   rating_weight * (r - rating_threshold + 1)   when r >= rating_threshold
 *   rating_negative * (rating_threshold - r)     when r <  rating_threshold
 * so by default (threshold 4, weight 2, negative -0.5) 5 -> 4, 4 -> 2,
 * 3 -> -0.5, 2 -> -1, 1 -> -1.5: good ratings are positive feedback, poor
 * ones negative. With half_life > 0 each weight is multiplied by
 * 0.5^((now - t) / half_life), where now is the latest timestamp of the
 * file unless set. Events of the same (user, item) are then summed into
 * one interaction that keeps the latest time.
 */
#ifndef GNN_EVENTS_H
#define GNN_EVENTS_H

#include <stdint.h>

#include "gnn_data.h"
#include "gnn_err.h"
#include "gnn_idmap.h"
#include "gnn_store.h"

/* enum gnn_event_type and its names come with the event store. */
#define GNN_EVENT_N_TYPES (GNN_EVENT_RATING + 1)

struct gnn_event_weights {
    float type_weight[4]; /* view, click, cart, purchase */
    float rating_threshold;
    float rating_weight;
    float rating_negative;
    double half_life; /* seconds; 0 turns decay off */
    int64_t now;      /* reference time of the decay; 0: latest event */
};

/* Fill w with the defaults described above. */
void gnn_event_weights_default(struct gnn_event_weights *w);

/* Weight of one event before decay; value is the rating for ratings. */
float gnn_event_weight(const struct gnn_event_weights *w,
                       enum gnn_event_type type, float value);

/* A loaded event file. */
struct gnn_event_set {
    struct gnn_idmap *users;   /* external id <-> dense user id */
    struct gnn_idmap *items;   /* external id <-> dense item id */
    struct gnn_interactions x; /* one entry per (user, item) */
    int64_t n_events;          /* data lines read */
    int64_t n_by_type[GNN_EVENT_N_TYPES];
};

/*
 * Read the event file at path into out (overwritten; free with
 * gnn_event_set_free), weighting with w (NULL for the defaults). Lines are
 * read one at a time; each event is kept (20 bytes) until the decay and
 * the aggregation at the end, so memory is O(events + id bytes). Dense
 * ids are given in order of first appearance. Errors: GNN_ENOENT,
 * GNN_EIO, GNN_EFORMAT ("path:line: ..."), GNN_ENOMEM. On error out holds
 * nothing.
 */
int gnn_events_load(const char *path, const struct gnn_event_weights *w,
                    struct gnn_event_set *out, struct gnn_error *err);

/* One line of an event file, as gnn_events_scan() hands it over. */
struct gnn_event_row {
    const char *user; /* user_len bytes, not NUL-terminated */
    size_t user_len;
    const char *item; /* item_len bytes, not NUL-terminated */
    size_t item_len;
    enum gnn_event_type type;
    double value; /* the rating on rating rows, else 0 */
    int64_t time; /* unix seconds */
    long line;    /* 1-based line number in the file */
};

/* Return nonzero to stop the scan (gnn_events_scan returns it). */
typedef int (*gnn_event_row_fn)(void *ctx, const struct gnn_event_row *row);

/*
 * Call fn for each event line of the file at path, in file order, without
 * keeping anything: the row's strings are valid only during the call.
 * Same layouts and errors as gnn_events_load.
 */
int gnn_events_scan(const char *path, gnn_event_row_fn fn, void *ctx,
                    struct gnn_error *err);

/* Release what out holds and zero it; a zeroed set is fine. */
void gnn_event_set_free(struct gnn_event_set *set);

/*
 * Sum the weights of entries with the same (user, item) into one entry
 * with the latest time. The order of x becomes (user, item) ascending
 * and its arrays are cut to the entries left. Peak memory is 24 bytes
 * per entry beyond what x held (x's arrays shrink while it works).
 * GNN_ENOMEM leaves x empty (n = 0), to be freed as usual.
 */
int gnn_interactions_aggregate(struct gnn_interactions *x,
                               struct gnn_error *err);

/*
 * The split rule shared by gnn_interactions_split_by_time and the
 * generator. A user with n >= 3 items, ordered by time, gives the last
 * *n_test = max(1, floor(n * test_frac)) to test and the *n_valid =
 * max(1, floor(n * valid_frac)) before them to valid (a fraction of 0
 * gives 0), always keeping at least one for train; a user with fewer than
 * 3 items keeps all of them in train.
 */
void gnn_split_counts(int64_t n, double valid_frac, double test_frac,
                      int64_t *n_valid, int64_t *n_test);

/*
 * Split x per user by time with gnn_split_counts (ties in time broken by
 * item id) into train, valid and test, which must be initialized (entries
 * are appended). x is not changed. GNN_EINVAL for fractions outside
 * [0, 1), GNN_ENOMEM.
 */
int gnn_interactions_split_by_time(const struct gnn_interactions *x,
                                   double valid_frac, double test_frac,
                                   struct gnn_interactions *train,
                                   struct gnn_interactions *valid,
                                   struct gnn_interactions *test,
                                   struct gnn_error *err);

#endif
