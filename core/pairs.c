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

/* ------------------------------------------------------- from events */

struct id_entry {
    char *text;
    int32_t id;
};

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct id_entry *)a)->text,
                  ((const struct id_entry *)b)->text);
}

struct id_table {
    struct id_entry *e;
    int64_t n;
};

static void ids_free(struct id_table *t)
{
    for (int64_t q = 0; q < t->n; q++)
        free(t->e[q].text);
    free(t->e);
    memset(t, 0, sizeof(*t));
}

/* DIR/NAME: one external id per line, line q being dense id q. */
static int ids_load(const char *dir, const char *name, struct id_table *t,
                    struct gnn_error *err)
{
    char path[4096], line[512];
    int64_t cap = 0;
    FILE *f;
    int ret;

    memset(t, 0, sizeof(*t));
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    ret = open_file(path, &f, err);
    if (ret != 0)
        return ret;
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (grow((void **)&t->e, &cap, t->n + 1, sizeof(*t->e)) != 0 ||
            (t->e[t->n].text = strdup(line)) == NULL) {
            fclose(f);
            ids_free(t);
            return gnn_error_set(err, GNN_ENOMEM, "cannot allocate ids");
        }
        t->e[t->n].id = (int32_t)t->n;
        t->n++;
    }
    fclose(f);
    qsort(t->e, (size_t)t->n, sizeof(*t->e), cmp_entry);
    return 0;
}

static int32_t ids_find(const struct id_table *t, char *text)
{
    struct id_entry key = {text, 0};
    const struct id_entry *e =
        bsearch(&key, t->e, (size_t)t->n, sizeof(*t->e), cmp_entry);
    return e != NULL ? e->id : -1;
}

struct event {
    int32_t user, item;
    int64_t time;
    int strong; /* cart or purchase */
};

static int cmp_event(const void *a, const void *b)
{
    const struct event *x = a, *y = b;
    if (x->user != y->user)
        return (x->user > y->user) - (x->user < y->user);
    return (x->time > y->time) - (x->time < y->time);
}

static int cmp_pair(const void *a, const void *b)
{
    const int32_t *x = a, *y = b;
    if (x[0] != y[0])
        return (x[0] > y[0]) - (x[0] < y[0]);
    return (x[1] > y[1]) - (x[1] < y[1]);
}

/* Columns of the header line: user, item, type, timestamp. */
static int header_columns(char *line, int *col)
{
    static const char *const names[4] = {"user", "item", "type", "timestamp"};
    int k = 0;

    col[0] = col[1] = col[2] = col[3] = -1;
    for (char *tok = strtok(line, ",\r\n"); tok; tok = strtok(NULL, ",\r\n")) {
        for (int q = 0; q < 4; q++) {
            if (strcmp(tok, names[q]) == 0)
                col[q] = k;
        }
        k++;
    }
    return col[0] < 0 || col[1] < 0 || col[2] < 0 || col[3] < 0 ? -1 : 0;
}

/* One data line into e; 1 when kept, 0 when skipped. */
static int parse_event(char *line, const int *col, const struct id_table *u,
                       const struct id_table *it, struct event *e)
{
    char *f[16];
    int n = 0;

    for (char *p = line; n < 16;) {
        f[n++] = p;
        p = strchr(p, ',');
        if (p == NULL)
            break;
        *p++ = '\0';
    }
    for (int q = 0; q < 4; q++) {
        if (col[q] >= n)
            return 0;
    }
    f[col[3]][strcspn(f[col[3]], "\r\n")] = '\0';
    e->user = ids_find(u, f[col[0]]);
    e->item = ids_find(it, f[col[1]]);
    e->time = strtoll(f[col[3]], NULL, 10);
    e->strong =
        strcmp(f[col[2]], "cart") == 0 || strcmp(f[col[2]], "purchase") == 0;
    return e->user >= 0 && e->item >= 0;
}

static int read_events(const char *dir, const struct id_table *u,
                       const struct id_table *it, struct event **out,
                       int64_t *n_out, struct gnn_error *err)
{
    char path[4096], line[1024];
    struct event *ev = NULL;
    int64_t cap = 0, n = 0;
    int col[4];
    FILE *f;
    int ret;

    snprintf(path, sizeof(path), "%s/events.csv", dir);
    ret = open_file(path, &f, err);
    if (ret != 0)
        return ret;
    if (fgets(line, sizeof(line), f) == NULL || header_columns(line, col)) {
        fclose(f);
        return gnn_error_set(err, GNN_EFORMAT,
                             "%s:1: expected a header with user, item, "
                             "type, timestamp",
                             path);
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (grow((void **)&ev, &cap, n + 1, sizeof(*ev)) != 0) {
            free(ev);
            fclose(f);
            return gnn_error_set(err, GNN_ENOMEM, "cannot allocate events");
        }
        n += parse_event(line, col, u, it, &ev[n]);
    }
    fclose(f);
    *out = ev;
    *n_out = n;
    return 0;
}

/*
 * Pairs of one user's time-ordered events ev[0..n-1]: a cart or purchase
 * of i, then any event of j != i more than gap and at most window
 * seconds later, both among the user's training items.
 */
static int user_pairs(const struct event *ev, int64_t n,
                      const struct gnn_csr *ui, int64_t gap, int64_t window,
                      int32_t **pairs, int64_t *cnt, int64_t *cap)
{
    int32_t u = ev[0].user;

    for (int64_t a = 0; a < n; a++) {
        if (!ev[a].strong || u >= ui->n_rows || !gnn_csr_has(ui, u, ev[a].item))
            continue;
        for (int64_t b = a + 1; b < n && ev[b].time <= ev[a].time + window;
             b++) {
            if (ev[b].time <= ev[a].time + gap || ev[b].item == ev[a].item ||
                !gnn_csr_has(ui, u, ev[b].item))
                continue;
            if (grow((void **)pairs, cap, 2 * *cnt + 2, sizeof(**pairs)) != 0)
                return -1;
            (*pairs)[2 * *cnt] = ev[a].item;
            (*pairs)[2 * *cnt + 1] = ev[b].item;
            (*cnt)++;
        }
    }
    return 0;
}

/* Sort pairs [from, cnt) and drop repeats; returns the new count. */
static int64_t dedupe(int32_t *p, int64_t from, int64_t cnt)
{
    int64_t w = from;

    qsort(p + 2 * from, (size_t)(cnt - from), 2 * sizeof(*p), cmp_pair);
    for (int64_t q = from; q < cnt; q++) {
        if (w > from && p[2 * w - 2] == p[2 * q] &&
            p[2 * w - 1] == p[2 * q + 1])
            continue;
        p[2 * w] = p[2 * q];
        p[2 * w + 1] = p[2 * q + 1];
        w++;
    }
    return w;
}

int gnn_pairs_from_events(const char *dir, const struct gnn_csr *ui,
                          int64_t gap, int64_t window, int32_t **pairs,
                          int64_t *n, struct gnn_error *err)
{
    struct id_table users = {0}, items = {0};
    struct event *ev = NULL;
    int32_t *p = NULL;
    int64_t n_ev = 0, cnt = 0, cap = 0;
    int ret;

    *pairs = NULL;
    *n = 0;
    ret = ids_load(dir, "users.txt", &users, err);
    if (ret == 0)
        ret = ids_load(dir, "items.txt", &items, err);
    if (ret == 0)
        ret = read_events(dir, &users, &items, &ev, &n_ev, err);
    if (ret != 0)
        goto out;
    qsort(ev, (size_t)n_ev, sizeof(*ev), cmp_event);
    for (int64_t a = 0; a < n_ev;) {
        int64_t b = a, from = cnt;
        while (b < n_ev && ev[b].user == ev[a].user)
            b++;
        if (user_pairs(ev + a, b - a, ui, gap, window, &p, &cnt, &cap) != 0) {
            ret = gnn_error_set(err, GNN_ENOMEM, "cannot allocate pairs");
            goto out;
        }
        cnt = dedupe(p, from, cnt); /* one vote per user and pair */
        a = b;
    }
    *pairs = p;
    *n = cnt;
    p = NULL;
out:
    free(p);
    free(ev);
    ids_free(&users);
    ids_free(&items);
    return ret;
}
