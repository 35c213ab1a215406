/*
 * End-to-end tests of the model-backed routes: a small snapshot written
 * with the core snapshot writer, served by the real binary.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gnn_snapshot.h"
#include "server_proc.h"

#define DIM   8
#define USERS 6
#define ITEMS 24

static struct server_proc srv;
static char snap_dir[64];

/* Users and n_items items with deterministic, distinct embeddings; user
 * u has seen items u and u + 1. Ids hold characters that need encoding. */
static void write_snapshot_to(const char *dir, int n_items)
{
    struct gnn_snapshot *s;
    char id[32];

    cr_assert_eq(gnn_snapshot_new("test", DIM, USERS, n_items, &s, NULL), 0);
    for (int u = 0; u < USERS; u++) {
        snprintf(id, sizeof(id), "user/%d", u);
        cr_assert_eq(gnn_snapshot_set_user_id(s, u, id, NULL), 0);
        for (int d = 0; d < DIM; d++)
            s->users[u * DIM + d] = sinf((float)(u * 7 + d * 3 + 1));
    }
    for (int i = 0; i < n_items; i++) {
        snprintf(id, sizeof(id), "sku %d", i);
        cr_assert_eq(gnn_snapshot_set_item_id(s, i, id, NULL), 0);
        for (int d = 0; d < DIM; d++) {
            s->items_source[i * DIM + d] = cosf((float)(i * 5 + d * 2));
            s->items_target[i * DIM + d] = sinf((float)(i * 3 + d + 2));
        }
    }
    s->seen_indptr = calloc(USERS + 1, sizeof(*s->seen_indptr));
    s->seen_items = calloc(2 * USERS, sizeof(*s->seen_items));
    for (int u = 0; u < USERS; u++) {
        s->seen_indptr[u + 1] = 2 * (u + 1);
        s->seen_items[2 * u] = u;
        s->seen_items[2 * u + 1] = u + 1;
    }
    cr_assert_eq(gnn_snapshot_write(s, dir, NULL), 0);
    gnn_snapshot_free(s);
}

static void write_snapshot(void)
{
    snprintf(snap_dir, sizeof(snap_dir), "/tmp/hoprec-e2e-snap-%d",
             (int)getpid());
    write_snapshot_to(snap_dir, ITEMS);
}

static void setup(void)
{
    char store[96];

    write_snapshot();
    snprintf(store, sizeof(store), "%s/events.db", snap_dir);
    const char *const args[] = {"--snapshot", snap_dir, "--store", store, NULL};

    cr_assert_not_null(spec_get());
    cr_assert_eq(server_start(&srv, args, NULL), 0, "serve must start");
}

static void teardown(void)
{
    char cmd[128];

    if (srv.pid > 0)
        cr_assert_eq(server_stop(&srv, 10), 0, "serve must exit 0");
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", snap_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(serve_model, .init = setup, .fini = teardown);

static json_t *call(const char *method, const char *path, const char *tmpl,
                    const char *headers, const char *body, int status)
{
    struct http_resp r;
    char why[256];
    json_t *v;

    cr_assert_eq(http_request(srv.port, method, path, headers, body, &r), 0,
                 "%s %s: no answer", method, path);
    cr_assert_eq(r.status, status, "%s %s: got %d: %s", method, path, r.status,
                 r.body);
    cr_assert(spec_check(method, tmpl, &r, why, sizeof(why)),
              "%s %s (%d) disagrees with openapi.json: %s", method, path,
              r.status, why);
    v = json_loadb(r.body, r.body_len, 0, NULL);
    http_resp_free(&r);
    return v;
}

#define RECS "/v1/users/{user_id}/recommendations"

static json_t *recs(const char *query, int status)
{
    char path[512];

    snprintf(path, sizeof(path), "/v1/users/user%%2F1/recommendations%s",
             query);
    return call("GET", path, RECS, NULL, NULL, status);
}

static const char *item_at(json_t *answer, size_t i)
{
    return json_string_value(json_object_get(
        json_array_get(json_object_get(answer, "items"), i), "item_id"));
}

static bool has_item(json_t *answer, const char *id)
{
    json_t *items = json_object_get(answer, "items");

    for (size_t i = 0; i < json_array_size(items); i++) {
        if (strcmp(item_at(answer, i), id) == 0)
            return true;
    }
    return false;
}

Test(serve_model, ready_once_the_snapshot_is_loaded)
{
    json_t *v = call("GET", "/readyz", "/readyz", NULL, NULL, 200);

    json_decref(v);
    v = call("GET", "/v1/model", "/v1/model", NULL, NULL, 200);
    cr_assert_eq(json_integer_value(json_object_get(v, "model_version")), 1);
    cr_assert_eq(json_integer_value(json_object_get(v, "n_items")), ITEMS);
    json_decref(v);
}

Test(serve_model, batching_is_timed_at_load_by_default)
{
    json_t *v = call("GET", "/v1/model", "/v1/model", NULL, NULL, 200);
    json_t *ix = json_object_get(v, "index");
    json_t *cost = json_object_get(ix, "search_cost");
    char err[4096];

    cr_assert(json_is_true(json_object_get(ix, "exact")));
    cr_assert(json_is_boolean(json_object_get(ix, "coalesce")));
    cr_assert_gt(json_number_value(json_object_get(cost, "alone_us")), 0);
    cr_assert_gt(json_number_value(json_object_get(cost, "batched_us")), 0);
    json_decref(v);

    cr_assert_eq(
        serve_expect_exit((const char *[]){"--snapshot", snap_dir, "--coalesce",
                                           "sometimes", NULL},
                          err, sizeof(err)),
        2);
    cr_assert_not_null(strstr(err, "--coalesce: 'sometimes'"), "%s", err);
}

Test(serve_model, recommendations_answer_k_items_with_ids_and_version)
{
    json_t *a = recs("?k=5", 200);

    cr_assert_str_eq(json_string_value(json_object_get(a, "user_id")),
                     "user/1");
    cr_assert_eq(json_array_size(json_object_get(a, "items")), 5);
    cr_assert_str_eq(json_string_value(json_object_get(a, "fallback")), "none");
    cr_assert_eq(
        strlen(json_string_value(json_object_get(a, "recommendation_id"))), 32);
    /* best first */
    json_t *items = json_object_get(a, "items");
    for (size_t i = 1; i < json_array_size(items); i++)
        cr_assert_geq(json_real_value(json_object_get(
                          json_array_get(items, i - 1), "score")),
                      json_real_value(
                          json_object_get(json_array_get(items, i), "score")));
    /* seen items are left out by default, kept on request */
    cr_assert_not(has_item(a, "sku 1"));
    cr_assert_not(has_item(a, "sku 2"));
    json_t *b = recs("?k=5", 200);
    cr_assert_str_neq(
        json_string_value(json_object_get(a, "recommendation_id")),
        json_string_value(json_object_get(b, "recommendation_id")),
        "each answer has its own id");
    json_decref(a);
    json_decref(b);
}

Test(serve_model, offset_pages_through_the_same_ranking)
{
    json_t *all = recs("?k=6", 200);
    json_t *page = recs("?k=3&offset=3", 200);

    for (size_t i = 0; i < 3; i++)
        cr_assert_str_eq(item_at(page, i), item_at(all, i + 3));
    json_decref(all);
    json_decref(page);
}

/* An item id with its space written as '+', as a query value. */
static void query_id(char *out, size_t size, const char *id)
{
    snprintf(out, size, "%s", id);
    for (char *p = out; *p != '\0'; p++) {
        if (*p == ' ')
            *p = '+';
    }
}

Test(serve_model, exclude_lists_leave_items_out)
{
    json_t *a = recs("?k=4&exclude_seen=false", 200);
    char first[32], second[32], query[160];

    /* take out whatever ranked first and second, whatever the data */
    query_id(first, sizeof(first), item_at(a, 0));
    query_id(second, sizeof(second), item_at(a, 1));
    snprintf(query, sizeof(query),
             "?k=4&exclude_seen=false&exclude=%s,unknown&exclude=%s", first,
             second);
    json_t *b = recs(query, 200);

    cr_assert_not(has_item(b, item_at(a, 0)), "first was excluded");
    cr_assert_not(has_item(b, item_at(a, 1)), "second was excluded");
    cr_assert_str_eq(item_at(b, 0), item_at(a, 2));
    json_decref(a);
    json_decref(b);
}

Test(serve_model, unknown_users_get_the_popular_fallback)
{
    json_t *a = call("GET", "/v1/users/newcomer/recommendations?k=3", RECS,
                     NULL, NULL, 200);

    cr_assert_str_eq(json_string_value(json_object_get(a, "fallback")),
                     "popular");
    cr_assert_eq(json_array_size(json_object_get(a, "items")), 3);
    json_decref(a);
}

Test(serve_model, related_items_and_unknown_items)
{
    json_t *a = call("GET", "/v1/items/sku%203/related?k=4",
                     "/v1/items/{item_id}/related", NULL, NULL, 200);

    cr_assert_eq(json_array_size(json_object_get(a, "items")), 4);
    cr_assert_not(has_item(a, "sku 3"), "an item is not related to itself");
    json_decref(a);

    a = call("GET", "/v1/items/nope/related", "/v1/items/{item_id}/related",
             NULL, NULL, 404);
    cr_assert_str_eq(json_string_value(json_object_get(a, "type")),
                     "https://hoprec.dev/problems/item-not-found");
    json_decref(a);
}

Test(serve_model, hidden_items_leave_every_answer_at_once)
{
    const char *json = "Content-Type: application/json\r\n";
    json_t *a = recs("?k=3&exclude_seen=false", 200);
    char first[32], path[96];

    snprintf(first, sizeof(first), "%s", item_at(a, 0));
    json_decref(a);
    snprintf(path, sizeof(path), "/v1/items/%.*s%%20%s",
             (int)strcspn(first, " "), first, strchr(first, ' ') + 1);

    a = call("PATCH", path, "/v1/items/{item_id}", json,
             "{\"hidden\": true, \"categories\": [\"c1\"]}", 200);
    cr_assert(json_is_true(json_object_get(a, "hidden")));
    cr_assert_not_null(json_object_get(a, "ignored"));
    json_decref(a);

    a = recs("?k=3&exclude_seen=false", 200);
    cr_assert_not(has_item(a, first), "hidden %s is gone", first);
    json_decref(a);

    json_decref(call("PATCH", path, "/v1/items/{item_id}", json,
                     "{\"hidden\": false}", 200));
    a = recs("?k=3&exclude_seen=false", 200);
    cr_assert(has_item(a, first), "shown again");
    json_decref(a);
}

Test(serve_model, bad_patches_are_refused)
{
    const char *json = "Content-Type: application/json\r\n";

    json_decref(call("PATCH", "/v1/items/nope", "/v1/items/{item_id}", json,
                     "{\"hidden\": true}", 404));
    json_t *p = call("PATCH", "/v1/items/sku%201", "/v1/items/{item_id}", json,
                     "{\"hidden\": 1, \"color\": \"red\"}", 400);
    cr_assert_eq(json_array_size(json_object_get(p, "errors")), 2);
    json_decref(p);
    json_decref(call("PATCH", "/v1/items/sku%201", "/v1/items/{item_id}",
                     "Content-Type: text/plain\r\n", "{\"hidden\": true}",
                     415));
    json_decref(call("PATCH", "/v1/items/sku%201", "/v1/items/{item_id}", json,
                     "{\"hidden\": tru", 400));
}

Test(serve_model, metrics_report_the_model)
{
    struct http_resp r;

    json_decref(recs("?k=2", 200));
    cr_assert_eq(http_request(srv.port, "GET", "/metrics", NULL, NULL, &r), 0);
    cr_assert(strstr(r.body, "hoprec_model_loaded 1\n") != NULL);
    cr_assert(strstr(r.body, "hoprec_model_version 1\n") != NULL);
    /* Batched searches are counted, whether or not this generation
     * batches. */
    cr_assert(strstr(r.body, "\nhoprec_search_batches_total ") != NULL);
    cr_assert(strstr(r.body, "\nhoprec_search_batched_queries_total ") != NULL);
    cr_assert(strstr(r.body, "hoprec_model_items 24\n") != NULL);
    cr_assert(strstr(r.body, "hoprec_search_duration_seconds_count{kind="
                             "\"recommend\"} 1\n") != NULL,
              "%s", r.body);
    http_resp_free(&r);
}

Test(serve_model, stored_events_shape_the_next_answer)
{
    const char *json = "Content-Type: application/json\r\n";
    json_t *a = call("GET", "/v1/users/fresh/recommendations?k=3", RECS, NULL,
                     NULL, 200);
    char first[32], body[256];

    cr_assert_str_eq(json_string_value(json_object_get(a, "fallback")),
                     "popular");
    snprintf(first, sizeof(first), "%s", item_at(a, 0));
    json_decref(a);

    snprintf(body, sizeof(body),
             "{\"events\": [{\"user_id\": \"fresh\", \"item_id\": "
             "\"%s\", \"type\": \"purchase\"}]}",
             first);
    json_decref(call("POST", "/v1/events", "/v1/events", json, body, 202));

    a = call("GET", "/v1/users/fresh/recommendations?k=3", RECS, NULL, NULL,
             200);
    cr_assert_str_eq(json_string_value(json_object_get(a, "fallback")),
                     "on_the_fly", "the purchase gives the user a vector");
    cr_assert_not(has_item(a, first), "a bought item counts as seen");
    json_decref(a);
}

/* A separate server with background learning on, in its own folder. */
Test(serve_model, retrain_publishes_a_new_generation)
{
    struct server_proc learner;
    char store[96], data[96], auth[64];
    const char *const env[] = {"HOPREC_API_KEYS_ADMIN=adm-key", NULL};
    struct timespec nap = {0, 100 * 1000 * 1000};
    struct http_resp r;
    int version = 0;

    snprintf(store, sizeof(store), "%s/learn.db", snap_dir);
    snprintf(data, sizeof(data), "%s/data", snap_dir);
    snprintf(auth, sizeof(auth), "Authorization: Bearer adm-key\r\n");
    const char *const args[] = {
        "--snapshot",    snap_dir, "--store",        store, "--data-dir", data,
        "--learn-model", "mf",     "--learn-epochs", "2",   NULL};
    cr_assert_eq(server_start(&learner, args, env), 0);

    /* Events with a user and an item the snapshot does not know. */
    const char *batch = "{\"events\": [{\"user_id\": \"user/1\", \"item_id\": "
                        "\"sku 4\", \"type\": \"purchase\"}, {\"user_id\": "
                        "\"newbie\", \"item_id\": \"sku 9\", \"type\": "
                        "\"cart\"}, {\"user_id\": \"newbie\", \"item_id\": "
                        "\"brand-new\", \"type\": \"view\"}]}";
    cr_assert_eq(http_request(learner.port, "POST", "/v1/events",
                              "Content-Type: application/json\r\n"
                              "Authorization: Bearer adm-key\r\n",
                              batch, &r),
                 0);
    cr_assert_eq(r.status, 202, "%s", r.body);
    http_resp_free(&r);

    cr_assert_eq(
        http_request(learner.port, "POST", "/v1/model/retrain", auth, NULL, &r),
        0);
    cr_assert_eq(r.status, 202, "%s", r.body);
    cr_assert(strstr(r.body, "scheduled") != NULL);
    http_resp_free(&r);

    /* The round runs in the background; wait (bounded) for its result.
     * The round publishes its generation before the loop counts it, so
     * wait for both. */
    int full = 0;
    for (int i = 0; i < 600 && (version < 2 || full < 1); i++) {
        nanosleep(&nap, NULL);
        cr_assert_eq(
            http_request(learner.port, "GET", "/v1/model", auth, NULL, &r), 0);
        json_t *m = json_loadb(r.body, r.body_len, 0, NULL);
        json_t *rounds =
            json_object_get(json_object_get(m, "learning"), "rounds");
        version = (int)json_integer_value(json_object_get(m, "model_version"));
        full = (int)json_integer_value(json_object_get(rounds, "full"));
        json_decref(m);
        if (version < 2 || full < 1)
            http_resp_free(&r);
    }
    cr_assert_eq(version, 2, "a new generation was published");
    cr_assert_eq(full, 1, "by one full round");
    char why[256];
    cr_assert(spec_check("GET", "/v1/model", &r, why, sizeof(why)), "%s", why);
    http_resp_free(&r);
    json_t *m;

    cr_assert_eq(http_request(learner.port, "GET", "/metrics", NULL, NULL, &r),
                 0);
    cr_assert(strstr(r.body, "hoprec_learn_rounds_total{kind=\"full\"} 1\n") !=
                  NULL,
              "%s", r.body);
    cr_assert(strstr(r.body, "hoprec_model_version 2\n") != NULL);
    http_resp_free(&r);

    /* The new item is served now. */
    cr_assert_eq(http_request(learner.port, "GET",
                              "/v1/items/brand-new/related?k=2", auth, NULL,
                              &r),
                 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_resp_free(&r);
    cr_assert_eq(server_stop(&learner, 30), 0);

    /* A restart serves the newest generation, not the base snapshot. */
    cr_assert_eq(server_start(&learner, args, env), 0);
    cr_assert_eq(http_request(learner.port, "GET", "/v1/model", auth, NULL, &r),
                 0);
    m = json_loadb(r.body, r.body_len, 0, NULL);
    cr_assert_eq(json_integer_value(json_object_get(m, "n_items")), ITEMS + 1,
                 "the learned item is there: %s", r.body);
    json_decref(m);
    http_resp_free(&r);
    cr_assert_eq(server_stop(&learner, 30), 0);
}

/* The model version and item count /v1/model reports, polled until the
 * version reaches want (at most about 10 s). */
static int wait_for_version(int port, int want, int *n_items)
{
    struct timespec nap = {0, 50 * 1000 * 1000};
    int version = 0;

    for (int i = 0; i < 200 && version < want; i++) {
        struct http_resp r;
        if (i > 0)
            nanosleep(&nap, NULL);
        cr_assert_eq(http_request(port, "GET", "/v1/model", NULL, NULL, &r), 0);
        json_t *m = json_loadb(r.body, r.body_len, 0, NULL);
        version = (int)json_integer_value(json_object_get(m, "model_version"));
        *n_items = (int)json_integer_value(json_object_get(m, "n_items"));
        json_decref(m);
        http_resp_free(&r);
    }
    return version;
}

Test(serve_model, sighup_swaps_in_the_rewritten_snapshot)
{
    struct server_proc other;
    char dir[96], manifest[128];
    int n_items = 0;

    snprintf(dir, sizeof(dir), "%s/reloaded", snap_dir);
    write_snapshot_to(dir, ITEMS);
    const char *const args[] = {"--snapshot", dir, NULL};
    cr_assert_eq(server_start(&other, args, NULL), 0);
    cr_assert_eq(wait_for_version(other.port, 1, &n_items), 1);
    cr_assert_eq(n_items, ITEMS);

    /* A broken folder is refused and the current model keeps serving. */
    snprintf(manifest, sizeof(manifest), "%s/manifest.json", dir);
    FILE *f = fopen(manifest, "w");
    cr_assert_not_null(f);
    fputs("{\"format_version\": ", f);
    fclose(f);
    cr_assert_eq(kill(other.pid, SIGHUP), 0);
    sleep(1);
    cr_assert_eq(wait_for_version(other.port, 1, &n_items), 1);
    cr_assert_eq(n_items, ITEMS, "the old generation still serves");

    /* A good one goes live without a restart. */
    write_snapshot_to(dir, ITEMS + 3);
    cr_assert_eq(kill(other.pid, SIGHUP), 0);
    cr_assert_eq(wait_for_version(other.port, 2, &n_items), 2);
    cr_assert_eq(n_items, ITEMS + 3);
    cr_assert_eq(server_stop(&other, 10), 0, "serve must exit 0");
}
