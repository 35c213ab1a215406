/*
 * Event files and what is done with interactions that carry a time (see
 * gnn_events.h).
 */
#include "gnn_events.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The type named by the len bytes at p, or -1. */
static int type_of(const char *p, size_t len)
{
    char name[16];

    if (len == 0 || len >= sizeof(name))
        return -1;
    memcpy(name, p, len);
    name[len] = '\0';
    return gnn_event_type_parse(name);
}

void gnn_split_counts(int64_t n, double valid_frac, double test_frac,
                      int64_t *n_valid, int64_t *n_test)
{
    int64_t v = 0, t = 0;

    if (n >= 3) {
        if (test_frac > 0)
            t = (int64_t)floor((double)n * test_frac);
        if (test_frac > 0 && t < 1)
            t = 1;
        if (valid_frac > 0)
            v = (int64_t)floor((double)n * valid_frac);
        if (valid_frac > 0 && v < 1)
            v = 1;
        while (v + t > n - 1) {
            if (v > 0 && v >= t)
                v--;
            else
                t--;
        }
    }
    *n_valid = v;
    *n_test = t;
}

/* ------------------------------------------------------ weights */

void gnn_event_weights_default(struct gnn_event_weights *w)
{
    w->type_weight[GNN_EVENT_VIEW] = 1;
    w->type_weight[GNN_EVENT_CLICK] = 2;
    w->type_weight[GNN_EVENT_CART] = 3;
    w->type_weight[GNN_EVENT_PURCHASE] = 5;
    w->rating_threshold = 4;
    w->rating_weight = 2;
    w->rating_negative = -0.5f;
    w->half_life = 0;
    w->now = 0;
}

float gnn_event_weight(const struct gnn_event_weights *w,
                       enum gnn_event_type type, float value)
{
    if (type != GNN_EVENT_RATING)
        return (unsigned)type < 4 ? w->type_weight[type] : 0;
    if (value >= w->rating_threshold)
        return w->rating_weight * (value - w->rating_threshold + 1);
    return w->rating_negative * (w->rating_threshold - value);
}

/* ------------------------------------------------------ aggregation */

struct entry {
    int32_t user;
    int32_t item;
    float weight;
    int64_t time;
};

static int entry_user_item_cmp(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;

    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    if (x->item != y->item)
        return x->item < y->item ? -1 : 1;
    return (x->time > y->time) - (x->time < y->time);
}

static int entry_user_time_cmp(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;

    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

/* x as an array of entries (freed by the caller), or NULL. */
static struct entry *entries_of(const struct gnn_interactions *x)
{
    struct entry *e = malloc((size_t)(x->n ? x->n : 1) * sizeof(*e));

    if (e == NULL)
        return NULL;
    for (int64_t k = 0; k < x->n; k++)
        e[k] = (struct entry){x->user[k], x->item[k], x->weight[k], x->time[k]};
    return e;
}

static int entry_less(const struct entry *a, const struct entry *b)
{
    return entry_user_item_cmp(a, b) < 0;
}

static void entry_swap(struct entry *a, struct entry *b)
{
    struct entry t = *a;
    *a = *b;
    *b = t;
}

static void sift(struct entry *e, int64_t n, int64_t i)
{
    for (;;) {
        int64_t l = 2 * i + 1, m = i;
        if (l < n && entry_less(&e[m], &e[l]))
            m = l;
        if (l + 1 < n && entry_less(&e[m], &e[l + 1]))
            m = l + 1;
        if (m == i)
            return;
        entry_swap(&e[i], &e[m]);
        i = m;
    }
}

/*
 * In-place sort by (user, item, time): quicksort with a median of three,
 * recursing into the smaller side, heapsort when the depth runs out,
 * insertion sort for short runs. Unlike glibc's qsort, which takes a
 * buffer as large as the array, it needs no memory beyond the array.
 */
static void sort_entries(struct entry *e, int64_t n, int depth)
{
    while (n > 16) {
        if (depth-- == 0) {
            for (int64_t i = n / 2 - 1; i >= 0; i--)
                sift(e, n, i);
            for (int64_t i = n - 1; i > 0; i--) {
                entry_swap(&e[0], &e[i]);
                sift(e, i, 0);
            }
            return;
        }
        int64_t mid = n / 2;
        if (entry_less(&e[mid], &e[0]))
            entry_swap(&e[mid], &e[0]);
        if (entry_less(&e[n - 1], &e[0]))
            entry_swap(&e[n - 1], &e[0]);
        if (entry_less(&e[n - 1], &e[mid]))
            entry_swap(&e[n - 1], &e[mid]);
        struct entry pivot = e[mid];
        int64_t i = 0, j = n - 1;
        for (;;) {
            while (entry_less(&e[i], &pivot))
                i++;
            while (entry_less(&pivot, &e[j]))
                j--;
            if (i >= j)
                break;
            entry_swap(&e[i++], &e[j--]);
        }
        /* [0, j] and [j + 1, n): recurse into the smaller one. */
        if (j + 1 < n - j - 1) {
            sort_entries(e, j + 1, depth);
            e += j + 1;
            n -= j + 1;
        } else {
            sort_entries(e + j + 1, n - j - 1, depth);
            n = j + 1;
        }
    }
    for (int64_t i = 1; i < n; i++)
        for (int64_t k = i; k > 0 && entry_less(&e[k], &e[k - 1]); k--)
            entry_swap(&e[k], &e[k - 1]);
}

/* Entries moved from x at a time before x's arrays are shrunk. */
#define MOVE_CHUNK ((int64_t)1 << 20)

int gnn_interactions_aggregate(struct gnn_interactions *x,
                               struct gnn_error *err)
{
    int64_t n = x->n, m = 0;
    struct entry *e = malloc((size_t)(n ? n : 1) * sizeof(*e));

    if (e == NULL)
        return gnn_error_set(err, GNN_ENOMEM,
                             "cannot aggregate %lld interactions: no memory",
                             (long long)x->n);

    /*
     * Move the entries out from the end, shrinking x's arrays as they
     * empty, so that the peak is one copy of the list (24 bytes an
     * entry) rather than the list and its copy (44), and the sort
     * needs no buffer. A shrink that fails
     * only keeps memory longer.
     */
    for (int64_t k = n; k > 0;) {
        int64_t lo = k > MOVE_CHUNK ? k - MOVE_CHUNK : 0;
        for (int64_t j = lo; j < k; j++)
            e[j] = (struct entry){x->user[j], x->item[j], x->weight[j],
                                  x->time[j]};
        k = lo;
        if (k >= MOVE_CHUNK)
            gnn_interactions_resize(x, k);
    }

    sort_entries(e, n, 2 * (int)log2((double)n + 1) + 2);
    for (int64_t k = 0; k < n; k++) {
        if (m > 0 && e[m - 1].user == e[k].user && e[m - 1].item == e[k].item) {
            e[m - 1].weight += e[k].weight;
            e[m - 1].time = e[k].time; /* sorted: the latest so far */
            continue;
        }
        e[m++] = e[k];
    }

    /* Exactly m entries back in x, the copy given back first. */
    struct entry *fit = realloc(e, (size_t)(m ? m : 1) * sizeof(*e));
    if (fit != NULL)
        e = fit;
    if (gnn_interactions_resize(x, m ? m : 1) != 0) {
        free(e);
        x->n = 0;
        return gnn_error_set(err, GNN_ENOMEM,
                             "cannot aggregate %lld interactions: no memory",
                             (long long)n);
    }
    for (int64_t k = 0; k < m; k++) {
        x->user[k] = e[k].user;
        x->item[k] = e[k].item;
        x->weight[k] = e[k].weight;
        x->time[k] = e[k].time;
    }
    x->n = m;
    free(e);
    return 0;
}

int gnn_interactions_split_by_time(const struct gnn_interactions *x,
                                   double valid_frac, double test_frac,
                                   struct gnn_interactions *train,
                                   struct gnn_interactions *valid,
                                   struct gnn_interactions *test,
                                   struct gnn_error *err)
{
    struct entry *e;
    int ret = 0;

    if (!(valid_frac >= 0 && valid_frac < 1 && test_frac >= 0 && test_frac < 1))
        return gnn_error_set(err, GNN_EINVAL,
                             "split fractions must be in [0, 1)");
    e = entries_of(x);
    if (e == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "split: no memory");
    qsort(e, (size_t)x->n, sizeof(*e), entry_user_time_cmp);

    for (int64_t a = 0; a < x->n && ret == 0;) {
        int64_t b = a, n_valid, n_test;
        while (b < x->n && e[b].user == e[a].user)
            b++;
        gnn_split_counts(b - a, valid_frac, test_frac, &n_valid, &n_test);
        for (int64_t k = a; k < b && ret == 0; k++) {
            struct gnn_interactions *to = k >= b - n_test             ? test
                                          : k >= b - n_test - n_valid ? valid
                                                                      : train;
            ret = gnn_interactions_push(to, e[k].user, e[k].item, e[k].weight,
                                        e[k].time, err);
        }
        a = b;
    }
    free(e);
    return ret;
}

/* ------------------------------------------------------ event files */

#define MAX_FIELDS 16

enum column { COL_USER, COL_ITEM, COL_TYPE, COL_VALUE, COL_TIME, N_COLS };

/* How the lines of one file are laid out. */
struct layout {
    char delim;
    int col[N_COLS]; /* field index of each column, or -1 */
    int n_fields;    /* fields a line must have */
};

struct field {
    const char *p;
    size_t len;
};

/* Split line at delim into f (at most MAX_FIELDS); returns the count. */
static int split_fields(const char *line, size_t len, char delim,
                        struct field *f)
{
    int n = 0;
    const char *p = line, *end = line + len;

    for (;;) {
        const char *q = memchr(p, delim, (size_t)(end - p));
        if (n == MAX_FIELDS)
            return MAX_FIELDS + 1;
        f[n].p = p;
        f[n].len = (size_t)((q ? q : end) - p);
        n++;
        if (q == NULL)
            return n;
        p = q + 1;
    }
}

static int field_is(const struct field *f, const char *name)
{
    size_t n = strlen(name);

    if (f->len != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = f->p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != name[i])
            return 0;
    }
    return 1;
}

/*
 * Column names of a header: the line is one when a field names the user
 * column. Returns -1 when it is not a header.
 */
static int header_layout(const struct field *f, int n, struct layout *lay)
{
    static const char *const names[N_COLS][2] = {
        {"user", "user_id"}, {"item", "item_id"},   {"type", "event"},
        {"value", "rating"}, {"timestamp", "time"},
    };

    for (int c = 0; c < N_COLS; c++)
        lay->col[c] = -1;
    for (int i = 0; i < n; i++) {
        for (int c = 0; c < N_COLS; c++) {
            if (field_is(&f[i], names[c][0]) || field_is(&f[i], names[c][1]))
                lay->col[c] = i;
        }
    }
    lay->n_fields = n;
    return lay->col[COL_USER] >= 0 ? 0 : -1;
}

/* A finite number filling the whole field. */
static int parse_number(const struct field *f, double *out)
{
    char buf[64], *end;

    if (f->len == 0 || f->len >= sizeof(buf))
        return -1;
    memcpy(buf, f->p, f->len);
    buf[f->len] = '\0';
    *out = strtod(buf, &end);
    return *end == '\0' && isfinite(*out) ? 0 : -1;
}

/* A non-negative integer filling the whole field (unix seconds). */
static int parse_time(const struct field *f, int64_t *out)
{
    int64_t v = 0;

    if (f->len == 0 || f->len > 18)
        return -1;
    for (size_t i = 0; i < f->len; i++) {
        if (f->p[i] < '0' || f->p[i] > '9')
            return -1;
        v = v * 10 + (f->p[i] - '0');
    }
    *out = v;
    return 0;
}

/* The reading state of one file. */
struct reader {
    const char *path;
    long lineno;
    const struct gnn_event_weights *w;
    struct layout lay;
    struct gnn_event_set *set;
    struct gnn_interactions raw;
    gnn_event_row_fn row_fn; /* gnn_events_scan: rows go here instead */
    void *row_ctx;
};

static int bad_line(struct reader *r, const char *what, struct gnn_error *err)
{
    return gnn_error_set(err, GNN_EFORMAT, "%s:%ld: %s", r->path, r->lineno,
                         what);
}

/* Type and rating of a row into *type and *value. */
static int row_kind(struct reader *r, const struct field *f, int *type,
                    double *value, struct gnn_error *err)
{
    const struct layout *lay = &r->lay;
    int tc = lay->col[COL_TYPE], vc = lay->col[COL_VALUE];
    int has_value = vc >= 0 && f[vc].len > 0;

    *value = 0;
    if (has_value && parse_number(&f[vc], value) != 0)
        return bad_line(r, "the value is not a number", err);
    if (tc >= 0 && f[tc].len > 0) {
        *type = type_of(f[tc].p, f[tc].len);
        if (*type < 0 && vc < 0 && parse_number(&f[tc], value) == 0)
            *type = GNN_EVENT_RATING; /* headerless: a rating */
        else if (*type < 0)
            return bad_line(r,
                            "unknown event type (expected view, click, "
                            "cart, purchase or rating)",
                            err);
        else if (*type == GNN_EVENT_RATING && !has_value)
            return bad_line(r, "a rating without a value", err);
        return 0;
    }
    if (!has_value)
        return bad_line(r, "neither an event type nor a rating", err);
    *type = GNN_EVENT_RATING;
    return 0;
}

static int read_row(struct reader *r, const struct field *f,
                    struct gnn_error *err)
{
    const struct layout *lay = &r->lay;
    const struct field *uf = &f[lay->col[COL_USER]];
    const struct field *itf = &f[lay->col[COL_ITEM]];
    int64_t time;
    double value;
    int type = 0;

    if (uf->len == 0 || itf->len == 0)
        return bad_line(r, "empty user or item id", err);
    if (parse_time(&f[lay->col[COL_TIME]], &time) != 0)
        return bad_line(r,
                        "the timestamp is not an integer of unix "
                        "seconds",
                        err);
    int ret = row_kind(r, f, &type, &value, err);
    if (ret != 0)
        return ret;
    if (r->row_fn != NULL) {
        struct gnn_event_row row = {.user = uf->p,
                                    .user_len = uf->len,
                                    .item = itf->p,
                                    .item_len = itf->len,
                                    .type = (enum gnn_event_type)type,
                                    .value = value,
                                    .time = time,
                                    .line = r->lineno};
        return r->row_fn(r->row_ctx, &row);
    }

    int32_t u = gnn_idmap_get_or_add(r->set->users, uf->p, uf->len, NULL, err);
    if (u < 0)
        return u;
    int32_t i =
        gnn_idmap_get_or_add(r->set->items, itf->p, itf->len, NULL, err);
    if (i < 0)
        return i;
    r->set->n_events++;
    r->set->n_by_type[type]++;
    float weight =
        gnn_event_weight(r->w, (enum gnn_event_type)type, (float)value);
    return gnn_interactions_push(&r->raw, u, i, weight, time, err);
}

/* The first line: the delimiter, and a header or the first row. */
static int first_line(struct reader *r, char *line, size_t len,
                      struct gnn_error *err)
{
    struct field f[MAX_FIELDS + 1];

    r->lay.delim = memchr(line, '\t', len) ? '\t' : ',';
    int n = split_fields(line, len, r->lay.delim, f);
    if (n > MAX_FIELDS)
        return bad_line(r, "too many fields", err);
    if (header_layout(f, n, &r->lay) == 0) {
        if (r->lay.col[COL_ITEM] < 0 || r->lay.col[COL_TIME] < 0 ||
            (r->lay.col[COL_TYPE] < 0 && r->lay.col[COL_VALUE] < 0))
            return bad_line(r,
                            "the header needs user, item, timestamp and "
                            "type or value columns",
                            err);
        return 0;
    }

    /* No header: user, item, type_or_rating, timestamp. */
    r->lay.col[COL_USER] = 0;
    r->lay.col[COL_ITEM] = 1;
    r->lay.col[COL_TYPE] = 2;
    r->lay.col[COL_VALUE] = -1;
    r->lay.col[COL_TIME] = 3;
    r->lay.n_fields = 4;
    if (n != 4)
        return bad_line(r, "expected user, item, type or rating, timestamp",
                        err);
    return read_row(r, f, err);
}

static int read_line(struct reader *r, char *line, size_t len,
                     struct gnn_error *err)
{
    struct field f[MAX_FIELDS + 1];

    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    if (len == 0)
        return 0; /* blank lines are allowed anywhere */
    if (memchr(line, '\0', len) != NULL)
        return bad_line(r, "a NUL byte", err);
    if (r->lay.delim == 0)
        return first_line(r, line, len, err);

    int n = split_fields(line, len, r->lay.delim, f);
    if (n != r->lay.n_fields) {
        char what[64];
        snprintf(what, sizeof(what), "%d fields, expected %d", n,
                 r->lay.n_fields);
        return bad_line(r, what, err);
    }
    return read_row(r, f, err);
}

/* Multiply each weight by 0.5^((now - t) / half_life). */
static void decay(struct gnn_interactions *x, const struct gnn_event_weights *w)
{
    int64_t now = w->now;

    if (!(w->half_life > 0))
        return;
    if (now == 0) {
        for (int64_t k = 0; k < x->n; k++)
            now = x->time[k] > now ? x->time[k] : now;
    }
    for (int64_t k = 0; k < x->n; k++) {
        double age = (double)(now - x->time[k]);
        x->weight[k] *= (float)exp2(-age / w->half_life);
    }
}

/*
 * Room for as many events as the file could hold at 16 bytes a line, so
 * that the list does not grow by doubling: each step would copy it and,
 * below the allocator's mmap threshold, leave the old block resident.
 * Pages never written cost nothing; lines shorter than that only fall
 * back to doubling.
 */
static void presize(FILE *f, struct gnn_interactions *x)
{
    struct stat st;

    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
        return;
    int64_t cap = (int64_t)(st.st_size / 16) + 1024;
    gnn_interactions_resize(x, cap);
}

void gnn_event_set_free(struct gnn_event_set *set)
{
    gnn_idmap_free(set->users);
    gnn_idmap_free(set->items);
    gnn_interactions_free(&set->x);
    memset(set, 0, sizeof(*set));
}

int gnn_events_load(const char *path, const struct gnn_event_weights *w,
                    struct gnn_event_set *out, struct gnn_error *err)
{
    struct gnn_event_weights defaults;
    struct reader r;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    FILE *f;
    int ret;

    memset(out, 0, sizeof(*out));
    if (w == NULL) {
        gnn_event_weights_default(&defaults);
        w = &defaults;
    }
    f = fopen(path, "r");
    if (f == NULL)
        return gnn_error_set(err, errno == ENOENT ? GNN_ENOENT : GNN_EIO,
                             "cannot open '%s': %s", path, strerror(errno));

    memset(&r, 0, sizeof(r));
    r.path = path;
    r.w = w;
    r.set = out;
    gnn_interactions_init(&r.raw);
    presize(f, &r.raw);
    ret = gnn_idmap_new(&out->users, err);
    if (ret == 0)
        ret = gnn_idmap_new(&out->items, err);
    while (ret == 0 && (len = getline(&line, &cap, f)) >= 0) {
        r.lineno++;
        ret = read_line(&r, line, (size_t)len, err);
    }
    if (ret == 0 && ferror(f))
        ret = gnn_error_set(err, GNN_EIO, "cannot read '%s'", path);

    if (ret == 0) {
        decay(&r.raw, w);
        ret = gnn_interactions_aggregate(&r.raw, err);
    }
    if (ret == 0) {
        out->x = r.raw;
        gnn_interactions_init(&r.raw);
    }

    gnn_interactions_free(&r.raw);
    free(line);
    fclose(f);
    if (ret != 0)
        gnn_event_set_free(out);
    return ret;
}

int gnn_events_scan(const char *path, gnn_event_row_fn fn, void *ctx,
                    struct gnn_error *err)
{
    struct reader r;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int ret = 0;
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return gnn_error_set(err, errno == ENOENT ? GNN_ENOENT : GNN_EIO,
                             "cannot open '%s': %s", path, strerror(errno));

    memset(&r, 0, sizeof(r));
    r.path = path;
    r.row_fn = fn;
    r.row_ctx = ctx;
    while (ret == 0 && (len = getline(&line, &cap, f)) >= 0) {
        r.lineno++;
        ret = read_line(&r, line, (size_t)len, err);
    }
    if (ret == 0 && ferror(f))
        ret = gnn_error_set(err, GNN_EIO, "cannot read '%s'", path);

    free(line);
    fclose(f);
    return ret;
}
