/*
 * A string -> int32 hash map for the served model's external ids
 * (users, items, the hidden-item registry, the interaction log). Keys
 * are borrowed: the caller keeps each key alive and unchanged while it
 * is in the map. Insert-only; open addressing with linear probing, kept
 * at most half full. Not thread-safe: readers may share a map that no
 * thread modifies any more.
 */
#ifndef SVC_MODEL_MAP_H
#define SVC_MODEL_MAP_H

#include <stddef.h>
#include <stdint.h>

struct svc__map {
    const char **keys; /* cap entries; NULL = empty slot */
    int32_t *vals;     /* cap entries */
    size_t cap;        /* a power of two, or 0 before the first insert */
    size_t len;
};

/* FNV-1a hash of a NUL-terminated string. */
uint64_t svc__map_hash(const char *s);

/* Empty the map and free its arrays (not the keys); m may be NULL. */
void svc__map_clear(struct svc__map *m);

/* Make room for n entries in all; 0 or SVC_ENOMEM. */
int svc__map_reserve(struct svc__map *m, size_t n);

/*
 * Insert key -> val. 0 when inserted, 1 when the key was present (its
 * value is left as it was), SVC_ENOMEM when growing failed.
 */
int svc__map_put(struct svc__map *m, const char *key, int32_t val);

/* The value of key, or -1 when absent. */
int32_t svc__map_get(const struct svc__map *m, const char *key);

#endif
