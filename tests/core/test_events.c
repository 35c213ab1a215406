#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gnn.h"

static char dir[64];
static char path[128];

static void setup(void)
{
    strcpy(dir, "/tmp/hoprec-events-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/events.csv", dir);
}

static void teardown(void)
{
    unlink(path);
    rmdir(dir);
}

TestSuite(events, .init = setup, .fini = teardown);

static void write_file(const char *text)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* The aggregated entry of (user, item) by external ids; -1 if none. */
static int64_t find(const struct gnn_event_set *s, const char *user,
                    const char *item)
{
    int32_t u = gnn_idmap_lookup(s->users, user, strlen(user));
    int32_t i = gnn_idmap_lookup(s->items, item, strlen(item));

    for (int64_t k = 0; k < s->x.n; k++) {
        if (s->x.user[k] == u && s->x.item[k] == i)
            return k;
    }
    return -1;
}

Test(events, movielens_udata_layout_loads_with_rating_weights)
{
    struct gnn_event_set s;
    struct gnn_error err;

    write_file("196\t242\t3\t881250949\n"
               "186\t302\t5\t891717742\n"
               "22\t377\t1\t878887116\n"
               "196\t51\t4\t881250950\n");
    cr_assert_eq(gnn_events_load(path, NULL, &s, &err), 0, "%s", err.text);
    cr_assert_eq(s.n_events, 4);
    cr_assert_eq(s.n_by_type[GNN_EVENT_RATING], 4);
    cr_assert_eq(gnn_idmap_size(s.users), 3);
    cr_assert_eq(gnn_idmap_size(s.items), 4);
    cr_assert_str_eq(gnn_idmap_name(s.users, 0, NULL), "196");
    cr_assert_eq(s.x.n_users, 3);

    int64_t k = find(&s, "186", "302");
    cr_assert_float_eq(s.x.weight[k], 4.0f, 1e-6, "rating 5");
    cr_assert_eq(s.x.time[k], 891717742);
    cr_assert_float_eq(s.x.weight[find(&s, "196", "51")], 2.0f, 1e-6);
    cr_assert_float_eq(s.x.weight[find(&s, "196", "242")], -0.5f, 1e-6);
    cr_assert_float_eq(s.x.weight[find(&s, "22", "377")], -1.5f, 1e-6);
    gnn_event_set_free(&s);
    gnn_event_set_free(&s); /* a second free of the zeroed set is fine */
}

Test(events, our_csv_sums_duplicates_and_keeps_the_latest_time)
{
    struct gnn_event_set s;
    struct gnn_error err;

    write_file("user,item,type,value,timestamp\r\n"
               "u1,sku-9,view,,100\r\n"
               "u1,sku-9,click,,110\r\n"
               "\r\n"
               "u2,sku-9,view,,105\r\n"
               "u1,sku-9,cart,,120\r\n"
               "u1,sku-9,purchase,,90\r\n"
               "u1,sku-7,rating,5,200\r\n");
    cr_assert_eq(gnn_events_load(path, NULL, &s, &err), 0, "%s", err.text);
    cr_assert_eq(s.n_events, 6);
    cr_assert_eq(s.n_by_type[GNN_EVENT_VIEW], 2);
    cr_assert_eq(s.n_by_type[GNN_EVENT_PURCHASE], 1);
    cr_assert_eq(s.x.n, 3, "three distinct (user, item) pairs");

    int64_t k = find(&s, "u1", "sku-9");
    cr_assert_float_eq(s.x.weight[k], 1 + 2 + 3 + 5, 1e-6);
    cr_assert_eq(s.x.time[k], 120, "the latest time is kept");
    cr_assert_float_eq(s.x.weight[find(&s, "u1", "sku-7")], 4, 1e-6);
    cr_assert_float_eq(s.x.weight[find(&s, "u2", "sku-9")], 1, 1e-6);
    gnn_event_set_free(&s);
}

Test(events, header_columns_may_come_in_any_order_with_extras)
{
    struct gnn_event_set s;
    struct gnn_error err;

    write_file("timestamp\tsession_id\titem_id\tUSER_ID\ttype\n"
               "50\ts1\tA\tx\tcart\n"
               "60\ts1\tB\tx\tview\n");
    cr_assert_eq(gnn_events_load(path, NULL, &s, &err), 0, "%s", err.text);
    cr_assert_eq(s.n_events, 2);
    cr_assert_float_eq(s.x.weight[find(&s, "x", "A")], 3, 1e-6);
    cr_assert_eq(s.x.time[find(&s, "x", "B")], 60);
    gnn_event_set_free(&s);

    /* A header with a rating column and no type column. */
    write_file("user,item,rating,time\nx,A,4.5,7\n");
    cr_assert_eq(gnn_events_load(path, NULL, &s, &err), 0, "%s", err.text);
    cr_assert_float_eq(s.x.weight[0], 2 * 1.5f, 1e-6);
    gnn_event_set_free(&s);
}

Test(events, weights_are_configurable_and_decay_with_age)
{
    struct gnn_event_weights w;
    struct gnn_event_set s;
    struct gnn_error err;

    gnn_event_weights_default(&w);
    w.type_weight[GNN_EVENT_VIEW] = 0.5f;
    w.half_life = 100;
    write_file("u,i,view,1000\n"
               "u,j,purchase,900\n"
               "u,k,view,800\n");
    cr_assert_eq(gnn_events_load(path, &w, &s, &err), 0, "%s", err.text);
    cr_assert_float_eq(s.x.weight[find(&s, "u", "i")], 0.5f, 1e-6,
                       "the latest event has no decay");
    cr_assert_float_eq(s.x.weight[find(&s, "u", "j")], 2.5f, 1e-5);
    cr_assert_float_eq(s.x.weight[find(&s, "u", "k")], 0.125f, 1e-6);
    gnn_event_set_free(&s);

    w.now = 1100;
    cr_assert_eq(gnn_events_load(path, &w, &s, &err), 0, "%s", err.text);
    cr_assert_float_eq(s.x.weight[find(&s, "u", "i")], 0.25f, 1e-6);
    gnn_event_set_free(&s);

    cr_assert_float_eq(gnn_event_weight(&w, GNN_EVENT_RATING, 3), -0.5f, 1e-6);
    cr_assert_float_eq(gnn_event_weight(&w, GNN_EVENT_CART, 0), 3, 1e-6);
}

/* The text must fail with GNN_EFORMAT at the given line. */
static void expect_bad(const char *text, int line, const char *why)
{
    struct gnn_event_set s;
    struct gnn_error err;
    char where[160];

    write_file(text);
    int ret = gnn_events_load(path, NULL, &s, &err);
    cr_assert_eq(ret, GNN_EFORMAT, "%s: got %d", why, ret);
    snprintf(where, sizeof(where), "%s:%d:", path, line);
    cr_assert(strstr(err.text, where) != NULL, "%s: '%s' lacks '%s'", why,
              err.text, where);
    cr_assert_null(s.users, "a failed load left a map behind");
}

Test(events, every_bad_line_names_file_and_line)
{
    const char *h = "user,item,type,value,timestamp\n";
    char text[256];

    snprintf(text, sizeof(text), "%su,i,view,,1\nu,i,look,,2\n", h);
    expect_bad(text, 3, "unknown type");
    snprintf(text, sizeof(text), "%su,i,rating,,2\n", h);
    expect_bad(text, 2, "rating without value");
    snprintf(text, sizeof(text), "%su,i,rating,good,2\n", h);
    expect_bad(text, 2, "value not a number");
    snprintf(text, sizeof(text), "%su,i,view,,yesterday\n", h);
    expect_bad(text, 2, "timestamp not a number");
    snprintf(text, sizeof(text), "%su,i,view,,-5\n", h);
    expect_bad(text, 2, "negative timestamp");
    snprintf(text, sizeof(text), "%su,i,view,1\n", h);
    expect_bad(text, 2, "a field missing");
    snprintf(text, sizeof(text), "%su,i,view,,1,extra\n", h);
    expect_bad(text, 2, "a field too many");
    snprintf(text, sizeof(text), "%s,i,view,,1\n", h);
    expect_bad(text, 2, "empty user");
    snprintf(text, sizeof(text), "%su,i,,,1\n", h);
    expect_bad(text, 2, "neither type nor value");
    expect_bad("user,item,timestamp\nu,i,1\n", 1, "header without type");
    expect_bad("1\t2\t3\n", 1, "three fields without a header");
    expect_bad("1\t2\tnice\t4\n", 1, "headerless unknown type");
    expect_bad("1\t2\t3\t4\n1,2,3,4\n", 2, "delimiter changes");
    expect_bad("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r\n", 1, "many fields");
}

Test(events, missing_file_is_enoent)
{
    struct gnn_event_set s;
    struct gnn_error err;

    cr_assert_eq(gnn_events_load("/nonexistent/e.csv", NULL, &s, &err),
                 GNN_ENOENT);
    cr_assert(strstr(err.text, "/nonexistent/e.csv") != NULL);
}

Test(events, split_counts_follow_the_documented_rule)
{
    int64_t v, t;

    gnn_split_counts(2, 0.1, 0.2, &v, &t);
    cr_assert(v == 0 && t == 0, "under 3 items everything trains");
    gnn_split_counts(3, 0.1, 0.2, &v, &t);
    cr_assert(v == 1 && t == 1);
    gnn_split_counts(10, 0.1, 0.2, &v, &t);
    cr_assert(v == 1 && t == 2);
    gnn_split_counts(100, 0.1, 0.2, &v, &t);
    cr_assert(v == 10 && t == 20);
    gnn_split_counts(10, 0, 0, &v, &t);
    cr_assert(v == 0 && t == 0);
    gnn_split_counts(5, 0, 0.01, &v, &t);
    cr_assert(v == 0 && t == 1, "leave-one-out");
    gnn_split_counts(4, 0.6, 0.6, &v, &t);
    cr_assert(v + t == 3 && v >= 1 && t >= 1, "train keeps one");
}

Test(events, split_by_time_puts_each_users_latest_items_last)
{
    struct gnn_interactions x, tr, va, te;
    struct gnn_error err;

    gnn_interactions_init(&x);
    gnn_interactions_init(&tr);
    gnn_interactions_init(&va);
    gnn_interactions_init(&te);
    /* User 0: ten items, pushed out of time order. User 1: two items. */
    for (int k = 0; k < 10; k++)
        gnn_interactions_push(&x, 0, k, 1.0f, 1000 - 10 * k, NULL);
    gnn_interactions_push(&x, 1, 3, 1.0f, 5, NULL);
    gnn_interactions_push(&x, 1, 4, 1.0f, 6, NULL);

    cr_assert_eq(
        gnn_interactions_split_by_time(&x, 0.1, 0.2, &tr, &va, &te, &err), 0,
        "%s", err.text);
    cr_assert_eq(te.n, 2);
    cr_assert_eq(va.n, 1);
    cr_assert_eq(tr.n, 9);
    cr_assert(te.item[0] == 1 && te.item[1] == 0, "test is not the latest");
    cr_assert_eq(va.item[0], 2);
    for (int64_t k = 0; k < tr.n; k++)
        cr_assert(tr.user[k] == 1 || tr.time[k] < va.time[0]);

    cr_assert_eq(
        gnn_interactions_split_by_time(&x, 1.0, 0.2, &tr, &va, &te, &err),
        GNN_EINVAL);
    gnn_interactions_free(&x);
    gnn_interactions_free(&tr);
    gnn_interactions_free(&va);
    gnn_interactions_free(&te);
}

Test(events, aggregate_merges_only_equal_pairs)
{
    struct gnn_interactions x;

    gnn_interactions_init(&x);
    gnn_interactions_push(&x, 2, 1, 1.0f, 30, NULL);
    gnn_interactions_push(&x, 0, 1, 2.0f, 10, NULL);
    gnn_interactions_push(&x, 2, 1, 4.0f, 20, NULL);
    gnn_interactions_push(&x, 1, 2, 8.0f, 5, NULL);
    cr_assert_eq(gnn_interactions_aggregate(&x, NULL), 0);
    cr_assert_eq(x.n, 3);
    cr_assert(x.user[2] == 2 && x.item[2] == 1);
    cr_assert_float_eq(x.weight[2], 5.0f, 1e-6);
    cr_assert_eq(x.time[2], 30);
    cr_assert_float_eq(x.weight[0] + x.weight[1], 10.0f, 1e-6);
    gnn_interactions_free(&x);
}
