#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"

static char dir[] = "/tmp/hoprec-test-events-XXXXXX";
static struct gnn_store *store;
static int callbacks;

static void count_event(void *ctx, const struct gnn_event *ev)
{
    (void)ctx;
    cr_assert_not_null(ev->user_id);
    callbacks++;
}

static const struct svc_ingest_config cfg = {
    .max_events = 4,
    .max_future_ms = 300000,
    .on_event = count_event,
};

static void setup(void)
{
    char path[300];
    struct gnn_error err = {0};

    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/events.db", dir);
    cr_assert_eq(gnn_store_open(path, &store, &err), 0, "%s", err.text);
    callbacks = 0;
}

static void teardown(void)
{
    char cmd[300];

    gnn_store_close(store);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(events, .init = setup, .fini = teardown);

static struct svc_ingest_reply ingest(const char *body, const char *key)
{
    struct svc_ingest_reply reply;

    cr_assert_eq(
        svc_events_ingest(store, &cfg, body, strlen(body), key, &reply), 0);
    cr_assert_not_null(reply.body);
    return reply;
}

static int64_t stored(void)
{
    int64_t n = -1;
    cr_assert_eq(gnn_store_count(store, &n, NULL), 0);
    return n;
}

static const char *pointer_of(json_t *list, size_t i)
{
    return json_string_value(
        json_object_get(json_array_get(list, i), "pointer"));
}

Test(events, a_valid_batch_is_stored_and_acknowledged)
{
    struct svc_ingest_reply r =
        ingest("{\"events\":[{\"user_id\":\"u1\",\"item_id\":\"sku-1\","
               "\"type\":\"purchase\",\"timestamp\":\"2026-01-02T03:04:05Z\"},"
               "{\"user_id\":\"u1\",\"item_id\":\"sku-2\",\"type\":\"rating\","
               "\"value\":4,\"timestamp\":1767000000,\"event_id\":\"ev-9\"}]}",
               NULL);

    cr_assert_eq(r.status, 202);
    cr_assert_not(r.problem);
    cr_assert_eq(json_integer_value(json_object_get(r.body, "accepted")), 2);
    json_t *ids = json_object_get(r.body, "event_ids");
    cr_assert_eq(strlen(json_string_value(json_array_get(ids, 0))), 32);
    cr_assert_str_eq(json_string_value(json_array_get(ids, 1)), "ev-9");
    cr_assert_eq(stored(), 2);
    cr_assert_eq(callbacks, 2);
    json_decref(r.body);
}

Test(events, invalid_events_are_rejected_with_pointers_others_kept)
{
    struct svc_ingest_reply r = ingest(
        "{\"events\":[{\"user_id\":\"u1\",\"item_id\":\"i\",\"type\":\"view\"},"
        "{\"user_id\":\"u1\",\"item_id\":\"i\",\"type\":\"rating\"},"
        "{\"user_id\":\"\",\"item_id\":\"i\",\"type\":\"refund\"}]}",
        NULL);

    cr_assert_eq(r.status, 202);
    json_t *rejected = json_object_get(r.body, "rejected");
    cr_assert_eq(json_array_size(rejected), 3);
    cr_assert_str_eq(pointer_of(rejected, 0), "/events/1/value");
    cr_assert_str_eq(pointer_of(rejected, 1), "/events/2/user_id");
    cr_assert_str_eq(pointer_of(rejected, 2), "/events/2/type");
    cr_assert_eq(stored(), 1);
    json_decref(r.body);
}

Test(events, a_batch_with_no_valid_event_is_422_and_stores_nothing)
{
    struct svc_ingest_reply r = ingest(
        "{\"events\":[{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":\"view\","
        "\"timestamp\":\"yesterday\"}, 7]}",
        NULL);

    cr_assert_eq(r.status, 422);
    cr_assert(r.problem);
    json_t *errors = json_object_get(r.body, "errors");
    cr_assert_str_eq(pointer_of(errors, 0), "/events/0/timestamp");
    cr_assert_str_eq(pointer_of(errors, 1), "/events/1");
    cr_assert_str_eq(json_string_value(json_object_get(r.body, "type")),
                     SVC_PROBLEM_BASE "invalid-events");
    cr_assert_eq(stored(), 0);
    json_decref(r.body);
}

Test(events, malformed_and_oversized_bodies_are_refused)
{
    const char *bodies[] = {"{\"events\":[", "[]", "{\"events\":{}}",
                            "{\"events\":[]}", "{\"a\":1,\"a\":2}"};

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct svc_ingest_reply r = ingest(bodies[i], NULL);
        cr_assert_eq(r.status, 400, "body %zu", i);
        json_decref(r.body);
    }

    struct svc_ingest_reply r = ingest("{\"events\":[1,2,3,4,5]}", NULL);
    cr_assert_eq(r.status, 413);
    json_decref(r.body);
    cr_assert_eq(stored(), 0);
}

Test(events, the_same_key_and_body_replay_the_first_answer)
{
    const char *body = "{\"events\":[{\"user_id\":\"u\",\"item_id\":\"i\","
                       "\"type\":\"cart\"}]}";

    struct svc_ingest_reply first = ingest(body, "k-1");
    struct svc_ingest_reply again = ingest(body, "k-1");

    cr_assert_eq(first.status, 202);
    cr_assert_eq(again.status, 202);
    cr_assert(json_equal(first.body, again.body),
              "a retry must get the first answer, generated ids included");
    cr_assert_eq(stored(), 1);
    json_decref(first.body);
    json_decref(again.body);

    struct svc_ingest_reply other =
        ingest("{\"events\":[{\"user_id\":\"u\",\"item_id\":\"j\",\"type\":"
               "\"cart\"}]}",
               "k-1");
    cr_assert_eq(other.status, 422);
    cr_assert(other.problem);
    cr_assert_eq(stored(), 1);
    json_decref(other.body);
}

Test(events, a_known_event_id_is_counted_as_duplicate)
{
    const char *body = "{\"events\":[{\"user_id\":\"u\",\"item_id\":\"i\","
                       "\"type\":\"click\",\"event_id\":\"e-1\"}]}";

    struct svc_ingest_reply a = ingest(body, NULL);
    struct svc_ingest_reply b = ingest(body, NULL);

    cr_assert_eq(a.stored, 1);
    cr_assert_eq(b.status, 202);
    cr_assert_eq(b.stored, 0);
    cr_assert_eq(b.duplicates, 1);
    cr_assert_eq(stored(), 1);
    cr_assert_eq(callbacks, 1);
    json_decref(a.body);
    json_decref(b.body);
}

Test(events, timestamps_in_the_far_future_are_rejected)
{
    struct svc_ingest_reply r = ingest(
        "{\"events\":[{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":\"view\","
        "\"timestamp\":\"2099-01-01T00:00:00Z\"}]}",
        NULL);

    cr_assert_eq(r.status, 422);
    json_decref(r.body);
}

Test(rfc3339, parses_offsets_fractions_and_refuses_garbage)
{
    int64_t ms = 0;

    cr_assert_eq(svc_parse_rfc3339_ms("1970-01-01T00:00:01.250Z", &ms), 0);
    cr_assert_eq(ms, 1250);
    cr_assert_eq(svc_parse_rfc3339_ms("1970-01-01T01:00:00+01:00", &ms), 0);
    cr_assert_eq(ms, 0);
    cr_assert_eq(svc_parse_rfc3339_ms("2026-12-03T16:50:01-00:30", &ms), 0);
    cr_assert_eq(ms, 1796318401000LL);

    const char *bad[] = {"",
                         "2026-12-03",
                         "2026-12-03T16:50:01",
                         "2026-02-31T00:00:00Z",
                         "2026-13-01T00:00:00Z",
                         "2026-12-03T16:50:01.Z",
                         "2026-12-03T16:50:01Zjunk",
                         "2026-12-03T16:50:01+5:00"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(svc_parse_rfc3339_ms(bad[i], &ms), -1, "'%s'", bad[i]);
}
