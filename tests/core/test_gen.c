#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gnn.h"

static char root[64];

static int rm_entry(const char *p, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    return remove(p);
}

static void setup(void)
{
    strcpy(root, "/tmp/hoprec-gen-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
}

static void teardown(void)
{
    nftw(root, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(gen, .init = setup, .fini = teardown);

static const char *const outputs[] = {
    "events.csv", "train.txt", "valid.txt",           "test.txt",
    "users.txt",  "items.txt", "item_categories.txt", "pairs_test.txt",
};

static void small_config(struct gnn_gen_config *c)
{
    gnn_gen_config_default(c);
    c->n_users = 600;
    c->n_items = 800;
    c->n_categories = 12;
}

static void generate(const struct gnn_gen_config *c, const char *name,
                     char *dir, struct gnn_gen_stats *st)
{
    struct gnn_error err;

    snprintf(dir, 128, "%s/%s", root, name);
    cr_assert_eq(gnn_gen_write(c, dir, st, NULL, NULL, &err), 0, "%s",
                 err.text);
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[256], *buf;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    cr_assert_eq(gnn__file_read(path, 1u << 30, &buf, len, NULL), 0,
                 "cannot read %s", path);
    return buf;
}

static int64_t count_lines(const char *dir, const char *name)
{
    size_t len;
    char *buf = slurp(dir, name, &len);
    int64_t n = 0;

    for (size_t i = 0; i < len; i++)
        n += buf[i] == '\n';
    free(buf);
    return n;
}

Test(gen, same_seed_same_files_other_seed_other_files)
{
    struct gnn_gen_config c;
    struct gnn_gen_stats st;
    char a[128], b[128], d[128];

    small_config(&c);
    generate(&c, "a", a, &st);
    generate(&c, "b", b, &st);
    c.seed = 43;
    generate(&c, "d", d, &st);

    for (size_t k = 0; k < sizeof(outputs) / sizeof(outputs[0]); k++) {
        size_t la, lb, ld;
        char *xa = slurp(a, outputs[k], &la), *xb = slurp(b, outputs[k], &lb);
        char *xd = slurp(d, outputs[k], &ld);
        cr_assert(la == lb && memcmp(xa, xb, la) == 0,
                  "%s differs between two runs with one seed", outputs[k]);
        if (strcmp(outputs[k], "users.txt") != 0 &&
            strcmp(outputs[k], "item_categories.txt") != 0)
            cr_assert(la != ld || memcmp(xa, xd, la) != 0,
                      "%s is the same for another seed", outputs[k]);
        free(xa);
        free(xb);
        free(xd);
    }
}

/* Share of events.csv rows on the top 1% of items. */
static double top_share(const char *dir)
{
    struct gnn_event_set set;
    struct gnn_error err;
    char path[256];

    snprintf(path, sizeof(path), "%s/events.csv", dir);
    cr_assert_eq(gnn_events_load(path, NULL, &set, &err), 0, "%s", err.text);
    int32_t n = gnn_idmap_size(set.items);
    int64_t *count = calloc((size_t)n, sizeof(*count));
    int64_t total = 0;

    /* Aggregated entries lose the event count; count raw lines instead. */
    size_t len;
    char *buf = slurp(dir, "events.csv", &len);
    char *line = strchr(buf, '\n') + 1;
    while (*line != '\0') {
        char *c1 = strchr(line, ','), *c2 = strchr(c1 + 1, ',');
        int32_t item =
            gnn_idmap_lookup(set.items, c1 + 1, (size_t)(c2 - c1 - 1));
        cr_assert(item >= 0);
        count[item]++;
        total++;
        line = strchr(line, '\n') + 1;
    }
    free(buf);

    /* Sum of the n/100 largest counts, by repeated selection. */
    int64_t top = 0;
    for (int32_t k = 0; k < (n + 99) / 100; k++) {
        int32_t best = 0;
        for (int32_t i = 1; i < n; i++) {
            if (count[i] > count[best])
                best = i;
        }
        top += count[best];
        count[best] = -1;
    }
    free(count);
    gnn_event_set_free(&set);
    return (double)top / (double)total;
}

Test(gen, popularity_follows_a_power_law)
{
    struct gnn_gen_config c;
    struct gnn_gen_stats st;
    char zipf[128], flat[128];

    small_config(&c);
    generate(&c, "zipf", zipf, &st);
    c.zipf = 0;
    generate(&c, "flat", flat, &st);

    double s1 = top_share(zipf), s0 = top_share(flat);
    cr_assert_gt(s1, 0.15, "top 1%% of items get only %.3f of events", s1);
    cr_assert_lt(s0, 0.06, "without Zipf the top 1%% still get %.3f", s0);
}

Test(gen, splits_load_and_match_the_id_files)
{
    struct gnn_gen_config c;
    struct gnn_gen_stats st;
    struct gnn_dataset ds;
    struct gnn_error err;
    char dir[128];

    small_config(&c);
    generate(&c, "s", dir, &st);
    cr_assert_eq(gnn_dataset_load_splits(dir, &ds, &err), 0, "%s", err.text);

    cr_assert_eq(ds.n_users, count_lines(dir, "users.txt"));
    cr_assert_eq(ds.n_items, count_lines(dir, "items.txt"));
    cr_assert_eq(ds.n_items, count_lines(dir, "item_categories.txt"));
    cr_assert_eq(ds.n_users, c.n_users);
    cr_assert_eq(ds.n_items, st.n_items);
    cr_assert_eq(ds.train.n, st.n_train);
    cr_assert_eq(ds.valid.n, st.n_valid);
    cr_assert_eq(ds.test.n, st.n_test);
    cr_assert_eq(ds.train.n_users, c.n_users, "a user has no train line");
    /* About 20% of the interactions are held out for test. */
    double share =
        (double)ds.test.n / (double)(ds.train.n + ds.valid.n + ds.test.n);
    cr_assert(share > 0.15 && share < 0.25, "test share %.3f", share);
    gnn_dataset_free(&ds);
}

Test(gen, events_file_loads_in_time_order_and_matches_the_splits)
{
    struct gnn_gen_config c;
    struct gnn_gen_stats st;
    struct gnn_event_set set;
    struct gnn_error err;
    char dir[128], path[256];

    small_config(&c);
    generate(&c, "e", dir, &st);
    snprintf(path, sizeof(path), "%s/events.csv", dir);
    cr_assert_eq(gnn_events_load(path, NULL, &set, &err), 0, "%s", err.text);

    cr_assert_eq(set.n_events, st.n_events);
    cr_assert_eq(count_lines(dir, "events.csv"), st.n_events + 1);
    for (int t = 0; t < GNN_EVENT_N_TYPES; t++)
        cr_assert_eq(set.n_by_type[t], st.n_by_type[t], "type %d", t);
    cr_assert_gt(st.n_by_type[GNN_EVENT_VIEW], st.n_by_type[GNN_EVENT_CLICK]);
    cr_assert_gt(st.n_by_type[GNN_EVENT_CLICK], st.n_by_type[GNN_EVENT_CART]);
    cr_assert_gt(st.n_by_type[GNN_EVENT_CART],
                 st.n_by_type[GNN_EVENT_PURCHASE]);
    cr_assert_gt(st.n_by_type[GNN_EVENT_RATING], 0);
    cr_assert_eq(gnn_idmap_size(set.users), c.n_users);
    cr_assert_eq(gnn_idmap_size(set.items), st.n_items);
    cr_assert_eq(set.x.n, st.n_train + st.n_valid + st.n_test,
                 "distinct (user, item) pairs differ from the splits");

    /* Timestamps never go back, and span weeks. */
    size_t len;
    char *buf = slurp(dir, "events.csv", &len);
    long long prev = 0, first = -1;
    for (char *line = strchr(buf, '\n') + 1; *line;) {
        char *nl = strchr(line, '\n');
        char *comma = nl;
        while (comma[-1] != ',')
            comma--;
        long long t = atoll(comma);
        cr_assert_geq(t, prev, "events.csv goes back in time");
        if (first < 0)
            first = t;
        prev = t;
        line = nl + 1;
    }
    cr_assert_gt(prev - first, 4 * 7 * 86400LL, "events span < 4 weeks");
    free(buf);
    gnn_event_set_free(&set);
}

Test(gen, complementary_pairs_are_bought_mostly_in_one_order)
{
    struct gnn_gen_config c;
    struct gnn_gen_stats st;
    char dir[128];

    small_config(&c);
    c.n_users = 1500;
    generate(&c, "p", dir, &st);
    cr_assert_gt(st.n_pairs_test, 10, "only %lld held-out pairs",
                 (long long)st.n_pairs_test);

    /* External item ids of the dense ids in pairs_test.txt. */
    struct gnn_idmap *items;
    cr_assert_eq(gnn_idmap_new(&items, NULL), 0);
    size_t len;
    char *ids = slurp(dir, "items.txt", &len);
    for (char *p = ids; *p; p = strchr(p, '\n') + 1)
        gnn_idmap_get_or_add(items, p, (size_t)(strchr(p, '\n') - p), NULL,
                             NULL);
    free(ids);
    int32_t n_items = gnn_idmap_size(items);

    /* pair[i] = j for each held-out pair i -> j (one accessory each). */
    int32_t *pair = malloc((size_t)n_items * sizeof(*pair));
    for (int32_t i = 0; i < n_items; i++)
        pair[i] = -1;
    char path[256];
    snprintf(path, sizeof(path), "%s/pairs_test.txt", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    int i, j, n_pairs = 0;
    while (fscanf(f, "%d %d", &i, &j) == 2) {
        cr_assert(i >= 0 && i < n_items && j >= 0 && j < n_items);
        pair[i] = j;
        n_pairs++;
    }
    fclose(f);
    cr_assert_eq(n_pairs, st.n_pairs_test);

    /* First purchase time of each (user, item); 0 when never bought. */
    struct gnn_idmap *users;
    cr_assert_eq(gnn_idmap_new(&users, NULL), 0);
    int64_t *first = calloc((size_t)c.n_users * n_items, sizeof(*first));
    char *ev = slurp(dir, "events.csv", &len);
    for (char *line = strchr(ev, '\n') + 1; *line;) {
        char *c1 = strchr(line, ','), *c2 = strchr(c1 + 1, ',');
        char *c3 = strchr(c2 + 1, ','), *c4 = strchr(c3 + 1, ',');
        char *nl = strchr(line, '\n');
        if (c3 - c2 - 1 == 8 && memcmp(c2 + 1, "purchase", 8) == 0) {
            int32_t u = gnn_idmap_get_or_add(users, line, (size_t)(c1 - line),
                                             NULL, NULL);
            int32_t it = gnn_idmap_lookup(items, c1 + 1, (size_t)(c2 - c1 - 1));
            int64_t *slot = &first[(size_t)u * n_items + it];
            if (*slot == 0)
                *slot = atoll(c4 + 1);
        }
        line = nl + 1;
    }
    free(ev);

    int64_t forward = 0, reverse = 0;
    for (int32_t u = 0; u < gnn_idmap_size(users); u++) {
        for (int32_t a = 0; a < n_items; a++) {
            if (pair[a] < 0)
                continue;
            int64_t ta = first[(size_t)u * n_items + a];
            int64_t tb = first[(size_t)u * n_items + pair[a]];
            if (ta != 0 && tb != 0 && ta < tb)
                forward++;
            else if (ta != 0 && tb != 0)
                reverse++;
        }
    }
    cr_assert_gt(forward, 20, "only %lld forward purchases",
                 (long long)forward);
    cr_assert_gt(forward, 4 * reverse, "forward %lld, reverse %lld",
                 (long long)forward, (long long)reverse);
    cr_assert_gt(st.pairs_forward, 4 * st.pairs_reverse);

    free(first);
    free(pair);
    gnn_idmap_free(users);
    gnn_idmap_free(items);
}

Test(gen, bad_settings_are_refused)
{
    struct gnn_gen_config c;
    struct gnn_error err;
    char dir[128];

    snprintf(dir, sizeof(dir), "%s/bad", root);
    small_config(&c);
    c.n_categories = c.n_items + 1;
    cr_assert_eq(gnn_gen_write(&c, dir, NULL, NULL, NULL, &err), GNN_EINVAL);
    cr_assert(strstr(err.text, "n_categories") != NULL, "%s", err.text);
    small_config(&c);
    c.valid_frac = 0.5;
    c.test_frac = 0.5;
    cr_assert_eq(gnn_gen_config_check(&c, &err), GNN_EINVAL);
    small_config(&c);
    c.views_per_session = 0.5;
    cr_assert_eq(gnn_gen_config_check(&c, &err), GNN_EINVAL);
    small_config(&c);
    c.n_users = 0;
    cr_assert_eq(gnn_gen_config_check(&c, &err), GNN_EINVAL);
    cr_assert_eq(access(dir, F_OK), -1, "a refused run created its folder");

    small_config(&c);
    cr_assert_eq(gnn_gen_write(&c, "/nonexistent/x/y", NULL, NULL, NULL, &err),
                 GNN_EIO);
}

static int stop_early(void *ctx, const char *stage, double done)
{
    int *calls = ctx;

    (*calls)++;
    return strcmp(stage, "events") == 0 && done > 0.2;
}

Test(gen, progress_is_reported_and_can_cancel)
{
    struct gnn_gen_config c;
    struct gnn_error err;
    char dir[128];
    int calls = 0;

    snprintf(dir, sizeof(dir), "%s/cancel", root);
    small_config(&c);
    cr_assert_eq(gnn_gen_write(&c, dir, NULL, stop_early, &calls, &err),
                 GNN_ECANCELED);
    cr_assert_gt(calls, 5);
}

Test(gen, edge_settings_still_write_loadable_files)
{
    struct gnn_gen_config c;
    struct gnn_gen_stats st;
    struct gnn_dataset ds;
    struct gnn_error err;
    char dir[128];

    /* One user, two items, one category (so no accessories), one day. */
    gnn_gen_config_default(&c);
    c.n_users = 1;
    c.n_items = 2;
    c.n_categories = 1;
    c.days = 1;
    c.views_per_session = 1;
    c.valid_frac = 0;
    c.test_frac = 0;
    generate(&c, "tiny", dir, &st);
    cr_assert_eq(st.n_anchors, 0);
    cr_assert_eq(st.n_pairs_test, 0);
    cr_assert_gt(st.n_events, 0);
    cr_assert_eq(gnn_dataset_load_splits(dir, &ds, &err), 0, "%s", err.text);
    cr_assert_eq(ds.n_users, 1);
    cr_assert_eq(ds.valid.n + ds.test.n, 0);
    gnn_dataset_free(&ds);

    /* Steep popularity, every item an anchor, few sessions. */
    gnn_gen_config_default(&c);
    c.n_users = 50;
    c.n_items = 40;
    c.n_categories = 40;
    c.zipf = 5;
    c.anchor_share = 1;
    c.follow_prob = 1;
    c.sessions_per_user = 0.1;
    generate(&c, "steep", dir, &st);
    cr_assert_eq(st.n_anchors, 20, "every main-category item is an anchor");
    cr_assert_eq(gnn_dataset_load_splits(dir, &ds, &err), 0, "%s", err.text);
    cr_assert_eq(ds.n_users, 50, "every user has a train line");
    gnn_dataset_free(&ds);
}

/* The files of dir a and dir b are byte for byte the same. */
static void assert_same_files(const char *a, const char *b)
{
    for (size_t k = 0; k < sizeof(outputs) / sizeof(outputs[0]); k++) {
        size_t la, lb;
        char *xa = slurp(a, outputs[k], &la), *xb = slurp(b, outputs[k], &lb);
        cr_assert(la == lb && memcmp(xa, xb, la) == 0, "%s differs",
                  outputs[k]);
        free(xa);
        free(xb);
    }
}

Test(gen, spilled_blocks_write_the_same_files_and_leave_no_runs)
{
    struct gnn_gen_config c;
    struct gnn_gen_stats one, many;
    char a[128], b[128], path[256];

    small_config(&c);
    generate(&c, "one_block", a, &one);
    c.block_events = 700; /* dozens of run files, merged */
    generate(&c, "many_blocks", b, &many);
    cr_assert_gt(one.n_events, 20 * 700);
    cr_assert_eq(one.n_events, many.n_events);
    assert_same_files(a, b);

    snprintf(path, sizeof(path), "%s/.events-run-00000.tmp", b);
    cr_assert_neq(access(path, F_OK), 0, "a run file was left behind");
}

Test(gen, sized_by_events_within_one_user_of_the_target)
{
    static const int64_t targets[] = {5000, 30000, 120000};

    for (size_t k = 0; k < sizeof(targets) / sizeof(targets[0]); k++) {
        struct gnn_gen_config c;
        struct gnn_gen_stats st;
        struct gnn_error err;
        char dir[128], name[32];
        int64_t n = targets[k];

        gnn_gen_config_default(&c);
        cr_assert_eq(gnn_gen_config_for_events(&c, n, &err), 0, "%s", err.text);
        cr_assert_eq(c.n_items, (n + 75) / 150);
        cr_assert_geq(c.n_categories, 1);
        cr_assert_leq(c.n_categories, c.n_items);
        snprintf(name, sizeof(name), "sized%zu", k);
        generate(&c, name, dir, &st);

        /* Honoured within 3%: the target plus the last user's events. */
        cr_assert_geq(st.n_events, n);
        cr_assert_leq(st.n_events, n + n * 3 / 100, "%lld events for %lld",
                      (long long)st.n_events, (long long)n);
        cr_assert_eq(st.n_users, c.n_users);
        cr_assert_eq(count_lines(dir, "events.csv"), st.n_events + 1);

        /* One user fewer would fall short of the target. */
        struct gnn_gen_config fewer = c;
        struct gnn_gen_stats st2;
        fewer.n_users = c.n_users - 1;
        if (fewer.n_users >= 1) {
            snprintf(name, sizeof(name), "fewer%zu", k);
            generate(&fewer, name, dir, &st2);
            cr_assert_lt(st2.n_events, n);
        }
    }
}

Test(gen, sizing_by_events_is_the_same_for_a_seed)
{
    struct gnn_gen_config a, b, d;
    struct gnn_gen_stats st;
    char da[128], db[128];

    gnn_gen_config_default(&a);
    gnn_gen_config_default(&b);
    gnn_gen_config_default(&d);
    d.seed = 7;
    cr_assert_eq(gnn_gen_config_for_events(&a, 40000, NULL), 0);
    cr_assert_eq(gnn_gen_config_for_events(&b, 40000, NULL), 0);
    cr_assert_eq(gnn_gen_config_for_events(&d, 40000, NULL), 0);
    cr_assert_eq(a.n_users, b.n_users);
    cr_assert_eq(a.n_items, d.n_items);
    generate(&a, "seed_a", da, &st);
    generate(&b, "seed_b", db, &st);
    assert_same_files(da, db);
}

Test(gen, sizing_by_events_refuses_bad_targets)
{
    struct gnn_gen_config c;
    struct gnn_error err;

    gnn_gen_config_default(&c);
    cr_assert_eq(gnn_gen_config_for_events(&c, 0, &err), GNN_EINVAL);
    cr_assert(strstr(err.text, "events") != NULL, "%s", err.text);
    cr_assert_eq(gnn_gen_config_for_events(&c, GNN_GEN_MAX_EVENTS + 1, &err),
                 GNN_EINVAL);
    c.days = 0;
    cr_assert_eq(gnn_gen_config_for_events(&c, 1000, &err), GNN_EINVAL);
}
