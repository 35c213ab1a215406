/*
 * Interaction data: lists of (user, item, weight, time) with dense ids,
 * and the loaders for the LightGCN split format.
 *
 * Dense ids run from 0. A split file has one line per user,
 * "user item item ...", with dense integer ids already.
 */
#ifndef GNN_DATA_H
#define GNN_DATA_H

#include <stdint.h>

#include "gnn_err.h"

/* Interactions in coordinate form: entry i is (user[i], item[i]). */
struct gnn_interactions {
    int64_t n;       /* number of entries */
    int64_t cap;     /* allocated entries of each array */
    int32_t *user;   /* length n, dense user ids */
    int32_t *item;   /* length n, dense item ids */
    float *weight;   /* length n; 1 for implicit feedback */
    int64_t *time;   /* length n, unix seconds; 0 when unknown */
    int32_t n_users; /* largest user id + 1 (0 when empty) */
    int32_t n_items; /* largest item id + 1 (0 when empty) */
};

/* An empty list; gnn_interactions_free() releases what push allocated. */
void gnn_interactions_init(struct gnn_interactions *x);

/* Release the arrays of x (x itself is the caller's) and empty it. */
void gnn_interactions_free(struct gnn_interactions *x);

/* Resize x's four arrays to cap entries (cap >= x->n, >= 1); -1 when out
 * of memory, with x unchanged. */
int gnn_interactions_resize(struct gnn_interactions *x, int64_t cap);

/* Append one entry, growing the arrays; GNN_ENOMEM on failure. */
int gnn_interactions_push(struct gnn_interactions *x, int32_t user,
                          int32_t item, float weight, int64_t time,
                          struct gnn_error *err);

/*
 * Read a split file ("user item item ..." per line) into out, which must
 * be initialized; entries are appended with weight 1 and time 0. The file
 * is read as a stream. Errors name the file and line: GNN_ENOENT,
 * GNN_EIO, GNN_EFORMAT (not a non-negative integer), GNN_ERANGE (an id
 * over INT32_MAX - 1).
 */
int gnn_split_load(const char *path, struct gnn_interactions *out,
                   struct gnn_error *err);

/* A data set in the split format: train plus optional valid and test. */
struct gnn_dataset {
    struct gnn_interactions train;
    struct gnn_interactions valid; /* n == 0 when absent */
    struct gnn_interactions test;  /* n == 0 when absent */
    int32_t n_users;               /* over all three splits */
    int32_t n_items;               /* over all three splits */
};

/*
 * Load DIR/train.txt (required) and DIR/valid.txt, DIR/test.txt (each when
 * present) into ds, and set n_users/n_items over all of them, so that ids
 * seen only in valid or test still have a row. Free with
 * gnn_dataset_free().
 */
int gnn_dataset_load_splits(const char *dir, struct gnn_dataset *ds,
                            struct gnn_error *err);

/* Release everything gnn_dataset_load_splits() allocated; ds may be 0s. */
void gnn_dataset_free(struct gnn_dataset *ds);

#endif
