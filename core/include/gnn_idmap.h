/*
 * Id maps: external string ids (SKUs, account ids) <-> dense int32 ids
 * 0 .. size-1, given in order of first insertion.
 *
 * The strings live back to back in one growing arena (no allocation per
 * id); an open-addressing hash table with linear probing holds dense ids,
 * and a per-id hash and arena offset make lookups O(1) on average and
 * growth a rehash without re-hashing strings. Memory is the id bytes plus
 * a NUL each (the arena at most doubles them while growing) and 20 to 36
 * bytes per id (offset, hash, table slots at a load of 3/8 to 3/4).
 *
 * Ids are byte strings of any content (a NUL inside included) given with
 * their length; gnn_idmap_name() returns them NUL-terminated as well.
 */
#ifndef GNN_IDMAP_H
#define GNN_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#include "gnn_err.h"

struct gnn_idmap;

/* Largest number of ids a map holds (dense ids stay below INT32_MAX). */
#define GNN_IDMAP_MAX (INT32_MAX - 1)

/* A new empty map (*out, freed with gnn_idmap_free); GNN_ENOMEM. */
int gnn_idmap_new(struct gnn_idmap **out, struct gnn_error *err);

/* Free m and its ids; m may be NULL. Names returned before are invalid. */
void gnn_idmap_free(struct gnn_idmap *m);

/* Number of ids in m. */
int32_t gnn_idmap_size(const struct gnn_idmap *m);

/*
 * The dense id of the len bytes at id, adding it when new. Returns the
 * dense id (>= 0), or GNN_ENOMEM / GNN_ERANGE (map full) / GNN_EINVAL
 * (id NULL with len > 0) as a negative code. *added (may be NULL) tells
 * whether the id was new.
 */
int32_t gnn_idmap_get_or_add(struct gnn_idmap *m, const char *id, size_t len,
                             int *added, struct gnn_error *err);

/* The dense id of the len bytes at id, or -1 when it is not in m. */
int32_t gnn_idmap_lookup(const struct gnn_idmap *m, const char *id, size_t len);

/*
 * The external id of dense id (NUL-terminated; *len, may be NULL, gets its
 * length), or NULL when dense is out of range. The pointer is borrowed:
 * valid until the next insertion or gnn_idmap_free.
 */
const char *gnn_idmap_name(const struct gnn_idmap *m, int32_t dense,
                           size_t *len);

/* Bytes m holds (arena, table and per-id arrays), for capacity checks. */
size_t gnn_idmap_memory(const struct gnn_idmap *m);

#endif
