/*
 * Learning while serving, end to end below HTTP: events in a real store
 * wake the loop, a round trains on them and the served model moves to a
 * new generation that knows the new user; stored events after the served
 * snapshot's watermark are replayed on start.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "background.h"
#include "gnn.h"

static char dir[] = "/tmp/hoprec-test-background-XXXXXX";
static char base[300], db[300];
static struct gnn_store *store;
static struct svc_model *served;

static void write_base(void)
{
    struct gnn_snapshot *s = NULL;
    char id[32];

    cr_assert_eq(gnn_snapshot_new("lightgcn", 4, 6, 8, &s, NULL), 0);
    for (int i = 0; i < 6 * 4; i++)
        s->users[i] = (float)(i % 5) / 5.0f;
    for (int i = 0; i < 8 * 4; i++)
        s->items_source[i] = s->items_target[i] = (float)(i % 7) / 7.0f;
    for (int u = 0; u < 6; u++) {
        snprintf(id, sizeof(id), "u%d", u);
        cr_assert_eq(gnn_snapshot_set_user_id(s, u, id, NULL), 0);
    }
    for (int i = 0; i < 8; i++) {
        snprintf(id, sizeof(id), "i%d", i);
        cr_assert_eq(gnn_snapshot_set_item_id(s, i, id, NULL), 0);
    }
    s->seen_indptr = malloc(7 * sizeof(int64_t));
    s->seen_items = malloc(12 * sizeof(int32_t));
    for (int u = 0; u <= 6; u++)
        s->seen_indptr[u] = 2 * u;
    for (int u = 0; u < 6; u++) {
        s->seen_items[2 * u] = u;
        s->seen_items[2 * u + 1] = u + 2;
    }
    cr_assert_eq(gnn_snapshot_write(s, base, NULL), 0);
    gnn_snapshot_free(s);
}

static void setup(void)
{
    struct svc_model_config mc = {.max_k = 50};

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

TestSuite(background, .init = setup, .fini = teardown);

static struct svc_background *start(int64_t watermark)
{
    struct svc_background_config cfg = {
        .learner = {.dir = dir,
                    .model = "lightgcn",
                    .dim = 4,
                    .layers = 1,
                    .incremental_epochs = 1,
                    .full_epochs = 2,
                    .batch = 8,
                    .lr = 0.01f,
                    .threads = 1,
                    .keep = 2,
                    .seed = 3},
        .base_snapshot = base,
        .served_watermark = watermark,
        .min_new_events = 2,
    };
    struct svc_background *b = NULL;
    struct svc_error err = {0};

    cr_assert_eq(svc_background_start(&cfg, served, store, &b, &err), 0, "%s",
                 err.text);
    return b;
}

static void store_event(const char *user, const char *item)
{
    struct gnn_event ev = {.user_id = user,
                           .item_id = item,
                           .type = GNN_EVENT_PURCHASE,
                           .occurred_at_ms = 1767225600000};

    cr_assert_eq(
        gnn_store_append(store, &ev, 1, NULL, NULL, 0, NULL, NULL, NULL, NULL),
        0);
}

static int64_t current_version(void)
{
    struct svc_gen *g = svc_model_acquire(served);
    int64_t v = svc_gen_version(g);

    svc_gen_release(g);
    return v;
}

/* Wait (10 s at most) for the served generation to reach version. */
static void wait_version(int64_t version)
{
    for (int i = 0; i < 1000 && current_version() < version; i++)
        usleep(10000);
    cr_assert_geq(current_version(), version, "no new generation came");
}

Test(background, events_lead_to_a_generation_that_knows_them)
{
    struct svc_background *b = start(0);

    store_event("shopper", "i1");
    svc_background_note_event(b);
    store_event("shopper", "i4");
    svc_background_note_event(b);
    wait_version(2);

    struct svc_scored_item items[3];
    struct svc_rec_query q = {.user_id = "shopper", .k = 3};
    struct svc_rec_result res = {.items = items};
    struct svc_gen *g = svc_model_acquire(served);
    cr_assert_eq(svc_gen_recommend(g, &q, &res, NULL), 0);
    cr_assert_eq(res.fallback, SVC_FALLBACK_NONE);
    svc_gen_release(g);

    /* The round is counted once the loop thread hears it has ended. */
    char metrics[4096];
    const char *counted =
        "hoprec_training_rounds_total{kind=\"incremental\"} 1";
    for (int i = 0; i < 1000; i++) {
        svc_background_metrics(b, metrics, sizeof(metrics));
        if (strstr(metrics, counted) != NULL)
            break;
        usleep(10000);
    }
    cr_assert_not_null(strstr(metrics, counted), "%s", metrics);
    svc_background_stop(b);

    char *latest = NULL;
    cr_assert_eq(svc_learner_latest(dir, &latest, NULL), 0);
    cr_assert_eq(svc_snapshot_watermark(latest), 2);
    cr_assert_eq(svc_snapshot_watermark(base), 0);
    free(latest);
}

Test(background, a_full_retrain_can_be_asked_for)
{
    struct svc_background *b = start(0);

    store_event("u1", "i7");
    svc_background_request_full(b);
    wait_version(2);
    svc_background_stop(b);

    json_t *info = NULL;
    b = start(1);
    info = svc_background_describe(b);
    cr_assert_eq(json_integer_value(json_object_get(info, "pending_events")),
                 0);
    json_decref(info);
    svc_background_stop(b);
}

Test(background, start_replays_what_the_snapshot_has_not_learned)
{
    store_event("returning", "i2");
    struct svc_background *b = start(0);

    struct svc_scored_item items[3];
    struct svc_rec_query q = {.user_id = "returning", .k = 3};
    struct svc_rec_result res = {.items = items};
    struct svc_gen *g = svc_model_acquire(served);
    cr_assert_eq(svc_gen_recommend(g, &q, &res, NULL), 0);
    cr_assert_eq(res.fallback, SVC_FALLBACK_ON_THE_FLY);
    svc_gen_release(g);
    svc_background_stop(b);
}
