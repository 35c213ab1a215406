/*
 * String id <-> dense id map (see gnn_idmap.h).
 */
#include "gnn_idmap.h"

#include <stdlib.h>
#include <string.h>

struct gnn_idmap {
    char *arena;      /* ids back to back, each followed by a NUL */
    size_t arena_len; /* bytes used */
    size_t arena_cap; /* bytes allocated */
    uint64_t *offset; /* n + 1 entries: id i is arena[offset[i]] with
                         length offset[i + 1] - offset[i] - 1 */
    uint32_t *hash;   /* n entries, the hash of each id */
    int32_t n;        /* ids held */
    int32_t cap;      /* entries allocated in offset - 1 and hash */
    int32_t *slots;   /* n_slots entries: a dense id or -1 */
    uint32_t n_slots; /* a power of two, kept over 4/3 * n */
};

/* A 64-bit multiply-xorshift hash over 8-byte words, folded to 32 bits. */
static uint32_t hash_bytes(const char *p, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (len * 0xff51afd7ed558ccdull);
    uint64_t w;

    while (len >= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        p += 8;
        len -= 8;
    }
    w = 0;
    memcpy(&w, p, len);
    h = (h ^ w) * 0x94d049bb133111ebull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return (uint32_t)h;
}

int gnn_idmap_new(struct gnn_idmap **out, struct gnn_error *err)
{
    struct gnn_idmap *m = calloc(1, sizeof(*m));

    *out = NULL;
    if (m == NULL)
        goto nomem;
    m->n_slots = 16;
    m->slots = malloc(m->n_slots * sizeof(*m->slots));
    m->offset = calloc(1, sizeof(*m->offset));
    if (m->slots == NULL || m->offset == NULL)
        goto nomem;
    memset(m->slots, 0xff, m->n_slots * sizeof(*m->slots));
    *out = m;
    return 0;

nomem:
    gnn_idmap_free(m);
    return gnn_error_set(err, GNN_ENOMEM, "idmap: no memory");
}

void gnn_idmap_free(struct gnn_idmap *m)
{
    if (m == NULL)
        return;
    free(m->arena);
    free(m->offset);
    free(m->hash);
    free(m->slots);
    free(m);
}

int32_t gnn_idmap_size(const struct gnn_idmap *m)
{
    return m->n;
}

size_t gnn_idmap_memory(const struct gnn_idmap *m)
{
    return sizeof(*m) + m->arena_cap +
           ((size_t)m->cap + 1) * sizeof(*m->offset) +
           (size_t)m->cap * sizeof(*m->hash) +
           (size_t)m->n_slots * sizeof(*m->slots);
}

static int same(const struct gnn_idmap *m, int32_t dense, const char *id,
                size_t len)
{
    uint64_t at = m->offset[dense];

    return m->offset[dense + 1] - at - 1 == len &&
           memcmp(m->arena + at, id, len) == 0;
}

/* The slot that holds id, or the empty slot where it would go. */
static uint32_t probe(const struct gnn_idmap *m, const char *id, size_t len,
                      uint32_t h)
{
    uint32_t mask = m->n_slots - 1;

    for (uint32_t s = h & mask;; s = (s + 1) & mask) {
        int32_t d = m->slots[s];
        if (d < 0 || (m->hash[d] == h && same(m, d, id, len)))
            return s;
    }
}

int32_t gnn_idmap_lookup(const struct gnn_idmap *m, const char *id, size_t len)
{
    if (id == NULL && len > 0)
        return -1;
    return m->slots[probe(m, id ? id : "", len, hash_bytes(id ? id : "", len))];
}

const char *gnn_idmap_name(const struct gnn_idmap *m, int32_t dense,
                           size_t *len)
{
    if (dense < 0 || dense >= m->n)
        return NULL;
    if (len != NULL)
        *len = m->offset[dense + 1] - m->offset[dense] - 1;
    return m->arena + m->offset[dense];
}

/* Double the table and put every id back by its stored hash. */
static int grow_slots(struct gnn_idmap *m)
{
    uint32_t n_slots = m->n_slots * 2;
    int32_t *slots = malloc(n_slots * sizeof(*slots));

    if (slots == NULL)
        return -1;
    memset(slots, 0xff, n_slots * sizeof(*slots));
    for (int32_t d = 0; d < m->n; d++) {
        uint32_t s = m->hash[d] & (n_slots - 1);
        while (slots[s] >= 0)
            s = (s + 1) & (n_slots - 1);
        slots[s] = d;
    }
    free(m->slots);
    m->slots = slots;
    m->n_slots = n_slots;
    return 0;
}

/* Room for one more id of len bytes in the arena and per-id arrays. */
static int reserve(struct gnn_idmap *m, size_t len)
{
    if (m->arena_len + len + 1 > m->arena_cap) {
        size_t cap = m->arena_cap ? m->arena_cap : 256;
        while (cap < m->arena_len + len + 1)
            cap *= 2;
        char *arena = realloc(m->arena, cap);
        if (arena == NULL)
            return -1;
        m->arena = arena;
        m->arena_cap = cap;
    }
    if (m->n == m->cap) {
        int64_t cap = m->cap ? (int64_t)m->cap * 2 : 16;
        if (cap > GNN_IDMAP_MAX)
            cap = GNN_IDMAP_MAX;
        uint64_t *offset =
            realloc(m->offset, (size_t)(cap + 1) * sizeof(*offset));
        if (offset == NULL)
            return -1;
        m->offset = offset;
        uint32_t *hash = realloc(m->hash, (size_t)cap * sizeof(*hash));
        if (hash == NULL)
            return -1;
        m->hash = hash;
        m->cap = (int32_t)cap;
    }
    return 0;
}

int32_t gnn_idmap_get_or_add(struct gnn_idmap *m, const char *id, size_t len,
                             int *added, struct gnn_error *err)
{
    if (added != NULL)
        *added = 0;
    if (id == NULL && len > 0)
        return gnn_error_set(err, GNN_EINVAL, "idmap: NULL id");
    if (id == NULL)
        id = "";

    uint32_t h = hash_bytes(id, len);
    uint32_t s = probe(m, id, len, h);
    if (m->slots[s] >= 0)
        return m->slots[s];

    if (m->n >= GNN_IDMAP_MAX)
        return gnn_error_set(err, GNN_ERANGE, "idmap: more than %d ids",
                             GNN_IDMAP_MAX);
    if (reserve(m, len) != 0)
        return gnn_error_set(err, GNN_ENOMEM, "idmap: no memory for %d ids",
                             m->n + 1);

    /* Keep the load under 3/4 so that probes stay short. */
    if ((uint64_t)(m->n + 1) * 4 > (uint64_t)m->n_slots * 3) {
        if (m->n_slots >= (1u << 31) || grow_slots(m) != 0)
            return gnn_error_set(err, GNN_ENOMEM,
                                 "idmap: no memory for the table");
        s = probe(m, id, len, h);
    }

    int32_t d = m->n;
    memcpy(m->arena + m->arena_len, id, len);
    m->arena[m->arena_len + len] = '\0';
    m->arena_len += len + 1;
    m->offset[d + 1] = m->arena_len;
    m->hash[d] = h;
    m->slots[s] = d;
    m->n++;
    if (added != NULL)
        *added = 1;
    return d;
}
