/*
 * Snapshots: a trained model as a folder that any tool can read.
 *
 *   manifest.json        format version, model, hyper-parameters, counts,
 *                        dimension, training figures, a checksum per file
 *   users.npy            float32 [n_users, dim]
 *   items_source.npy     float32 [n_items, dim]
 *   items_target.npy     float32 [n_items, dim]
 *   users.txt            external user ids in row order, one per line
 *   items.txt            external item ids in row order, one per line
 *   items_popularity.npy float32 [n_items] (optional) recency-weighted
 *                        interaction counts, for cold-start answers
 *   seen_indptr.npy      int64 [n_users + 1] (optional) and
 *   seen_items.npy       int32 [nnz]: each user's training items as CSR,
 *                        so a server can exclude what a user has seen
 *
 * A snapshot is written to a temporary folder beside the target, every
 * file fsynced, then renamed into place, so a reader sees either the old
 * folder or the complete new one. An existing folder is swapped with the
 * new one in one step (renameat2 RENAME_EXCHANGE) where the file system
 * allows, else renamed aside first; the loader reads every file through
 * one open folder and starts again when the folder was replaced under it.
 *
 * manifest.json holds "format": "hoprec-snapshot", "format_version",
 * "model", "dim", "n_users", "n_items", "checksum": "crc32" and "files":
 * {name: {"bytes": N, "crc32": "8 hex digits"}} for every other file of
 * the folder; the checksum is zlib's CRC-32 of the file's bytes. The keys
 * of the snapshot's info object sit beside these at the top level; on load
 * every top-level key that is not one of these becomes info again.
 *
 * Ids are written one per line, so an id may not be empty nor contain
 * '\n' or '\r' (GNN_EINVAL on write, GNN_EFORMAT on load).
 */
#ifndef GNN_SNAPSHOT_H
#define GNN_SNAPSHOT_H

#include <jansson.h>
#include <stdint.h>

#include "gnn_err.h"

#define GNN_SNAPSHOT_FORMAT 1

struct gnn_snapshot {
    char model[32]; /* model name, e.g. "lightgcn" */
    int32_t dim;    /* embedding width */
    int32_t n_users;
    int32_t n_items;
    float *users;           /* n_users * dim, row-major */
    float *items_source;    /* n_items * dim */
    float *items_target;    /* n_items * dim; equal to source for models
                               with one item embedding */
    char **user_ids;        /* n_users NUL-terminated strings, each one
                               malloc'd and owned by the snapshot */
    char **item_ids;        /* n_items strings, owned the same way */
    float *item_popularity; /* n_items, or NULL */
    int64_t *seen_indptr;   /* n_users + 1, or NULL */
    int32_t *seen_items;    /* seen_indptr[n_users], or NULL */
    json_t *info;           /* object merged into the manifest: parameters,
                               training figures (owned; may be NULL) */
};

/*
 * Allocate an empty snapshot with zeroed embedding arrays for the given
 * sizes and ids "0".."n-1"; free with gnn_snapshot_free().
 */
int gnn_snapshot_new(const char *model, int32_t dim, int32_t n_users,
                     int32_t n_items, struct gnn_snapshot **out,
                     struct gnn_error *err);

/* Free s and everything it owns; s may be NULL. */
void gnn_snapshot_free(struct gnn_snapshot *s);

/*
 * Replace the external id of user row (or item row) by a copy of id.
 * GNN_ERANGE for a row outside [0, n), GNN_EINVAL for an id that cannot
 * be written (empty, or with '\n' or '\r'), GNN_ENOMEM.
 */
int gnn_snapshot_set_user_id(struct gnn_snapshot *s, int32_t row,
                             const char *id, struct gnn_error *err);
int gnn_snapshot_set_item_id(struct gnn_snapshot *s, int32_t row,
                             const char *id, struct gnn_error *err);

/*
 * Write s atomically as the folder dir (replacing an older one). The
 * parent folder must exist. An existing dir is replaced only when it is a
 * snapshot (holds manifest.json) or empty; anything else is GNN_EINVAL, so
 * that a mistyped path never deletes unrelated files. Errors: GNN_EINVAL
 * (bad sizes, NULL arrays, bad ids, a seen CSR out of range, an info key
 * that is one of the manifest's own keys), GNN_EIO (naming the file),
 * GNN_ENOMEM. On error the old folder, when there was one, is left as it
 * was and no temporary folder remains.
 */
int gnn_snapshot_write(const struct gnn_snapshot *s, const char *dir,
                       struct gnn_error *err);

/*
 * Read the folder dir into a new snapshot (*out, freed by the caller with
 * gnn_snapshot_free). Checks the format version, the shapes against the
 * manifest and the checksums; any mismatch is GNN_EFORMAT naming the file
 * (a listed file that is missing included). GNN_ENOENT when dir has no
 * manifest.json, GNN_EIO, GNN_ENOMEM. The loaded info holds the manifest's
 * other top-level keys (an empty object when there are none).
 */
int gnn_snapshot_load(const char *dir, struct gnn_snapshot **out,
                      struct gnn_error *err);

#endif
