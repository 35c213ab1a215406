/*
 * The whole offline-to-online path with the real binary: `hoprec gen`
 * makes a shop, `hoprec train` a snapshot, `hoprec serve` serves it with
 * an event store, and `hoprec replay` streams the shop's events through
 * the API, predicting each before sending it.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "server_proc.h"

extern char **environ;

static char dir[] = "/tmp/hoprec-test-replay-XXXXXX";
static char data[200], snap[200], db[200], report[200], events[300];

/* Run the hoprec binary with args (NULL-ended); returns its exit status. */
static int hoprec(const char *const *args)
{
    const char *bin = getenv("HOPREC_BIN");
    const char *argv[32] = {bin};
    pid_t pid;
    int status, n = 1;

    cr_assert_not_null(bin, "HOPREC_BIN is not set");
    for (; args[n - 1] != NULL && n < 31; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", 0, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 0, 0);
    cr_assert_eq(
        posix_spawn(&pid, bin, &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
    snprintf(data, sizeof(data), "%s/data", dir);
    snprintf(snap, sizeof(snap), "%s/snapshot", dir);
    snprintf(db, sizeof(db), "%s/events.db", dir);
    snprintf(report, sizeof(report), "%s/replay.json", dir);
    snprintf(events, sizeof(events), "%s/events.csv", data);

    cr_assert_eq(hoprec((const char *[]){"gen", "--out", data, "--users", "150",
                                         "--items", "80", "--seed", "5", NULL}),
                 0);
    cr_assert_eq(hoprec((const char *[]){"train", "--data", data, "--epochs",
                                         "2", "--eval-every", "0", "--dim",
                                         "16", "--out", snap, NULL}),
                 0);
}

static void teardown(void)
{
    char cmd[400];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(replay, .init = setup, .fini = teardown, .timeout = 120);

static json_t *replay(int port, const char *limit)
{
    char url[64];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    cr_assert_eq(hoprec((const char *[]){
                     "replay", "--url", url, "--events", events, "--limit",
                     limit, "--send-batch", "7", "--report", report, NULL}),
                 0);
    json_t *rep = json_load_file(report, 0, NULL);
    cr_assert_not_null(rep);
    return rep;
}

static long long member(json_t *obj, const char *key)
{
    return json_integer_value(json_object_get(obj, key));
}

Test(replay, events_are_predicted_then_sent_and_a_rerun_stores_nothing_new)
{
    struct server_proc s;

    cr_assert_eq(
        server_start(&s,
                     (const char *[]){"--snapshot", snap, "--store", db, NULL},
                     NULL),
        0);

    json_t *rep = replay(s.port, "120");
    cr_assert_eq(member(rep, "events"), 120);
    cr_assert_eq(member(rep, "predicted"), 120);
    cr_assert_eq(member(rep, "sent"), 120);
    cr_assert_eq(member(rep, "failed_requests"), 0);
    json_t *fb = json_object_get(rep, "fallback");
    cr_assert_eq(member(fb, "none") + member(fb, "on_the_fly") +
                     member(fb, "popular"),
                 120);
    double hit = json_real_value(json_object_get(rep, "hit@10"));
    cr_assert(hit >= 0.0 && hit <= 1.0);
    json_decref(rep);

    /* The same lines again: their event ids are known, nothing doubles. */
    rep = replay(s.port, "120");
    cr_assert_eq(member(rep, "sent"), 120);
    json_decref(rep);
    cr_assert_eq(server_stop(&s, 10), 0);

    char check[400];
    snprintf(check, sizeof(check),
             "test \"$(sqlite3 '%s' 'SELECT COUNT(*) FROM events')\" = 120",
             db);
    cr_assert_eq(system(check), 0, "the store holds each event once");
}

Test(replay, no_service_is_a_clear_failure)
{
    int port = 1; /* nothing listens on port 1 of the loopback */
    char url[64];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    cr_assert_eq(hoprec((const char *[]){"replay", "--url", url, "--events",
                                         events, "--limit", "3", NULL}),
                 1);
    cr_assert_eq(hoprec((const char *[]){"replay", "--url", url, NULL}), 2,
                 "--events is required");
}

/* Predict-only replay of the first 200 events over `parallel`
 * connections; returns hit@10 times 1e6 and fills *predicted. */
static long long predict_only(int port, const char *parallel,
                              long long *predicted)
{
    char url[64];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    cr_assert_eq(hoprec((const char *[]){
                     "replay", "--url", url, "--events", events, "--limit",
                     "200", "--send=false", "--send-batch", "25", "--parallel",
                     parallel, "--report", report, NULL}),
                 0);
    json_t *rep = json_load_file(report, 0, NULL);
    cr_assert_not_null(rep);
    *predicted = member(rep, "predicted");
    cr_assert_eq(member(rep, "failed_requests"), 0);
    long long hit =
        (long long)(json_real_value(json_object_get(rep, "hit@10")) * 1e6);
    json_decref(rep);
    return hit;
}

Test(replay, parallel_predictions_score_like_one_connection)
{
    struct server_proc s;
    long long n1 = 0, n4 = 0;

    cr_assert_eq(
        server_start(&s, (const char *[]){"--snapshot", snap, NULL}, NULL), 0);
    long long one = predict_only(s.port, "1", &n1);
    long long four = predict_only(s.port, "4", &n4);
    cr_assert_eq(n1, 200);
    cr_assert_eq(n4, 200);
    cr_assert_eq(one, four, "the same answers, asked four at a time");
    cr_assert_eq(server_stop(&s, 10), 0);
}

/* Send the first 200 events to a fresh server and store with the extra
 * replay options opts (NULL-ended); returns the report. */
static json_t *send_200(const char *store, const char *const *opts)
{
    struct server_proc s;
    char url[64];
    const char *args[32] = {"replay",  "--url", url,        "--events", events,
                            "--limit", "200",   "--report", report};
    int n = 9;

    cr_assert_eq(server_start(&s,
                              (const char *[]){"--snapshot", snap, "--store",
                                               store, NULL},
                              NULL),
                 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", s.port);
    for (; *opts != NULL && n < 31; opts++)
        args[n++] = *opts;
    args[n] = NULL;
    cr_assert_eq(hoprec(args), 0);
    cr_assert_eq(server_stop(&s, 10), 0);
    json_t *rep = json_load_file(report, 0, NULL);
    cr_assert_not_null(rep);
    cr_assert_eq(member(rep, "sent"), 200);
    return rep;
}

/* hit@10 (times 1e6) of sending the first 200 events with these batch
 * options to a fresh server and store. */
static long long sent_hits(const char *batch, const char *parallel,
                           const char *store)
{
    json_t *rep =
        send_200(store, (const char *[]){"--send-batch", batch, "--parallel",
                                         parallel, NULL});
    long long hit =
        (long long)(json_real_value(json_object_get(rep, "hit@10")) * 1e6);
    json_decref(rep);
    return hit;
}

Test(replay, batches_predict_each_event_after_the_users_earlier_ones)
{
    char one[300], many[300];

    snprintf(one, sizeof(one), "%s/one.db", dir);
    snprintf(many, sizeof(many), "%s/many.db", dir);
    cr_assert_eq(sent_hits("50", "4", many), sent_hits("1", "1", one),
                 "batched replay scores as one event at a time");
}

/* Hit rate of the stored clicks (times 1e6) when the first 200 events
 * are sent with k 80, the whole generated catalog, and exclude_flag. */
static long long click_hits(const char *exclude_flag, const char *store)
{
    json_t *rep =
        send_200(store, (const char *[]){"--k", "80", exclude_flag, NULL});
    json_t *click = json_object_get(json_object_get(rep, "by_type"), "click");
    cr_assert(member(click, "events") > 0, "the first events hold clicks");
    long long hit =
        (long long)(json_real_value(json_object_get(click, "hit@80")) * 1e6);
    json_decref(rep);
    return hit;
}

/* A generated click follows a view of the same item: with the whole
 * catalog asked it is a hit exactly when seen items stay in the list. */
Test(replay, exclude_seen_is_off_unless_asked)
{
    char kept[300], excluded[300];

    snprintf(kept, sizeof(kept), "%s/kept.db", dir);
    snprintf(excluded, sizeof(excluded), "%s/excluded.db", dir);
    cr_assert_gt(click_hits("--exclude-seen=false", kept), 500000);
    cr_assert_eq(click_hits("--exclude-seen=true", excluded), 0);
}
