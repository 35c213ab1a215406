#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gnn.h"

static char dir[] = "/tmp/hoprec-test-store-XXXXXX";
static char path[256];

static void make_dir(void)
{
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/events.db", dir);
}

static void remove_dir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(store, .init = make_dir, .fini = remove_dir);

static struct gnn_store *open_store(void)
{
    struct gnn_store *s = NULL;
    struct gnn_error err = {0};

    cr_assert_eq(gnn_store_open(path, &s, &err), 0, "%s", err.text);
    return s;
}

static struct gnn_event event(const char *id, const char *user,
                              const char *item, enum gnn_event_type type)
{
    struct gnn_event ev = {.user_id = user,
                           .item_id = item,
                           .type = type,
                           .value = type == GNN_EVENT_RATING ? 4.5 : 0,
                           .occurred_at_ms = 1700000000000};
    snprintf(ev.event_id, sizeof(ev.event_id), "%s", id);
    return ev;
}

struct collected {
    int n;
    char users[16][32];
    char types[16][16];
    double values[16];
};

static int collect(void *ctx, int64_t seq, const struct gnn_event *ev)
{
    struct collected *c = ctx;
    snprintf(c->users[c->n], 32, "%s", ev->user_id);
    snprintf(c->types[c->n], 16, "%s", gnn_event_type_name(ev->type));
    c->values[c->n] = ev->value;
    c->n++;
    return 0;
}

Test(store, events_survive_a_reopen_in_order)
{
    struct gnn_store *s = open_store();
    struct gnn_event evs[] = {event("e1", "u1", "i1", GNN_EVENT_VIEW),
                              event("e2", "u2", "i2", GNN_EVENT_RATING)};
    enum gnn_append_outcome outcome[2];
    int64_t seq[2];

    cr_assert_eq(
        gnn_store_append(s, evs, 2, NULL, NULL, 0, NULL, outcome, seq, NULL),
        0);
    cr_assert_eq(outcome[0], GNN_APPENDED);
    cr_assert(seq[1] > seq[0]);
    gnn_store_close(s);

    s = open_store();
    struct collected c = {0};
    cr_assert_eq(gnn_store_scan(s, 0, collect, &c, NULL), 0);
    cr_assert_eq(c.n, 2);
    cr_assert_str_eq(c.users[0], "u1");
    cr_assert_str_eq(c.types[1], "rating");
    cr_assert_float_eq(c.values[1], 4.5, 1e-9);

    int64_t last = 0;
    cr_assert_eq(gnn_store_last_seq(s, &last, NULL), 0);
    cr_assert_eq(last, seq[1]);
    gnn_store_close(s);
}

Test(store, a_repeated_event_id_is_a_duplicate_not_a_second_row)
{
    struct gnn_store *s = open_store();
    struct gnn_event a = event("same", "u1", "i1", GNN_EVENT_CLICK);
    struct gnn_event b = event("same", "u1", "i1", GNN_EVENT_CLICK);
    enum gnn_append_outcome outcome;
    int64_t count = 0;

    cr_assert_eq(
        gnn_store_append(s, &a, 1, NULL, NULL, 0, NULL, &outcome, NULL, NULL),
        0);
    cr_assert_eq(outcome, GNN_APPENDED);
    cr_assert_eq(
        gnn_store_append(s, &b, 1, NULL, NULL, 0, NULL, &outcome, NULL, NULL),
        0);
    cr_assert_eq(outcome, GNN_DUPLICATE);
    cr_assert_eq(gnn_store_count(s, &count, NULL), 0);
    cr_assert_eq(count, 1);
    gnn_store_close(s);
}

Test(store, missing_event_ids_are_generated_and_distinct)
{
    struct gnn_store *s = open_store();
    struct gnn_event evs[] = {event("", "u1", "i1", GNN_EVENT_VIEW),
                              event("", "u1", "i1", GNN_EVENT_VIEW)};

    cr_assert_eq(
        gnn_store_append(s, evs, 2, NULL, NULL, 0, NULL, NULL, NULL, NULL), 0);
    cr_assert_eq(strlen(evs[0].event_id), 32);
    cr_assert_str_neq(evs[0].event_id, evs[1].event_id);
    gnn_store_close(s);
}

Test(store, idempotency_record_is_stored_with_the_events)
{
    struct gnn_store *s = open_store();
    struct gnn_event ev = event("", "u1", "i9", GNN_EVENT_CART);
    struct gnn_idem_record rec;
    struct gnn_error err = {0};

    cr_assert_eq(gnn_store_idem_get(s, "key-1", &rec, NULL), GNN_ENOENT);
    cr_assert_eq(gnn_store_append(s, &ev, 1, "key-1", "hash-a", 202,
                                  "{\"accepted\":1}", NULL, NULL, &err),
                 0, "%s", err.text);
    cr_assert_eq(gnn_store_idem_get(s, "key-1", &rec, &err), 0, "%s", err.text);
    cr_assert_str_eq(rec.request_hash, "hash-a");
    cr_assert_eq(rec.status, 202);
    cr_assert_str_eq(rec.response, "{\"accepted\":1}");
    gnn_idem_record_clear(&rec);

    /* A second batch under the same key stores nothing at all. */
    struct gnn_event again = event("", "u1", "i9", GNN_EVENT_CART);
    int64_t count = 0;
    cr_assert_eq(gnn_store_append(s, &again, 1, "key-1", "hash-a", 202, "{}",
                                  NULL, NULL, &err),
                 GNN_EEXIST);
    cr_assert_eq(gnn_store_count(s, &count, NULL), 0);
    cr_assert_eq(count, 1);
    gnn_store_close(s);
}

Test(store, scan_starts_after_the_watermark_and_can_stop)
{
    struct gnn_store *s = open_store();
    struct gnn_event evs[4];
    int64_t seq[4];
    char ids[4][8];

    for (int i = 0; i < 4; i++) {
        snprintf(ids[i], sizeof(ids[i]), "u%d", i);
        evs[i] = event("", ids[i], "i", GNN_EVENT_PURCHASE);
    }
    cr_assert_eq(
        gnn_store_append(s, evs, 4, NULL, NULL, 0, NULL, NULL, seq, NULL), 0);

    struct collected c = {0};
    cr_assert_eq(gnn_store_scan(s, seq[1], collect, &c, NULL), 0);
    cr_assert_eq(c.n, 2);
    cr_assert_str_eq(c.users[0], "u2");
    gnn_store_close(s);
}

Test(store, bad_arguments_are_refused)
{
    struct gnn_store *s = open_store();
    struct gnn_event ev = event("x", "u", "i", GNN_EVENT_VIEW);
    struct gnn_error err = {0};

    ev.type = (enum gnn_event_type)42;
    cr_assert_eq(
        gnn_store_append(s, &ev, 1, NULL, NULL, 0, NULL, NULL, NULL, &err),
        GNN_EINVAL);
    ev.type = GNN_EVENT_VIEW;
    ev.item_id = NULL;
    cr_assert_eq(
        gnn_store_append(s, &ev, 1, NULL, NULL, 0, NULL, NULL, NULL, &err),
        GNN_EINVAL);
    gnn_store_close(s);

    struct gnn_store *none = NULL;
    cr_assert_eq(gnn_store_open("/nonexistent-dir/x/events.db", &none, &err),
                 GNN_EIO);
    cr_assert_null(none);
    cr_assert_not_null(strstr(err.text, "/nonexistent-dir/x/events.db"));
    cr_assert_eq(gnn_event_type_parse("refund"), -1);
    cr_assert_null(gnn_event_type_name((enum gnn_event_type)9));
}

enum { N_THREADS = 8, BATCHES = 20, BATCH = 10 };

static void *append_many(void *arg)
{
    struct gnn_store *s = arg;
    char users[BATCH][16];

    for (int b = 0; b < BATCHES; b++) {
        struct gnn_event evs[BATCH];
        for (int i = 0; i < BATCH; i++) {
            snprintf(users[i], sizeof(users[i]), "u%d", i);
            evs[i] = event("", users[i], "item", GNN_EVENT_VIEW);
        }
        cr_assert_eq(gnn_store_append(s, evs, BATCH, NULL, NULL, 0, NULL, NULL,
                                      NULL, NULL),
                     0);
    }
    return NULL;
}

Test(store, concurrent_appends_all_land)
{
    struct gnn_store *s = open_store();
    pthread_t threads[N_THREADS];
    int64_t count = 0;

    for (int t = 0; t < N_THREADS; t++)
        pthread_create(&threads[t], NULL, append_many, s);
    for (int t = 0; t < N_THREADS; t++)
        pthread_join(threads[t], NULL);

    cr_assert_eq(gnn_store_count(s, &count, NULL), 0);
    cr_assert_eq(count, N_THREADS * BATCHES * BATCH);
    cr_assert_geq(gnn_store_commits(s), 1);
    gnn_store_close(s);
}
