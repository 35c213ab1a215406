#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gnn_hognn.h"

static int open_file(const char *path, FILE **f, struct gnn_error *err)
{
    *f = fopen(path, "r");
    if (*f == NULL)
        return gnn_error_set(err, errno == ENOENT ? GNN_ENOENT : GNN_EIO,
                             "cannot open %s: %s", path, strerror(errno));
    return 0;
}

/* Grow *a (of *cap elements of size sz) to hold at least need. */
static int grow(void **a, int64_t *cap, int64_t need, size_t sz)
{
    int64_t c = *cap > 0 ? *cap : 64;
    void *p;

    if (need <= *cap)
        return 0;
    while (c < need)
        c *= 2;
    p = realloc(*a, (size_t)c * sz);
    if (p == NULL)
        return -1;
    *a = p;
    *cap = c;
    return 0;
}

/* ------------------------------------------------------------- pairs */

static int parse_pair(const char *line, int32_t n_items, int32_t *ij)
{
    char *end;
    const char *s = line;

    for (int q = 0; q < 2; q++) {
        errno = 0;
        long v = strtol(s, &end, 10);
        if (end == s || errno != 0)
            return GNN_EFORMAT;
        if (v < 0 || v >= n_items)
            return GNN_ERANGE;
        ij[q] = (int32_t)v;
        s = end;
    }
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    return *s == '\0' ? 0 : GNN_EFORMAT;
}

int gnn_pairs_load(const char *path, int32_t n_items, int32_t **pairs,
                   int64_t *n, struct gnn_error *err)
{
    FILE *f;
    char line[256];
    int32_t *a = NULL;
    int64_t cap = 0, cnt = 0, no = 0;
    int ret = open_file(path, &f, err);

    *pairs = NULL;
    *n = 0;
    if (ret != 0)
        return ret;
    while (fgets(line, sizeof(line), f) != NULL) {
        const char *s = line + strspn(line, " \t");
        no++;
        if (*s == '#' || *s == '\n' || *s == '\r' || *s == '\0')
            continue;
        if (grow((void **)&a, &cap, 2 * cnt + 2, sizeof(*a)) != 0) {
            ret = gnn_error_set(err, GNN_ENOMEM, "cannot allocate pairs");
            goto out;
        }
        ret = parse_pair(s, n_items, a + 2 * cnt);
        if (ret == GNN_ERANGE) {
            ret = gnn_error_set(err, ret, "%s:%lld: item id outside 0..%d",
                                path, (long long)no, n_items - 1);
            goto out;
        }
        if (ret != 0) {
            ret = gnn_error_set(err, ret, "%s:%lld: expected 'i j'", path,
                                (long long)no);
            goto out;
        }
        cnt++;
    }
    if (ferror(f)) {
        ret = gnn_error_set(err, GNN_EIO, "cannot read %s", path);
        goto out;
    }
    *pairs = a;
    *n = cnt;
    a = NULL;
out:
    free(a);
    fclose(f);
    return ret;
}

/* -------------------------------------------------------- categories */

struct name {
    char *text;
    int32_t id;
};

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const struct name *)a)->text,
                  ((const struct name *)b)->text);
}

/* Number names in order of first appearance; names sorted by text. */
static int32_t number_names(struct name *names, int64_t n, int32_t *cat)
{
    int32_t *first = malloc((size_t)(n + 1) * sizeof(*first));
    int32_t k = 0;

    if (first == NULL)
        return -1;
    qsort(names, (size_t)n, sizeof(*names), cmp_name);
    /* names[q].id is the item; give each run of equal names the id of
     * its lowest item, then renumber those lowest items in item order. */
    for (int64_t q = 0; q < n; q++) {
        int64_t r = q;
        int32_t low = names[q].id;
        while (r + 1 < n && strcmp(names[r + 1].text, names[q].text) == 0)
            low = names[++r].id < low ? names[r].id : low;
        for (int64_t t = q; t <= r; t++)
            cat[names[t].id] = low;
        q = r;
    }
    for (int64_t i = 0; i < n; i++)
        first[i] = -1;
    for (int64_t i = 0; i < n; i++) {
        if (cat[i] < 0)
            continue;
        if (first[cat[i]] < 0)
            first[cat[i]] = k++;
        cat[i] = first[cat[i]];
    }
    free(first);
    return k;
}

int gnn_categories_load(const char *path, int32_t n_items, int32_t **cat,
                        int32_t *n_cats, struct gnn_error *err)
{
    FILE *f;
    char line[512];
    struct name *names = NULL;
    int64_t cap = 0, cnt = 0;
    int32_t *c = calloc((size_t)n_items + 1, sizeof(*c));
    int ret = c == NULL ? gnn_error_set(err, GNN_ENOMEM, "cannot allocate")
                        : open_file(path, &f, err);

    *cat = NULL;
    *n_cats = 0;
    if (ret != 0) {
        free(c);
        return ret;
    }
    for (int32_t i = 0; i < n_items; i++)
        c[i] = -1;
    for (int32_t i = 0; i < n_items && fgets(line, sizeof(line), f); i++) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0')
            continue;
        if (grow((void **)&names, &cap, cnt + 1, sizeof(*names)) != 0 ||
            (names[cnt].text = strdup(line)) == NULL) {
            ret = gnn_error_set(err, GNN_ENOMEM, "cannot allocate categories");
            goto out;
        }
        names[cnt].id = i;
        c[i] = 0;
        cnt++;
    }
    if (ferror(f)) {
        ret = gnn_error_set(err, GNN_EIO, "cannot read %s", path);
        goto out;
    }
    /* number_names works on item ids below cnt only when every item has
     * a name; map through a dense list of named items instead. */
    int32_t *tmp = malloc((size_t)(cnt + 1) * sizeof(*tmp));
    if (tmp == NULL) {
        ret = gnn_error_set(err, GNN_ENOMEM, "cannot allocate categories");
        goto out;
    }
    int32_t *item_of = malloc((size_t)(cnt + 1) * sizeof(*item_of));
    if (item_of == NULL) {
        free(tmp);
        ret = gnn_error_set(err, GNN_ENOMEM, "cannot allocate categories");
        goto out;
    }
    for (int64_t q = 0; q < cnt; q++) {
        item_of[q] = names[q].id;
        names[q].id = (int32_t)q;
        tmp[q] = 0;
    }
    int32_t k = number_names(names, cnt, tmp);
    for (int64_t q = 0; q < cnt; q++)
        c[item_of[q]] = tmp[q];
    free(tmp);
    free(item_of);
    if (k < 0) {
        ret = gnn_error_set(err, GNN_ENOMEM, "cannot allocate categories");
        goto out;
    }
    *cat = c;
    *n_cats = k;
    c = NULL;
out:
    for (int64_t q = 0; q < cnt; q++)
        free(names[q].text);
    free(names);
    free(c);
    fclose(f);
    return ret;
}
