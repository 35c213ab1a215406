/*
 * The learner on a real base snapshot folder, a real SQLite event store
 * and the real served model: rounds publish generations that know new
 * users and items, keep a bounded number of folders, measure the previous
 * model on unseen events, and a restart replays what came after.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gnn.h"
#include "learn.h"

enum { USERS = 12, ITEMS = 16, DIM = 8 };

static char dir[] = "/tmp/hoprec-test-learn-XXXXXX";
static char base[300], db[300];
static struct gnn_store *store;
static struct svc_model *served;

static void write_base(void)
{
    struct gnn_snapshot *s = NULL;
    char id[32];

    cr_assert_eq(gnn_snapshot_new("lightgcn", DIM, USERS, ITEMS, &s, NULL), 0);
    for (int i = 0; i < USERS * DIM; i++)
        s->users[i] = (float)((i * 7) % 11) / 11.0f - 0.5f;
    for (int i = 0; i < ITEMS * DIM; i++)
        s->items_source[i] = s->items_target[i] =
            (float)((i * 5) % 13) / 13.0f - 0.5f;
    for (int u = 0; u < USERS; u++) {
        snprintf(id, sizeof(id), "u%d", u);
        cr_assert_eq(gnn_snapshot_set_user_id(s, u, id, NULL), 0);
    }
    for (int i = 0; i < ITEMS; i++) {
        snprintf(id, sizeof(id), "i%d", i);
        cr_assert_eq(gnn_snapshot_set_item_id(s, i, id, NULL), 0);
    }

    /* User u has seen items u, u + 1 and u + 2. */
    s->seen_indptr = malloc((USERS + 1) * sizeof(int64_t));
    s->seen_items = malloc(3 * USERS * sizeof(int32_t));
    s->item_popularity = calloc(ITEMS, sizeof(float));
    for (int u = 0; u <= USERS; u++)
        s->seen_indptr[u] = 3 * u;
    for (int u = 0; u < USERS; u++) {
        for (int k = 0; k < 3; k++) {
            s->seen_items[3 * u + k] = u + k;
            s->item_popularity[u + k] += 1;
        }
    }
    cr_assert_eq(gnn_snapshot_write(s, base, NULL), 0);
    gnn_snapshot_free(s);
}

static void setup(void)
{
    struct svc_model_config mc = {.max_k = 100};

    cr_assert_not_null(mkdtemp(dir));
    snprintf(base, sizeof(base), "%s/base", dir);
    snprintf(db, sizeof(db), "%s/events.db", dir);
    write_base();
    cr_assert_eq(gnn_store_open(db, &store, NULL), 0);
    cr_assert_eq(svc_model_new(&mc, &served, NULL), 0);
    cr_assert_eq(svc_model_load(served, base, NULL), 0);
}

static void teardown(void)
{
    char cmd[400];

    svc_model_free(served);
    gnn_store_close(store);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(learn, .init = setup, .fini = teardown);

static struct svc_learner *new_learner(void)
{
    struct svc_learner_config cfg = {
        .dir = dir,
        .model = "lightgcn",
        .dim = DIM,
        .layers = 2,
        .incremental_epochs = 2,
        .full_epochs = 4,
        .batch = 16,
        .lr = 0.01f,
        .threads = 1,
        .keep = 2,
        .seed = 7,
    };
    struct svc_learner *l = NULL;
    struct svc_error err = {0};

    cr_assert_eq(svc_learner_new(&cfg, served, store, base, &l, &err), 0, "%s",
                 err.text);
    return l;
}

static void add(const char *user, const char *item, enum gnn_event_type type)
{
    struct gnn_event ev = {.user_id = user,
                           .item_id = item,
                           .type = type,
                           .occurred_at_ms = 1767225600000};

    cr_assert_eq(
        gnn_store_append(store, &ev, 1, NULL, NULL, 0, NULL, NULL, NULL, NULL),
        0);
}

static enum svc_fallback recommend(struct svc_model *m, const char *user,
                                   int64_t *version)
{
    struct svc_scored_item items[5];
    struct svc_rec_query q = {.user_id = user, .k = 5};
    struct svc_rec_result res = {.items = items};
    struct svc_gen *g = svc_model_acquire(m);

    cr_assert_not_null(g);
    cr_assert_eq(svc_gen_recommend(g, &q, &res, NULL), 0);
    if (version != NULL)
        *version = svc_gen_version(g);
    svc_gen_release(g);
    return res.fallback;
}

static int count_generations(void)
{
    char path[400];
    int n = 0;
    struct dirent *e;

    snprintf(path, sizeof(path), "%s/snapshots", dir);
    DIR *d = opendir(path);
    cr_assert_not_null(d);
    while ((e = readdir(d)) != NULL)
        n += strncmp(e->d_name, "gen-", 4) == 0;
    closedir(d);
    return n;
}

static int round_of(struct svc_learner *l, enum svc_round_kind kind)
{
    struct svc_error err = {0};
    int ret = svc_learner_round(l, kind, 0, &err);

    cr_assert_eq(ret, 0, "%s", err.text);
    return ret;
}

Test(learn, a_full_round_publishes_a_generation_that_knows_new_users)
{
    struct svc_learner *l = new_learner();
    int64_t version = 0;

    cr_assert_eq(recommend(served, "newbie", NULL), SVC_FALLBACK_POPULAR);
    add("newbie", "i3", GNN_EVENT_PURCHASE);
    add("newbie", "i4", GNN_EVENT_CART);
    round_of(l, SVC_ROUND_FULL);

    cr_assert_eq(recommend(served, "newbie", &version), SVC_FALLBACK_NONE);
    cr_assert_eq(version, 2);
    cr_assert_eq(count_generations(), 1);

    json_t *info = svc_learner_describe(l);
    cr_assert_eq(json_integer_value(json_object_get(info, "watermark")), 2);
    json_t *round = json_object_get(info, "round");
    cr_assert_str_eq(json_string_value(json_object_get(round, "kind")), "full");
    cr_assert_eq(json_integer_value(json_object_get(round, "epochs")), 4);
    json_decref(info);
    svc_learner_free(l);
}

Test(learn, incremental_rounds_learn_new_items_and_keep_few_folders)
{
    struct svc_learner *l = new_learner();
    struct svc_scored_item items[3];
    struct svc_rec_result res = {.items = items};

    add("u1", "i9", GNN_EVENT_PURCHASE);
    round_of(l, SVC_ROUND_INCREMENTAL);

    add("u1", "brand-new", GNN_EVENT_PURCHASE);
    add("u2", "brand-new", GNN_EVENT_CLICK);
    add("u3", "i9", GNN_EVENT_PURCHASE); /* both known to the last model */
    round_of(l, SVC_ROUND_INCREMENTAL);

    struct svc_gen *g = svc_model_acquire(served);
    cr_assert_eq(svc_gen_related(g, "brand-new", 3, 0, &res, NULL), 0);
    cr_assert_eq(res.n, 3);
    svc_gen_release(g);

    json_t *info = svc_learner_describe(l);
    json_t *holdout = json_object_get(info, "holdout");
    cr_assert_not_null(holdout, "the last model is scored on unseen events");
    cr_assert_eq(json_integer_value(json_object_get(holdout, "users")), 1);
    json_decref(info);

    add("u4", "i1", GNN_EVENT_VIEW);
    round_of(l, SVC_ROUND_INCREMENTAL);
    cr_assert_eq(count_generations(), 2, "older folders are removed");

    char *latest = NULL;
    cr_assert_eq(svc_learner_latest(dir, &latest, NULL), 0);
    cr_assert_not_null(strstr(latest, "gen-000000000005"), "%s", latest);
    free(latest);
    svc_learner_free(l);
}

Test(learn, a_restart_replays_the_events_after_the_watermark)
{
    struct svc_model_config mc = {.max_k = 100};
    struct svc_model *restarted = NULL;
    int64_t replayed = -1;

    add("late", "i6", GNN_EVENT_PURCHASE);
    add("late", "i7", GNN_EVENT_PURCHASE);
    cr_assert_eq(svc_model_new(&mc, &restarted, NULL), 0);
    cr_assert_eq(svc_model_load(restarted, base, NULL), 0);

    cr_assert_eq(svc_learner_replay(restarted, store, 1, &replayed, NULL), 0);
    cr_assert_eq(replayed, 1, "only events after the watermark");
    cr_assert_eq(recommend(restarted, "late", NULL), SVC_FALLBACK_ON_THE_FLY);
    svc_model_free(restarted);
}

Test(learn, nothing_to_learn_and_bad_settings_are_errors)
{
    struct svc_learner_config cfg = {
        .dir = dir,
        .model = "lightgcn",
        .dim = DIM,
        .layers = 1,
        .incremental_epochs = 1,
        .full_epochs = 1,
        .batch = 8,
        .lr = 0.01f,
        .threads = 1,
        .keep = 1,
    };
    struct svc_learner *l = NULL;
    struct svc_error err = {0};

    cfg.model = "no-such-model";
    cr_assert_eq(svc_learner_new(&cfg, served, store, base, &l, &err),
                 SVC_EINVAL);
    cfg.model = "lightgcn";
    cr_assert_eq(svc_learner_new(&cfg, served, store, NULL, &l, &err), 0);
    cr_assert_neq(svc_learner_round(l, SVC_ROUND_FULL, 0, &err), 0);
    cr_assert_not_null(strstr(err.text, "nothing to learn"), "%s", err.text);
    svc_learner_free(l);

    char *latest = NULL;
    cr_assert_eq(svc_learner_latest(dir, &latest, NULL), SVC_ENOTFOUND);
}

static json_t *round_field(struct svc_learner *l, const char *key)
{
    json_t *info = svc_learner_describe(l);
    json_t *v =
        json_incref(json_object_get(json_object_get(info, "round"), key));

    json_decref(info);
    return v;
}

Test(learn, bounded_incremental_rounds_add_only_new_events)
{
    struct svc_learner_config cfg = {
        .dir = dir,
        .model = "lightgcn",
        .dim = DIM,
        .layers = 2,
        .incremental_epochs = 2,
        .full_epochs = 2,
        .batch = 16,
        .lr = 0.01f,
        .threads = 1,
        .keep = 2,
        .seed = 7,
        .round_batches = 1,
        .holdout_users = 1,
    };
    struct svc_learner *l = NULL;
    struct svc_error err = {0};

    cr_assert_eq(svc_learner_new(&cfg, served, store, base, &l, &err), 0, "%s",
                 err.text);
    add("u1", "i9", GNN_EVENT_PURCHASE);
    round_of(l, SVC_ROUND_INCREMENTAL);
    add("u2", "i9", GNN_EVENT_PURCHASE);
    add("u3", "i9", GNN_EVENT_PURCHASE);
    add("u1", "i9", GNN_EVENT_CLICK); /* sums with the first event */
    add("fresh", "i2", GNN_EVENT_PURCHASE);
    round_of(l, SVC_ROUND_INCREMENTAL);

    json_t *v = round_field(l, "trained_edges");
    cr_assert_eq(json_integer_value(v), 16, "one batch of edges per epoch");
    json_decref(v);
    v = round_field(l, "batches");
    cr_assert_eq(json_integer_value(v), 2);
    json_decref(v);
    v = round_field(l, "phases");
    cr_assert_eq(json_object_size(v), 6);
    cr_assert_geq(json_real_value(json_object_get(v, "train")), 0.0);
    json_decref(v);

    json_t *info = svc_learner_describe(l);
    json_t *holdout = json_object_get(info, "holdout");
    cr_assert_not_null(holdout);
    cr_assert_eq(json_integer_value(json_object_get(holdout, "users")), 1,
                 "three users are held out, one is scored");
    json_decref(info);

    /* A full round reads everything again and finds the same interactions
     * the incremental rounds accumulated. */
    json_t *inc = round_field(l, "interactions");
    round_of(l, SVC_ROUND_FULL);
    json_t *full = round_field(l, "interactions");
    cr_assert_eq(json_integer_value(inc), 3 * USERS + 4);
    cr_assert_eq(json_integer_value(inc), json_integer_value(full));
    json_decref(inc);
    json_decref(full);
    v = round_field(l, "trained_edges");
    cr_assert_eq(json_integer_value(v), 3 * USERS + 4, "full rounds use all");
    json_decref(v);
    svc_learner_free(l);

    cfg.round_batches = -1;
    cr_assert_eq(svc_learner_new(&cfg, served, store, base, &l, &err),
                 SVC_EINVAL);
}
