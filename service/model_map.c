#include "model_map.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

/* FNV-1a: short ids, no adversary who controls the layout of the table
 * beyond slowing their own lookups. */
uint64_t svc__map_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static size_t find_slot(const char **keys, size_t cap, const char *key)
{
    size_t mask = cap - 1, i = (size_t)svc__map_hash(key) & mask;

    while (keys[i] != NULL && strcmp(keys[i], key) != 0)
        i = (i + 1) & mask;
    return i;
}

void svc__map_clear(struct svc__map *m)
{
    if (m == NULL)
        return;
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

int svc__map_reserve(struct svc__map *m, size_t n)
{
    const char **keys;
    int32_t *vals;
    size_t cap = 16;

    while (cap < 2 * n)
        cap *= 2;
    if (cap <= m->cap)
        return 0;

    keys = calloc(cap, sizeof(*keys));
    vals = malloc(cap * sizeof(*vals));
    if (keys == NULL || vals == NULL) {
        free(keys);
        free(vals);
        return SVC_ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == NULL)
            continue;
        size_t j = find_slot(keys, cap, m->keys[i]);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return 0;
}

int svc__map_put(struct svc__map *m, const char *key, int32_t val)
{
    size_t i;

    if (svc__map_reserve(m, m->len + 1) < 0)
        return SVC_ENOMEM;
    i = find_slot(m->keys, m->cap, key);
    if (m->keys[i] != NULL)
        return 1;
    m->keys[i] = key;
    m->vals[i] = val;
    m->len++;
    return 0;
}

int32_t svc__map_get(const struct svc__map *m, const char *key)
{
    size_t i;

    if (m->cap == 0)
        return -1;
    i = find_slot(m->keys, m->cap, key);
    return m->keys[i] != NULL ? m->vals[i] : -1;
}
