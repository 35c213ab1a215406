#include "gnn_data.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void gnn_interactions_init(struct gnn_interactions *x)
{
    memset(x, 0, sizeof(*x));
}

void gnn_interactions_free(struct gnn_interactions *x)
{
    free(x->user);
    free(x->item);
    free(x->weight);
    free(x->time);
    gnn_interactions_init(x);
}

int gnn_interactions_resize(struct gnn_interactions *x, int64_t cap)
{
    int32_t *user = realloc(x->user, (size_t)cap * sizeof(*user));
    if (user == NULL)
        return -1;
    x->user = user;
    int32_t *item = realloc(x->item, (size_t)cap * sizeof(*item));
    if (item == NULL)
        return -1;
    x->item = item;
    float *weight = realloc(x->weight, (size_t)cap * sizeof(*weight));
    if (weight == NULL)
        return -1;
    x->weight = weight;
    int64_t *time = realloc(x->time, (size_t)cap * sizeof(*time));
    if (time == NULL)
        return -1;
    x->time = time;
    x->cap = cap;
    return 0;
}

static int grow(struct gnn_interactions *x, struct gnn_error *err)
{
    int64_t cap = x->cap ? x->cap * 2 : 1024;
    int32_t *user = realloc(x->user, (size_t)cap * sizeof(*user));
    if (user != NULL)
        x->user = user;
    int32_t *item = realloc(x->item, (size_t)cap * sizeof(*item));
    if (item != NULL)
        x->item = item;
    float *weight = realloc(x->weight, (size_t)cap * sizeof(*weight));
    if (weight != NULL)
        x->weight = weight;
    int64_t *time = realloc(x->time, (size_t)cap * sizeof(*time));
    if (time != NULL)
        x->time = time;

    if (user == NULL || item == NULL || weight == NULL || time == NULL)
        return gnn_error_set(err, GNN_ENOMEM,
                             "cannot grow an interaction list to %lld entries",
                             (long long)cap);
    x->cap = cap;
    return 0;
}

int gnn_interactions_push(struct gnn_interactions *x, int32_t user,
                          int32_t item, float weight, int64_t time,
                          struct gnn_error *err)
{
    if (user < 0 || item < 0 || user == INT32_MAX || item == INT32_MAX)
        return gnn_error_set(err, GNN_ERANGE, "id out of range (%d, %d)", user,
                             item);
    if (x->n == x->cap) {
        int ret = grow(x, err);
        if (ret != 0)
            return ret;
    }

    x->user[x->n] = user;
    x->item[x->n] = item;
    x->weight[x->n] = weight;
    x->time[x->n] = time;
    x->n++;
    if (user >= x->n_users)
        x->n_users = user + 1;
    if (item >= x->n_items)
        x->n_items = item + 1;
    return 0;
}

/* Parse a non-negative id at *p, advancing *p past it; -1 if none. */
static int64_t parse_id(const char **p)
{
    const char *s = *p;
    int64_t v = 0;

    if (*s < '0' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (*s - '0');
        if (v >= INT32_MAX)
            return -2;
    }
    *p = s;
    return v;
}

static int parse_split_line(const char *path, long lineno, const char *line,
                            struct gnn_interactions *out, struct gnn_error *err)
{
    const char *p = line;
    int64_t user = -1;

    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (*p == '\0')
            break;

        int64_t id = parse_id(&p);
        if (id == -2)
            return gnn_error_set(err, GNN_ERANGE, "%s:%ld: id too large", path,
                                 lineno);
        if (id < 0 ||
            (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n'))
            return gnn_error_set(err, GNN_EFORMAT,
                                 "%s:%ld: expected non-negative integer ids",
                                 path, lineno);
        if (user < 0) {
            user = id;
            continue;
        }
        int ret = gnn_interactions_push(out, (int32_t)user, (int32_t)id, 1.0f,
                                        0, err);
        if (ret != 0)
            return ret;
    }

    /* A user with no items still counts, so that its row exists. */
    if (user >= out->n_users)
        out->n_users = (int32_t)user + 1;
    return 0;
}

int gnn_split_load(const char *path, struct gnn_interactions *out,
                   struct gnn_error *err)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    int ret = 0;

    if (f == NULL)
        return gnn_error_set(err, errno == ENOENT ? GNN_ENOENT : GNN_EIO,
                             "cannot open '%s': %s", path, strerror(errno));

    /*
     * An empty list gets room for the file at 4 bytes an id up front:
     * growing by doubling copies the list at each step and, below the
     * allocator's mmap threshold, leaves the old blocks resident. Pages
     * never written cost nothing, and the list is cut to size at the end.
     */
    struct stat st;
    if (out->cap == 0 && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode))
        gnn_interactions_resize(out, (int64_t)(st.st_size / 4) + 1024);

    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        ret = parse_split_line(path, lineno, line, out, err);
        if (ret != 0)
            break;
    }
    if (ret == 0 && ferror(f))
        ret = gnn_error_set(err, GNN_EIO, "cannot read '%s'", path);
    if (out->cap > out->n + 1024)
        gnn_interactions_resize(
            out, out->n + 1024); /* a failed shrink keeps the room */

    free(line);
    fclose(f);
    return ret;
}

static int load_optional(const char *dir, const char *name,
                         struct gnn_interactions *out, struct gnn_error *err)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int ret = gnn_split_load(path, out, err);
    if (ret == GNN_ENOENT) {
        gnn_error_clear(err);
        return 0;
    }
    return ret;
}

int gnn_dataset_load_splits(const char *dir, struct gnn_dataset *ds,
                            struct gnn_error *err)
{
    char path[4096];
    int ret;

    memset(ds, 0, sizeof(*ds));
    snprintf(path, sizeof(path), "%s/train.txt", dir);
    ret = gnn_split_load(path, &ds->train, err);
    if (ret == 0)
        ret = load_optional(dir, "valid.txt", &ds->valid, err);
    if (ret == 0)
        ret = load_optional(dir, "test.txt", &ds->test, err);
    if (ret != 0) {
        gnn_dataset_free(ds);
        return ret;
    }

    const struct gnn_interactions *parts[] = {&ds->train, &ds->valid,
                                              &ds->test};
    for (int i = 0; i < 3; i++) {
        if (parts[i]->n_users > ds->n_users)
            ds->n_users = parts[i]->n_users;
        if (parts[i]->n_items > ds->n_items)
            ds->n_items = parts[i]->n_items;
    }
    return 0;
}

void gnn_dataset_free(struct gnn_dataset *ds)
{
    gnn_interactions_free(&ds->train);
    gnn_interactions_free(&ds->valid);
    gnn_interactions_free(&ds->test);
    ds->n_users = 0;
    ds->n_items = 0;
}
