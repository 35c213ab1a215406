/*
 * Synthetic e-commerce data set (see gnn_gen.h for the model).
 *
 * Two passes over the same deterministic simulation. The first runs the
 * users one after the other in blocks of about block_events events; each
 * block is sorted by time and spilled to a temporary run file, and the
 * runs are merged into events.csv in time order. The second replays each
 * user alone, start to end, and writes the per-user splits. Each user
 * draws from their own random stream, so both passes see the same events
 * without keeping them, and the output does not depend on the block size.
 */
#include "gnn_gen.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gnn_events.h"

#define DAY         86400
#define MAX_TASTE   3
#define MAX_PENDING 4
#define MAX_VIEWS   30
#define PATH_CAP    4096

/* ------------------------------------------------------ random numbers */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* splitmix64: one 64-bit word of state, a full-period stream. */
static uint64_t next_u64(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ull;
    return mix64(*s);
}

/* Uniform in [0, 1) with 53 random bits. */
static double u01(uint64_t *s)
{
    return (double)(next_u64(s) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [0, n), n > 0 (the modulo bias is below 2^-32). */
static uint64_t below(uint64_t *s, uint64_t n)
{
    return next_u64(s) % n;
}

static double exponential(uint64_t *s)
{
    return -log1p(-u01(s));
}

/* Standard normal by Box-Muller (one of the pair is thrown away). */
static double normal(uint64_t *s)
{
    double a = u01(s), b = u01(s);

    return sqrt(-2.0 * log1p(-a)) * cos(6.283185307179586 * b);
}

/* Index of the first entry of cum[0..n) above x * cum[n-1]. */
static int32_t pick_cum(const double *cum, int32_t n, double x)
{
    double target = x * cum[n - 1];
    int32_t lo = 0, hi = n - 1;

    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (cum[mid] > target)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* ------------------------------------------------------ the catalog */

struct catalog {
    int32_t n_items, n_cats;
    int32_t *cat_of;    /* n_items: category of each item */
    int32_t *cat_start; /* n_cats + 1: segment of each category in ... */
    int32_t *cat_items; /* n_items: items grouped by category */
    double *cat_cum;    /* n_items: cumulative popularity per segment */
    double *cats_cum;   /* n_cats: cumulative category sizes */
    double *all_cum;    /* n_items: cumulative popularity, item order */
    int32_t *accessory; /* n_items: the accessory of an anchor, or -1 */
    int32_t n_anchors;
};

static void catalog_free(struct catalog *c)
{
    free(c->cat_of);
    free(c->cat_start);
    free(c->cat_items);
    free(c->cat_cum);
    free(c->cats_cum);
    free(c->all_cum);
    free(c->accessory);
    memset(c, 0, sizeof(*c));
}

/* Popularity weights: a random rank per item, weight 1 / rank^zipf. */
static void assign_popularity(const struct gnn_gen_config *cfg, uint64_t *rng,
                              double *weight, int32_t *perm)
{
    int32_t n = cfg->n_items;

    for (int32_t i = 0; i < n; i++)
        perm[i] = i;
    for (int32_t i = n - 1; i > 0; i--) {
        int32_t j = (int32_t)below(rng, (uint64_t)i + 1);
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int32_t r = 0; r < n; r++)
        weight[perm[r]] = pow((double)r + 1.0, -cfg->zipf);
}

/* Items into categories of uneven size (weights 1/sqrt(rank)). */
static void assign_categories(struct catalog *c, uint64_t *rng)
{
    double acc = 0;

    for (int32_t k = 0; k < c->n_cats; k++) {
        acc += 1.0 / sqrt((double)k + 1.0);
        c->cats_cum[k] = acc;
    }
    for (int32_t i = 0; i < c->n_items; i++)
        c->cat_of[i] =
            i < c->n_cats ? i : pick_cum(c->cats_cum, c->n_cats, u01(rng));

    /* Counting sort of the items by category. */
    memset(c->cat_start, 0, ((size_t)c->n_cats + 1) * sizeof(int32_t));
    for (int32_t i = 0; i < c->n_items; i++)
        c->cat_start[c->cat_of[i] + 1]++;
    for (int32_t k = 0; k < c->n_cats; k++)
        c->cat_start[k + 1] += c->cat_start[k];
    int32_t *fill = c->accessory; /* scratch, overwritten below */
    memcpy(fill, c->cat_start, (size_t)c->n_cats * sizeof(int32_t));
    for (int32_t i = 0; i < c->n_items; i++)
        c->cat_items[fill[c->cat_of[i]]++] = i;
}

/* Anchors in even categories, each with an accessory in the next one. */
static void assign_pairs(struct catalog *c, const struct gnn_gen_config *cfg,
                         uint64_t *rng)
{
    double p = cfg->anchor_share;

    for (int32_t i = 0; i < c->n_items; i++)
        c->accessory[i] = -1;
    for (int32_t k = 0; k + 1 < c->n_cats; k += 2) {
        int32_t a0 = c->cat_start[k + 1], a1 = c->cat_start[k + 2];
        for (int32_t s = c->cat_start[k]; s < c->cat_start[k + 1]; s++) {
            if (u01(rng) >= p)
                continue;
            int32_t pick = pick_cum(c->cat_cum + a0, a1 - a0, u01(rng));
            c->accessory[c->cat_items[s]] = c->cat_items[a0 + pick];
            c->n_anchors++;
        }
    }
}

static int catalog_build(struct catalog *c, const struct gnn_gen_config *cfg,
                         struct gnn_error *err)
{
    size_t n = (size_t)cfg->n_items, k = (size_t)cfg->n_categories;
    uint64_t rng = mix64(cfg->seed ^ 0x63617461u); /* catalog stream */
    double *weight = malloc(n * sizeof(double));
    int32_t *perm = malloc(n * sizeof(int32_t));

    memset(c, 0, sizeof(*c));
    c->n_items = cfg->n_items;
    c->n_cats = cfg->n_categories;
    c->cat_of = malloc(n * sizeof(int32_t));
    c->cat_start = malloc((k + 1) * sizeof(int32_t));
    c->cat_items = malloc(n * sizeof(int32_t));
    c->cat_cum = malloc(n * sizeof(double));
    c->cats_cum = malloc(k * sizeof(double));
    c->all_cum = malloc(n * sizeof(double));
    c->accessory = malloc(n * sizeof(int32_t));
    if (weight == NULL || perm == NULL || c->cat_of == NULL ||
        c->cat_start == NULL || c->cat_items == NULL || c->cat_cum == NULL ||
        c->cats_cum == NULL || c->all_cum == NULL || c->accessory == NULL) {
        free(weight);
        free(perm);
        catalog_free(c);
        return gnn_error_set(err, GNN_ENOMEM, "gen: no memory for %zu items",
                             n);
    }

    assign_popularity(cfg, &rng, weight, perm);
    assign_categories(c, &rng);
    double acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc += weight[i];
        c->all_cum[i] = acc;
    }
    for (int32_t q = 0; q < c->n_cats; q++) {
        acc = 0;
        for (int32_t s = c->cat_start[q]; s < c->cat_start[q + 1]; s++) {
            acc += weight[c->cat_items[s]];
            c->cat_cum[s] = acc;
        }
    }
    assign_pairs(c, cfg, &rng);
    free(weight);
    free(perm);
    return 0;
}

/* An item of category k by popularity. */
static int32_t catalog_pick(const struct catalog *c, int32_t k, double x)
{
    int32_t a = c->cat_start[k], b = c->cat_start[k + 1];

    return c->cat_items[a + pick_cum(c->cat_cum + a, b - a, x)];
}

/* ------------------------------------------------------ users */

struct user {
    uint64_t rng;
    int64_t next_session; /* start of the next session; >= end: done */
    float gap_mean;       /* mean seconds between sessions */
    uint8_t n_taste;
    uint8_t n_pending;
    int32_t taste_cat[MAX_TASTE];
    float taste_cum[MAX_TASTE];
    int32_t pending_item[MAX_PENDING]; /* accessories to come back for */
    int64_t pending_due[MAX_PENDING];
};

struct event {
    int64_t time;
    int32_t user;
    int32_t item;
    uint8_t type;  /* enum gnn_event_type */
    uint8_t value; /* rating 1..5, or 0 */
};

/* Where the simulation sends events. */
struct sink {
    void (*emit)(struct sink *sink, const struct event *ev);
};

struct sim {
    const struct gnn_gen_config *cfg;
    const struct catalog *cat;
    int64_t end; /* no session starts at or after this time */
};

static void user_init(const struct sim *sim, int32_t uid, struct user *u)
{
    const struct gnn_gen_config *cfg = sim->cfg;
    int64_t span = (int64_t)cfg->days * DAY;
    double acc = 0;

    memset(u, 0, sizeof(*u));
    u->rng = mix64(cfg->seed ^ mix64((uint64_t)uid + 1));

    /* One to three liked categories with flat-Dirichlet weights. */
    u->n_taste = (uint8_t)(1 + (u01(&u->rng) < 0.5) + (u01(&u->rng) < 0.25));
    for (int t = 0; t < u->n_taste; t++) {
        u->taste_cat[t] =
            pick_cum(sim->cat->cats_cum, sim->cat->n_cats, u01(&u->rng));
        acc += exponential(&u->rng);
        u->taste_cum[t] = (float)acc;
    }

    /* Activity varies a lot between users: log-normal session counts. */
    double sessions =
        cfg->sessions_per_user * exp(0.7 * normal(&u->rng) - 0.245);
    if (sessions < 1)
        sessions = 1;
    u->next_session = cfg->start_time + (int64_t)(u01(&u->rng) * span * 0.5);
    u->gap_mean = (float)((double)(sim->end - u->next_session) / sessions);
}

static void emit(struct sink *sink, int32_t uid, int32_t item, int type,
                 int value, int64_t time)
{
    struct event ev;

    /* Zeroed whole: spilled runs write the padding to disk too. */
    memset(&ev, 0, sizeof(ev));
    ev.time = time;
    ev.user = uid;
    ev.item = item;
    ev.type = (uint8_t)type;
    ev.value = (uint8_t)value;
    sink->emit(sink, &ev);
}

static int rating_value(uint64_t *rng)
{
    static const double cum[5] = {0.03, 0.10, 0.25, 0.60, 1.0};
    double x = u01(rng);
    int r = 0;

    while (x >= cum[r])
        r++;
    return r + 1;
}

/* After buying item: maybe rate it, maybe plan to buy its accessory. */
static int64_t after_purchase(const struct sim *sim, struct user *u,
                              int32_t uid, int32_t item, int64_t t,
                              struct sink *sink)
{
    int32_t acc = sim->cat->accessory[item];

    if (acc >= 0 && u->n_pending < MAX_PENDING &&
        u01(&u->rng) < sim->cfg->follow_prob) {
        u->pending_item[u->n_pending] = acc;
        u->pending_due[u->n_pending] =
            t + DAY + (int64_t)(u01(&u->rng) * 9 * DAY);
        u->n_pending++;
    }
    if (u01(&u->rng) < 0.15) {
        t += 60 + (int64_t)below(&u->rng, 540);
        emit(sink, uid, item, GNN_EVENT_RATING, rating_value(&u->rng), t);
    }
    return t;
}

/*
 * One look at an item: a view, then a click, cart and purchase, each with
 * the given chance once the step before happened. Returns the time of the
 * last event.
 */
static int64_t look(const struct sim *sim, struct user *u, int32_t uid,
                    int32_t item, int64_t t, const double p[3],
                    struct sink *sink)
{
    t += 10 + (int64_t)below(&u->rng, 170);
    emit(sink, uid, item, GNN_EVENT_VIEW, 0, t);
    if (u01(&u->rng) >= p[0])
        return t;
    t += 5 + (int64_t)below(&u->rng, 55);
    emit(sink, uid, item, GNN_EVENT_CLICK, 0, t);
    if (u01(&u->rng) >= p[1])
        return t;
    t += 10 + (int64_t)below(&u->rng, 110);
    emit(sink, uid, item, GNN_EVENT_CART, 0, t);
    if (u01(&u->rng) >= p[2])
        return t;
    t += 30 + (int64_t)below(&u->rng, 270);
    emit(sink, uid, item, GNN_EVENT_PURCHASE, 0, t);
    return after_purchase(sim, u, uid, item, t, sink);
}

/* Accessories whose time has come are looked at first, eagerly. */
static int64_t pending_looks(const struct sim *sim, struct user *u, int32_t uid,
                             int64_t t, struct sink *sink)
{
    static const double eager[3] = {0.9, 0.75, 0.8};

    for (int k = 0; k < u->n_pending;) {
        if (u->pending_due[k] > t) {
            k++;
            continue;
        }
        int32_t item = u->pending_item[k];
        u->n_pending--;
        u->pending_item[k] = u->pending_item[u->n_pending];
        u->pending_due[k] = u->pending_due[u->n_pending];
        t = look(sim, u, uid, item, t, eager, sink);
    }
    return t;
}

/* The user's next session; sets next_session after it. */
static void session(const struct sim *sim, struct user *u, int32_t uid,
                    struct sink *sink)
{
    static const double casual[3] = {0.40, 0.35, 0.60};
    const struct catalog *cat = sim->cat;
    int64_t t = pending_looks(sim, u, uid, u->next_session, sink);
    int32_t k;

    if (u01(&u->rng) < 0.85) {
        float x = (float)u01(&u->rng) * u->taste_cum[u->n_taste - 1];
        int t_ix = 0;
        while (t_ix + 1 < u->n_taste && x >= u->taste_cum[t_ix])
            t_ix++;
        k = u->taste_cat[t_ix];
    } else {
        k = pick_cum(cat->cats_cum, cat->n_cats, u01(&u->rng));
    }

    double extra = sim->cfg->views_per_session - 1;
    int n_views = 1 + (int)(extra * exponential(&u->rng) + 0.5);
    if (n_views > MAX_VIEWS)
        n_views = MAX_VIEWS;
    for (int v = 0; v < n_views; v++) {
        int32_t item = u01(&u->rng) < 0.9
                           ? catalog_pick(cat, k, u01(&u->rng))
                           : pick_cum(cat->all_cum, cat->n_items, u01(&u->rng));
        t = look(sim, u, uid, item, t, casual, sink);
    }

    double gap = 1800 + (double)u->gap_mean * exponential(&u->rng);
    u->next_session = t + (int64_t)gap;
}

/* ------------------------------------------------------ text output */

struct out {
    FILE *f;
    char path[PATH_CAP];
};

static int out_open(struct out *o, const char *dir, const char *name,
                    struct gnn_error *err)
{
    snprintf(o->path, sizeof(o->path), "%s/%s", dir, name);
    o->f = fopen(o->path, "w");
    if (o->f == NULL)
        return gnn_error_set(err, GNN_EIO, "cannot create '%s': %s", o->path,
                             strerror(errno));
    setvbuf(o->f, NULL, _IOFBF, 1 << 20);
    return 0;
}

/* Close o; an earlier write error or a failing close is GNN_EIO. */
static int out_close(struct out *o, struct gnn_error *err)
{
    if (o->f == NULL)
        return 0;
    int bad = ferror(o->f);
    int e = errno;
    if (fclose(o->f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    o->f = NULL;
    if (bad)
        return gnn_error_set(err, GNN_EIO, "cannot write '%s': %s", o->path,
                             strerror(e));
    return 0;
}

/* Decimal digits of v at p; returns the end. */
static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

/* v with at least width digits, zero-padded. */
static char *put_padded(char *p, uint64_t v, int width)
{
    char tmp[24];
    char *e = put_u64(tmp, v);
    int n = (int)(e - tmp);

    for (; n < width; width--)
        *p++ = '0';
    memcpy(p, tmp, (size_t)n);
    return p + n;
}

static int digits(int64_t n)
{
    int d = 1;

    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

/* ------------------------------------------------------ pass 1: events */

/* A growable event buffer behind a sink. */
struct buf_sink {
    struct sink base;
    struct event *buf;
    size_t n, cap;
    int oom;
};

static void buf_emit(struct sink *sink, const struct event *ev)
{
    struct buf_sink *d = (struct buf_sink *)sink;

    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4096;
        struct event *buf = realloc(d->buf, cap * sizeof(*buf));
        if (buf == NULL) {
            d->oom = 1;
            return;
        }
        d->buf = buf;
        d->cap = cap;
    }
    d->buf[d->n++] = *ev;
}

/* A sink that only counts. */
struct count_sink {
    struct sink base;
    int64_t n;
};

static void count_emit(struct sink *sink, const struct event *ev)
{
    (void)ev;
    ((struct count_sink *)sink)->n++;
}

/* Time, then user: unique, since a user's events have distinct times. */
static int event_cmp(const void *a, const void *b)
{
    const struct event *x = a, *y = b;

    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return (x->user > y->user) - (x->user < y->user);
}

/*
 * Pass 1 simulates users one after the other into a block buffer of
 * about block_events events. A full block is sorted by time and written
 * to a temporary run file in the output folder; at the end the runs are
 * merged into events.csv. Memory is one block plus a read buffer per
 * run, whatever the number of users. A data set that fits one block is
 * written straight from the buffer.
 */
struct pass1 {
    struct sim sim;
    struct out events;
    uint8_t *seen; /* n_items flags: the item had an event */
    struct gnn_gen_stats *stats;
    int user_width, item_width;
    const char *dir;
    int n_runs;
    struct run *runs; /* n_runs open run files, being merged */
};

struct run {
    FILE *f;
    struct event head;
};

static void write_event(struct pass1 *p, const struct event *ev)
{
    char line[128], *q = line;
    const char *type = gnn_event_type_name((enum gnn_event_type)ev->type);

    *q++ = 'u';
    q = put_padded(q, (uint64_t)ev->user, p->user_width);
    memcpy(q, ",sku-", 5);
    q = put_padded(q + 5, (uint64_t)ev->item, p->item_width);
    *q++ = ',';
    size_t n = strlen(type);
    memcpy(q, type, n);
    q += n;
    *q++ = ',';
    if (ev->type == GNN_EVENT_RATING)
        *q++ = (char)('0' + ev->value);
    *q++ = ',';
    q = put_u64(q, (uint64_t)ev->time);
    *q++ = '\n';
    fwrite(line, 1, (size_t)(q - line), p->events.f);

    p->seen[ev->item] = 1;
    p->stats->n_events++;
    p->stats->n_by_type[ev->type]++;
}

static void run_path(char *path, size_t cap, const char *dir, int k)
{
    snprintf(path, cap, "%s/.events-run-%05d.tmp", dir, k);
}

/* Sort the block and append it as run number p->n_runs. */
static int flush_run(struct pass1 *p, struct buf_sink *d, struct gnn_error *err)
{
    struct out o;
    char name[32];
    int ret;

    snprintf(name, sizeof(name), ".events-run-%05d.tmp", p->n_runs);
    qsort(d->buf, d->n, sizeof(*d->buf), event_cmp);
    ret = out_open(&o, p->dir, name, err);
    if (ret != 0)
        return ret;
    fwrite(d->buf, sizeof(*d->buf), d->n, o.f);
    p->n_runs++;
    d->n = 0;
    return out_close(&o, err);
}

static int run_next(struct run *r)
{
    return fread(&r->head, sizeof(r->head), 1, r->f) == 1;
}

/* Heap order on the head events (a min-heap by time, then user). */
static void sift_down(struct run *h, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, m = i;
        if (l < n && event_cmp(&h[l].head, &h[m].head) < 0)
            m = l;
        if (l + 1 < n && event_cmp(&h[l + 1].head, &h[m].head) < 0)
            m = l + 1;
        if (m == i)
            return;
        struct run t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* Merge the run files into events.csv, removing them. */
static int merge_runs(struct pass1 *p, struct gnn_error *err)
{
    char path[PATH_CAP];
    int n = 0, ret = 0;

    p->runs = calloc((size_t)p->n_runs, sizeof(*p->runs));
    if (p->runs == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "gen: no memory for runs");
    for (int k = 0; k < p->n_runs && ret == 0; k++) {
        run_path(path, sizeof(path), p->dir, k);
        FILE *f = fopen(path, "rb");
        if (f == NULL) {
            ret = gnn_error_set(err, GNN_EIO, "cannot open '%s': %s", path,
                                strerror(errno));
            break;
        }
        setvbuf(f, NULL, _IOFBF, 1 << 15);
        p->runs[n].f = f;
        if (run_next(&p->runs[n]))
            n++;
        else
            fclose(f);
    }
    for (int i = n / 2 - 1; i >= 0 && ret == 0; i--)
        sift_down(p->runs, n, i);
    while (n > 0 && ret == 0) {
        write_event(p, &p->runs[0].head);
        if (!run_next(&p->runs[0])) {
            if (ferror(p->runs[0].f))
                ret = gnn_error_set(err, GNN_EIO, "cannot read a run file");
            fclose(p->runs[0].f);
            p->runs[0] = p->runs[--n];
        }
        sift_down(p->runs, n, 0);
    }
    for (int i = 0; i < n; i++)
        fclose(p->runs[i].f);
    free(p->runs);
    p->runs = NULL;
    return ret;
}

static void remove_runs(struct pass1 *p)
{
    char path[PATH_CAP];

    for (int k = 0; k < p->n_runs; k++) {
        run_path(path, sizeof(path), p->dir, k);
        remove(path);
    }
}

static size_t block_events(const struct gnn_gen_config *cfg)
{
    return cfg->block_events > 0 ? (size_t)cfg->block_events
                                 : (size_t)GNN_GEN_BLOCK_EVENTS;
}

static int pass_events(struct pass1 *p, gnn_gen_progress_fn progress, void *ctx,
                       struct gnn_error *err)
{
    const struct gnn_gen_config *cfg = p->sim.cfg;
    struct buf_sink d = {{buf_emit}, NULL, 0, 0, 0};
    int32_t step = cfg->n_users / 64 > 0 ? cfg->n_users / 64 : 1;
    size_t block = block_events(cfg);
    struct user u;
    int ret = 0;

    for (int32_t uid = 0; uid < cfg->n_users && ret == 0; uid++) {
        user_init(&p->sim, uid, &u);
        while (u.next_session < p->sim.end)
            session(&p->sim, &u, uid, &d.base);
        if (d.oom)
            ret = gnn_error_set(err, GNN_ENOMEM, "gen: no memory for a block");
        else if (d.n >= block)
            ret = flush_run(p, &d, err);
        if (ret == 0 && progress != NULL && (uid + 1) % step == 0 &&
            progress(ctx, "events", (double)(uid + 1) / cfg->n_users))
            ret = gnn_error_set(err, GNN_ECANCELED, "gen: canceled");
    }

    if (ret == 0)
        fputs("user,item,type,value,timestamp\n", p->events.f);
    if (ret == 0 && p->n_runs == 0) {
        qsort(d.buf, d.n, sizeof(*d.buf), event_cmp);
        for (size_t k = 0; k < d.n; k++)
            write_event(p, &d.buf[k]);
    } else if (ret == 0) {
        if (d.n > 0)
            ret = flush_run(p, &d, err);
        free(d.buf);
        d.buf = NULL;
        if (ret == 0)
            ret = merge_runs(p, err);
    }
    free(d.buf);
    remove_runs(p);
    return ret;
}

/* ------------------------------------------------------ pass 2: splits */

/* One distinct item of a user's history. */
struct agg {
    int32_t item;
    int64_t last;   /* latest event */
    int64_t bought; /* first purchase, or INT64_MAX */
};

static int agg_item_cmp(const void *a, const void *b)
{
    const struct event *x = a, *y = b;

    if (x->item != y->item)
        return x->item < y->item ? -1 : 1;
    return (x->time > y->time) - (x->time < y->time);
}

static int agg_time_cmp(const void *a, const void *b)
{
    const struct agg *x = a, *y = b;

    if (x->last != y->last)
        return x->last < y->last ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

struct pass2 {
    struct sim sim;
    const int32_t *dense; /* catalog item -> dense id */
    struct out train, valid, test, pairs;
    struct gnn_gen_stats *stats;
    struct agg *agg;
    size_t agg_cap;
};

/* Room for n entries in p->agg. */
static int agg_reserve(struct pass2 *p, size_t n)
{
    if (n <= p->agg_cap)
        return 0;
    struct agg *agg = realloc(p->agg, n * sizeof(*agg));
    if (agg == NULL)
        return -1;
    p->agg = agg;
    p->agg_cap = n;
    return 0;
}

/* Distinct items of the n events (sorted by item), by latest time. */
static size_t aggregate(struct pass2 *p, struct event *ev, size_t n)
{
    size_t m = 0;

    qsort(ev, n, sizeof(*ev), agg_item_cmp);
    for (size_t i = 0; i < n; i++) {
        if (m == 0 || p->agg[m - 1].item != ev[i].item)
            p->agg[m++] = (struct agg){ev[i].item, ev[i].time, INT64_MAX};
        struct agg *a = &p->agg[m - 1];
        a->last = ev[i].time;
        if (ev[i].type == GNN_EVENT_PURCHASE && ev[i].time < a->bought)
            a->bought = ev[i].time;
    }
    qsort(p->agg, m, sizeof(*p->agg), agg_time_cmp);
    return m;
}

static void write_split(struct out *o, int32_t uid, const struct agg *a,
                        size_t from, size_t to, const int32_t *dense)
{
    char num[24];

    if (from == to)
        return;
    fwrite(num, 1, (size_t)(put_u64(num, (uint64_t)uid) - num), o->f);
    for (size_t i = from; i < to; i++) {
        num[0] = ' ';
        char *e = put_u64(num + 1, (uint64_t)dense[a[i].item]);
        fwrite(num, 1, (size_t)(e - num), o->f);
    }
    fputc('\n', o->f);
}

/* Directed pair counts and the held-out anchor -> accessory pairs. */
static void user_pairs(struct pass2 *p, const struct agg *a, size_t m,
                       size_t test_from)
{
    const int32_t *acc = p->sim.cat->accessory;

    for (size_t i = 0; i < m; i++) {
        if (a[i].bought == INT64_MAX || acc[a[i].item] < 0)
            continue;
        for (size_t j = 0; j < m; j++) {
            if (a[j].item != acc[a[i].item])
                continue;
            if (a[j].bought != INT64_MAX) {
                if (a[i].bought < a[j].bought)
                    p->stats->pairs_forward++;
                else
                    p->stats->pairs_reverse++;
            }
            if (i < test_from && j >= test_from) {
                fprintf(p->pairs.f, "%d %d\n", p->dense[a[i].item],
                        p->dense[a[j].item]);
                p->stats->n_pairs_test++;
            }
        }
    }
}

static int pass_splits(struct pass2 *p, gnn_gen_progress_fn progress, void *ctx,
                       struct gnn_error *err)
{
    const struct gnn_gen_config *cfg = p->sim.cfg;
    struct buf_sink s = {{buf_emit}, NULL, 0, 0, 0};
    struct user u;
    int ret = 0;

    for (int32_t uid = 0; uid < cfg->n_users && ret == 0; uid++) {
        s.n = 0;
        user_init(&p->sim, uid, &u);
        while (u.next_session < p->sim.end)
            session(&p->sim, &u, uid, &s.base);
        if (s.oom || agg_reserve(p, s.n) != 0) {
            ret = gnn_error_set(err, GNN_ENOMEM, "gen: no memory");
            break;
        }

        size_t m = aggregate(p, s.buf, s.n);
        int64_t n_valid, n_test;
        gnn_split_counts((int64_t)m, cfg->valid_frac, cfg->test_frac, &n_valid,
                         &n_test);
        size_t t0 = m - (size_t)n_test, v0 = t0 - (size_t)n_valid;
        write_split(&p->train, uid, p->agg, 0, v0, p->dense);
        write_split(&p->valid, uid, p->agg, v0, t0, p->dense);
        write_split(&p->test, uid, p->agg, t0, m, p->dense);
        p->stats->n_train += (int64_t)v0;
        p->stats->n_valid += n_valid;
        p->stats->n_test += n_test;
        user_pairs(p, p->agg, m, t0);

        if (progress != NULL && (uid + 1) % 4096 == 0 &&
            progress(ctx, "splits", (double)(uid + 1) / cfg->n_users))
            ret = gnn_error_set(err, GNN_ECANCELED, "gen: canceled");
    }
    free(s.buf);
    return ret;
}

/* ------------------------------------------------------ driver */

void gnn_gen_config_default(struct gnn_gen_config *c)
{
    c->n_users = 5000;
    c->n_items = 2000;
    c->n_categories = 20;
    c->sessions_per_user = 8;
    c->views_per_session = 4;
    c->zipf = 1.0;
    c->anchor_share = 0.5;
    c->follow_prob = 0.7;
    c->days = 56;
    c->start_time = 1704067200; /* 2024-01-01T00:00:00Z */
    c->valid_frac = 0.1;
    c->test_frac = 0.2;
    c->seed = 42;
    c->block_events = 0;
}

int gnn_gen_config_check(const struct gnn_gen_config *c, struct gnn_error *err)
{
    const char *bad = NULL;

    if (c->n_users < 1)
        bad = "n_users must be at least 1";
    else if (c->n_items < 2 || c->n_items >= 100000000)
        bad = "n_items must be in 2 .. 99999999";
    else if (c->n_categories < 1 || c->n_categories > c->n_items ||
             c->n_categories > 10000)
        bad = "n_categories must be in 1 .. min(n_items, 10000)";
    else if (!(c->sessions_per_user > 0 && c->sessions_per_user <= 10000))
        bad = "sessions_per_user must be in (0, 10000]";
    else if (!(c->views_per_session >= 1 && c->views_per_session <= 30))
        bad = "views_per_session must be in [1, 30]";
    else if (!(c->zipf >= 0 && c->zipf <= 5))
        bad = "zipf must be in [0, 5]";
    else if (!(c->anchor_share >= 0 && c->anchor_share <= 1) ||
             !(c->follow_prob >= 0 && c->follow_prob <= 1))
        bad = "anchor_share and follow_prob must be in [0, 1]";
    else if (c->days < 1 || c->days > 3650)
        bad = "days must be in 1 .. 3650";
    else if (c->start_time < 0 || c->start_time > (int64_t)1 << 40)
        bad = "start_time must be a non-negative unix time";
    else if (!(c->valid_frac >= 0 && c->test_frac >= 0 &&
               c->valid_frac + c->test_frac < 1))
        bad = "valid_frac and test_frac must be >= 0 with a sum below 1";
    else if (c->block_events < 0)
        bad = "block_events must be >= 0";
    if (bad != NULL)
        return gnn_error_set(err, GNN_EINVAL, "gen: %s", bad);
    return 0;
}

int gnn_gen_config_for_events(struct gnn_gen_config *c, int64_t n_events,
                              struct gnn_error *err)
{
    struct count_sink count = {{count_emit}, 0};
    struct catalog cat;
    struct user u;
    int ret;

    if (n_events < 1 || n_events > GNN_GEN_MAX_EVENTS)
        return gnn_error_set(err, GNN_EINVAL,
                             "gen: the number of events must be in 1 .. %lld",
                             (long long)GNN_GEN_MAX_EVENTS);
    int64_t items =
        (n_events + GNN_GEN_EVENTS_PER_ITEM / 2) / GNN_GEN_EVENTS_PER_ITEM;
    c->n_items = items < 2 ? 2 : (int32_t)items;
    int64_t cats = (c->n_items + 50) / 100;
    cats = cats < 1 ? 1 : cats > 10000 ? 10000 : cats;
    c->n_categories = (int32_t)cats;
    c->n_users = 1;
    ret = gnn_gen_config_check(c, err);
    if (ret == 0)
        ret = catalog_build(&cat, c, err);
    if (ret != 0)
        return ret;

    /* Users do not depend on how many others there are: count them. */
    struct sim sim = {c, &cat, c->start_time + (int64_t)c->days * DAY};
    int32_t uid = 0;
    while (count.n < n_events && uid < INT32_MAX - 1) {
        user_init(&sim, uid, &u);
        while (u.next_session < sim.end)
            session(&sim, &u, uid, &count.base);
        uid++;
    }
    catalog_free(&cat);
    if (count.n < n_events)
        return gnn_error_set(err, GNN_ERANGE,
                             "gen: %lld events need too many users",
                             (long long)n_events);
    c->n_users = uid;
    return 0;
}

/* users.txt, items.txt and item_categories.txt; fills dense. */
static int write_id_files(const char *dir, const struct catalog *cat,
                          const struct pass1 *p1, int32_t *dense,
                          struct gnn_error *err)
{
    struct out users = {0}, items = {0}, cats = {0};
    char line[64];
    int ret = out_open(&users, dir, "users.txt", err);

    if (ret == 0)
        ret = out_open(&items, dir, "items.txt", err);
    if (ret == 0)
        ret = out_open(&cats, dir, "item_categories.txt", err);
    if (ret == 0) {
        for (int32_t u = 0; u < p1->sim.cfg->n_users; u++) {
            line[0] = 'u';
            char *e = put_padded(line + 1, (uint64_t)u, p1->user_width);
            *e++ = '\n';
            fwrite(line, 1, (size_t)(e - line), users.f);
        }
        int32_t next = 0;
        for (int32_t i = 0; i < cat->n_items; i++) {
            dense[i] = p1->seen[i] ? next++ : -1;
            if (!p1->seen[i])
                continue;
            memcpy(line, "sku-", 4);
            char *e = put_padded(line + 4, (uint64_t)i, p1->item_width);
            *e++ = '\n';
            fwrite(line, 1, (size_t)(e - line), items.f);
            fprintf(cats.f, "cat-%03d\n", cat->cat_of[i]);
        }
        p1->stats->n_items = next;
    }
    int r1 = out_close(&users, err), r2 = out_close(&items, err);
    int r3 = out_close(&cats, err);
    return ret != 0 ? ret : r1 != 0 ? r1 : r2 != 0 ? r2 : r3;
}

static int run_pass1(const char *dir, struct pass1 *p1,
                     gnn_gen_progress_fn progress, void *ctx,
                     struct gnn_error *err)
{
    const struct gnn_gen_config *cfg = p1->sim.cfg;
    int ret;

    p1->seen = calloc((size_t)cfg->n_items, 1);
    if (p1->seen == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "gen: no memory for %d items",
                             cfg->n_items);

    ret = out_open(&p1->events, dir, "events.csv", err);
    if (ret == 0)
        ret = pass_events(p1, progress, ctx, err);
    int r = out_close(&p1->events, err);
    return ret != 0 ? ret : r;
}

static int run_pass2(const char *dir, struct pass2 *p2,
                     gnn_gen_progress_fn progress, void *ctx,
                     struct gnn_error *err)
{
    int ret = out_open(&p2->train, dir, "train.txt", err);

    if (ret == 0)
        ret = out_open(&p2->valid, dir, "valid.txt", err);
    if (ret == 0)
        ret = out_open(&p2->test, dir, "test.txt", err);
    if (ret == 0)
        ret = out_open(&p2->pairs, dir, "pairs_test.txt", err);
    if (ret == 0)
        ret = pass_splits(p2, progress, ctx, err);

    struct out *outs[4] = {&p2->train, &p2->valid, &p2->test, &p2->pairs};
    for (int i = 0; i < 4; i++) {
        int r = out_close(outs[i], err);
        if (ret == 0)
            ret = r;
    }
    free(p2->agg);
    return ret;
}

int gnn_gen_write(const struct gnn_gen_config *cfg, const char *dir,
                  struct gnn_gen_stats *stats, gnn_gen_progress_fn progress,
                  void *ctx, struct gnn_error *err)
{
    struct gnn_gen_stats local;
    struct catalog cat;
    struct pass1 p1;
    int32_t *dense = NULL;
    int ret = gnn_gen_config_check(cfg, err);

    if (ret != 0)
        return ret;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return gnn_error_set(err, GNN_EIO, "cannot create '%s': %s", dir,
                             strerror(errno));
    if (stats == NULL)
        stats = &local;
    memset(stats, 0, sizeof(*stats));
    ret = catalog_build(&cat, cfg, err);
    if (ret != 0)
        return ret;

    int64_t end = cfg->start_time + (int64_t)cfg->days * DAY;
    memset(&p1, 0, sizeof(p1));
    p1.sim = (struct sim){cfg, &cat, end};
    p1.stats = stats;
    p1.dir = dir;
    p1.user_width = digits(cfg->n_users - 1) < 6 ? 6 : digits(cfg->n_users - 1);
    p1.item_width = digits(cfg->n_items - 1) < 6 ? 6 : digits(cfg->n_items - 1);
    stats->n_users = cfg->n_users;
    stats->n_anchors = cat.n_anchors;

    ret = run_pass1(dir, &p1, progress, ctx, err);
    dense = malloc((size_t)cfg->n_items * sizeof(*dense));
    if (ret == 0 && dense == NULL)
        ret = gnn_error_set(err, GNN_ENOMEM, "gen: no memory");
    if (ret == 0)
        ret = write_id_files(dir, &cat, &p1, dense, err);
    if (ret == 0) {
        struct pass2 p2 = {.sim = p1.sim, .dense = dense, .stats = stats};
        ret = run_pass2(dir, &p2, progress, ctx, err);
    }

    free(dense);
    free(p1.seen);
    catalog_free(&cat);
    return ret;
}
