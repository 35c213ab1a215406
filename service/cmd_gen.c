#include "commands.h"

#include <stdio.h>
#include <time.h>

#include "gnn.h"
#include "log.h"

static struct {
    char *out;
    long users, items, categories, days, seed, start, interactions;
    double sessions, views, zipf, anchors, follow, valid, test;
} gen;

static struct svc_opt gen_opts[] = {
    {"out", SVC_OPT_STR, &gen.out, NULL, "DIR",
     "folder to write (created when missing; its files are replaced)", 0, 0,
     true},
    {"users", SVC_OPT_INT, &gen.users, "5000", "N", "number of users", 1,
     100000000, false},
    {"items", SVC_OPT_INT, &gen.items, "2000", "M",
     "catalog size (items no event touches are left out)", 2, 99999999, false},
    {"categories", SVC_OPT_INT, &gen.categories, "20", "K",
     "item categories; even ones get accessories in the next one", 1, 10000,
     false},
    {"interactions", SVC_OPT_INT, &gen.interactions, "0", "N",
     "target number of events (all types); sizes users, items and "
     "categories from it, overriding those three (0: off)",
     0, 1e10, false},
    {"sessions-per-user", SVC_OPT_DOUBLE, &gen.sessions, "8", "X",
     "mean sessions per user (log-normal spread)", 0.01, 10000, false},
    {"views-per-session", SVC_OPT_DOUBLE, &gen.views, "4", "X",
     "mean product views per session", 1, 30, false},
    {"days", SVC_OPT_INT, &gen.days, "56", "D", "time span in days", 1, 3650,
     false},
    {"start", SVC_OPT_INT, &gen.start, "1704067200", "UNIX",
     "unix time of the first day (default 2024-01-01)", 0, 1099511627776.0,
     false},
    {"zipf", SVC_OPT_DOUBLE, &gen.zipf, "1.0", "S",
     "item popularity exponent: weight 1/rank^S", 0, 5, false},
    {"anchor-share", SVC_OPT_DOUBLE, &gen.anchors, "0.5", "P",
     "share of main-category items that have an accessory", 0, 1, false},
    {"follow-prob", SVC_OPT_DOUBLE, &gen.follow, "0.7", "P",
     "chance a buyer of an anchor comes back for its accessory", 0, 1, false},
    {"valid-share", SVC_OPT_DOUBLE, &gen.valid, "0.1", "F",
     "share of each user's latest items for valid.txt", 0, 0.9, false},
    {"test-share", SVC_OPT_DOUBLE, &gen.test, "0.2", "F",
     "share of each user's latest items for test.txt", 0, 0.9, false},
    {"seed", SVC_OPT_INT, &gen.seed, "42", "S",
     "random seed: the same seed writes the same files", 0, 9.2e18, false},
    SVC_COMMON_OPTS,
    {NULL, 0, NULL, NULL, NULL, NULL, 0, 0, false},
};

/* Log each quarter of each stage, so that a long run shows it moves. */
static int log_progress(void *ctx, const char *stage, double done)
{
    int *last = ctx; /* quarters logged so far, per stage */
    int k = stage[0] == 'e' ? 0 : 1;
    int quarter = (int)(done * 4);

    if (quarter > last[k] && quarter < 4) {
        last[k] = quarter;
        svc_log_info("generating", "stage=%s done=%d%%", stage, quarter * 25);
    }
    return 0;
}

static int run_gen(const struct svc_cmd *cmd, int argc, char **argv)
{
    struct gnn_gen_config c;
    struct gnn_gen_stats st;
    struct gnn_error err;
    struct timespec t0, t1;

    if (argc > 0)
        return svc_cli_usage_error(cmd, "unexpected argument '%s'", argv[0]);

    gnn_gen_config_default(&c);
    c.n_users = (int32_t)gen.users;
    c.n_items = (int32_t)gen.items;
    c.n_categories = (int32_t)gen.categories;
    c.sessions_per_user = gen.sessions;
    c.views_per_session = gen.views;
    c.days = (int32_t)gen.days;
    c.start_time = gen.start;
    c.zipf = gen.zipf;
    c.anchor_share = gen.anchors;
    c.follow_prob = gen.follow;
    c.valid_frac = gen.valid;
    c.test_frac = gen.test;
    c.seed = (uint64_t)gen.seed;
    if (gnn_gen_config_check(&c, &err) != 0) /* text: "gen: what" */
        return svc_cli_usage_error(cmd, "%s", err.text + 5);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (gen.interactions > 0) {
        if (gnn_gen_config_for_events(&c, (int64_t)gen.interactions, &err) != 0)
            return svc_cli_fail(cmd, "%s", err.text);
        svc_log_info("sized by interactions",
                     "events=%ld users=%d items=%d categories=%d",
                     gen.interactions, c.n_users, c.n_items, c.n_categories);
    }
    int quarters[2] = {0, 0};
    if (gnn_gen_write(&c, gen.out, &st, log_progress, quarters, &err) != 0)
        return svc_cli_fail(cmd, "%s", err.text);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) +
                  (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;

    char quoted[512];
    svc_log_info("data set generated",
                 "out=%s users=%d items=%d events=%lld seconds=%.2f",
                 svc_log_quote(quoted, sizeof(quoted), gen.out), st.n_users,
                 st.n_items, (long long)st.n_events, secs);
    printf("%s: %d users, %d items, %lld events (%lld views, %lld clicks, "
           "%lld carts, %lld purchases, %lld ratings); splits %lld train / "
           "%lld valid / %lld test; %lld held-out pairs; anchor->accessory "
           "purchases %lld forward, %lld reverse; %.2f s\n",
           gen.out, st.n_users, st.n_items, (long long)st.n_events,
           (long long)st.n_by_type[GNN_EVENT_VIEW],
           (long long)st.n_by_type[GNN_EVENT_CLICK],
           (long long)st.n_by_type[GNN_EVENT_CART],
           (long long)st.n_by_type[GNN_EVENT_PURCHASE],
           (long long)st.n_by_type[GNN_EVENT_RATING], (long long)st.n_train,
           (long long)st.n_valid, (long long)st.n_test,
           (long long)st.n_pairs_test, (long long)st.pairs_forward,
           (long long)st.pairs_reverse, secs);
    return 0;
}

struct svc_cmd svc_cmd_gen = {
    .name = "gen",
    .summary = "generate a synthetic e-commerce data set",
    .usage = "--out DIR [options]",
    .description =
        "Writes a synthetic shop's interactions into DIR:\n"
        "  events.csv           every view, click, cart, purchase and rating\n"
        "                       in time order: user,item,type,value,timestamp\n"
        "  train.txt, valid.txt, test.txt\n"
        "                       LightGCN split format (dense ids); each\n"
        "                       user's latest items go to valid and test\n"
        "  users.txt, items.txt external ids in dense-id order\n"
        "  item_categories.txt  category of each item, dense-id order\n"
        "  pairs_test.txt       held-out directed pairs 'i j': i bought\n"
        "                       earlier, its accessory j in the test period\n"
        "\n"
        "Item popularity follows a Zipf law, users like a few categories,\n"
        "sessions go view -> click -> cart -> purchase with falling chances,\n"
        "and buying an anchor item (a phone) often leads to its accessory (a\n"
        "case) days later, rarely the other way round. The same options and\n"
        "seed always write the same files.\n"
        "\n"
        "--interactions N sizes the shop for about N events (lines of\n"
        "events.csv, every type counted): one user makes about 60 events,\n"
        "so users = the first count whose events reach N (N/60), items =\n"
        "N/150 and categories = items/100 (at most 10000), the default\n"
        "shop's proportions. The events written are N plus at most one\n"
        "user's events. Memory stays near 20 MiB plus 40 bytes per item\n"
        "whatever N: events are sorted in blocks spilled to temporary files\n"
        "in DIR (24 bytes per event) and merged.\n"
        "\n"
        "Example: hoprec gen --out demo --users 100000 --items 20000\n"
        "         hoprec gen --out big --interactions 10000000",
    .opts = gen_opts,
    .run = run_gen,
};
