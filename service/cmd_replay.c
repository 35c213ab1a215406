/*
 * `hoprec replay`: prequential evaluation through the HTTP API. Each event
 * of a time-ordered event file is first predicted (the user's
 * recommendations are fetched) and then sent, as a shop would see it: the
 * hit rate measures what the service recommended before it knew.
 */
#include "commands.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gnn.h"
#include "gnn_events.h"
#include "log.h"

static struct {
    char *url, *events, *key, *report;
    long k, limit, skip, progress, send_batch;
    bool exclude_seen, send;
} o;

static struct svc_opt replay_opts[] = {
    {"url", SVC_OPT_STR, &o.url, "http://127.0.0.1:8080", "URL",
     "base URL of the running service", 0, 0, false},
    {"events", SVC_OPT_STR, &o.events, NULL, "FILE",
     "time-ordered event file (the CSV `hoprec gen` writes, or u.data)", 0, 0,
     true},
    {"k", SVC_OPT_INT, &o.k, "10", "K",
     "recommendations asked before each "
     "event; a hit is the event's item among them",
     1, 1000, false},
    {"exclude-seen", SVC_OPT_BOOL, &o.exclude_seen, "false", NULL,
     "ask with exclude_seen=true (repeat purchases then never hit)", 0, 0,
     false},
    {"send", SVC_OPT_BOOL, &o.send, "true", NULL,
     "post each event after predicting it (false: predict only)", 0, 0, false},
    {"send-batch", SVC_OPT_INT, &o.send_batch, "1", "N",
     "post events in batches of N (faster; the N events of a batch are all "
     "predicted before any of them is sent)",
     1, 1000, false},
    {"limit", SVC_OPT_INT, &o.limit, "0", "N",
     "stop after N events (0: the whole file)", 0, 1e12, false},
    {"skip", SVC_OPT_INT, &o.skip, "0", "N",
     "send the first N events without predicting them (a warm-up)", 0, 1e12,
     false},
    {"key", SVC_OPT_STR, &o.key, NULL, "KEY",
     "API key sent as a Bearer token (read and ingest roles)", 0, 0, false},
    {"progress", SVC_OPT_INT, &o.progress, "10000", "N",
     "log the running figures every N events (0: never)", 0, 1e12, false},
    {"report", SVC_OPT_STR, &o.report, NULL, "FILE",
     "write the figures as JSON", 0, 0, false},
    SVC_COMMON_OPTS,
    {NULL, 0, NULL, NULL, NULL, NULL, 0, 0, false},
};

/* Running figures, by event type and over all. */
struct tally {
    long predicted[GNN_EVENT_N_TYPES];
    long hits[GNN_EVENT_N_TYPES];
    double rr[GNN_EVENT_N_TYPES]; /* sum of reciprocal ranks */
    long fallback_none, fallback_on_the_fly, fallback_popular;
    long sent, failed_requests;
    double ask_seconds; /* summed recommendation latency */
};

struct replay {
    CURL *curl;
    struct curl_slist *headers;
    char *buf; /* the last response body */
    size_t len, cap;
    struct tally t;
    long seen;       /* events read */
    json_t *pending; /* events predicted, not yet sent */
    double start;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t collect(char *p, size_t size, size_t n, void *ctx)
{
    struct replay *r = ctx;
    size_t add = size * n;

    if (r->len + add + 1 > r->cap) {
        size_t cap = (r->len + add + 1) * 2;
        char *grown = realloc(r->buf, cap);
        if (grown == NULL)
            return 0;
        r->buf = grown;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, p, add);
    r->len += add;
    r->buf[r->len] = '\0';
    return add;
}

/* One request; returns the HTTP status (0 when none came). */
static long request(struct replay *r, const char *url, const char *body)
{
    long status = 0;

    r->len = 0;
    curl_easy_setopt(r->curl, CURLOPT_URL, url);
    curl_easy_setopt(r->curl, CURLOPT_HTTPGET, 1L);
    if (body != NULL)
        curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(r->curl) == CURLE_OK)
        curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status >= 300)
        r->t.failed_requests++;
    return status;
}

static void count_fallback(struct tally *t, const char *fallback)
{
    if (fallback == NULL || strcmp(fallback, "none") == 0)
        t->fallback_none++;
    else if (strcmp(fallback, "on_the_fly") == 0)
        t->fallback_on_the_fly++;
    else
        t->fallback_popular++;
}

/* Ask for the user's recommendations and score the event's item. */
static void predict(struct replay *r, const char *user, const char *item,
                    enum gnn_event_type type)
{
    char *escaped = curl_easy_escape(r->curl, user, 0);
    char url[2048];

    snprintf(url, sizeof(url), "%s/v1/users/%s/recommendations?k=%ld%s", o.url,
             escaped ? escaped : "", o.k,
             o.exclude_seen ? "&exclude_seen=true" : "");
    curl_free(escaped);

    double t0 = now_s();
    long status = request(r, url, NULL);
    r->t.ask_seconds += now_s() - t0;
    if (status != 200)
        return;

    json_t *root = json_loadb(r->buf, r->len, 0, NULL);
    json_t *items = json_object_get(root, "items");
    r->t.predicted[type]++;
    count_fallback(&r->t, json_string_value(json_object_get(root, "fallback")));
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *id = json_object_get(json_array_get(items, i), "item_id");
        if (json_is_string(id) && strcmp(json_string_value(id), item) == 0) {
            r->t.hits[type]++;
            r->t.rr[type] += 1.0 / (double)(i + 1);
            break;
        }
    }
    json_decref(root);
}

/* Post the pending events as one batch. */
static void flush(struct replay *r)
{
    size_t n = json_array_size(r->pending);
    char url[2048];

    if (n == 0)
        return;
    json_t *batch = json_pack("{s:O}", "events", r->pending);
    char *body = json_dumps(batch, JSON_COMPACT);

    json_decref(batch);
    snprintf(url, sizeof(url), "%s/v1/events", o.url);
    if (body != NULL && request(r, url, body) == 202)
        r->t.sent += (long)n;
    free(body);
    json_array_clear(r->pending);
}

static void queue_event(struct replay *r, const struct gnn_event_row *row,
                        const char *user, const char *item)
{
    char id[64];
    json_t *ev = json_pack("{s:s, s:s, s:s, s:I}", "user_id", user, "item_id",
                           item, "type", gnn_event_type_name(row->type),
                           "timestamp", (json_int_t)row->time);

    /* Ids from the line number make a second replay a no-op. */
    snprintf(id, sizeof(id), "replay-%ld", row->line);
    json_object_set_new(ev, "event_id", json_string(id));
    if (row->type == GNN_EVENT_RATING)
        json_object_set_new(ev, "value", json_real(row->value));
    json_array_append_new(r->pending, ev);
    if ((long)json_array_size(r->pending) >= o.send_batch)
        flush(r);
}

static double rate(long hits, long n)
{
    return n > 0 ? (double)hits / (double)n : 0.0;
}

static void totals(const struct tally *t, long *n, long *hits, double *rr)
{
    *n = *hits = 0;
    *rr = 0;
    for (int i = 0; i < GNN_EVENT_N_TYPES; i++) {
        *n += t->predicted[i];
        *hits += t->hits[i];
        *rr += t->rr[i];
    }
}

static void log_progress(const struct replay *r)
{
    long n, hits;
    double rr;

    totals(&r->t, &n, &hits, &rr);
    svc_log_info("replay progress",
                 "events=%ld predicted=%ld hit_at_k=%.4f sent=%ld "
                 "events_per_s=%.0f",
                 r->seen, n, rate(hits, n), r->t.sent,
                 (double)r->seen / (now_s() - r->start));
}

static int on_row(void *ctx, const struct gnn_event_row *row)
{
    struct replay *r = ctx;
    char user[512], item[512];

    if (o.limit > 0 && r->seen >= o.limit)
        return 1; /* stop the scan */
    if (row->user_len >= sizeof(user) || row->item_len >= sizeof(item))
        return 0;
    memcpy(user, row->user, row->user_len);
    user[row->user_len] = '\0';
    memcpy(item, row->item, row->item_len);
    item[row->item_len] = '\0';

    if (r->seen >= o.skip)
        predict(r, user, item, row->type);
    if (o.send)
        queue_event(r, row, user, item);
    r->seen++;
    if (o.progress > 0 && r->seen % o.progress == 0)
        log_progress(r);
    return 0;
}

static json_t *report_json(const struct replay *r, double seconds)
{
    long n, hits;
    double rr;
    char hk[32], mk[32];
    json_t *by_type = json_object();

    snprintf(hk, sizeof(hk), "hit@%ld", o.k);
    snprintf(mk, sizeof(mk), "mrr@%ld", o.k);
    for (int i = 0; i < GNN_EVENT_N_TYPES; i++) {
        if (r->t.predicted[i] == 0)
            continue;
        json_object_set_new(
            by_type, gnn_event_type_name((enum gnn_event_type)i),
            json_pack(
                "{s:i, s:f, s:f}", "events", (json_int_t)r->t.predicted[i], hk,
                rate(r->t.hits[i], r->t.predicted[i]), mk,
                r->t.predicted[i] ? r->t.rr[i] / r->t.predicted[i] : 0.0));
    }
    totals(&r->t, &n, &hits, &rr);
    return json_pack(
        "{s:s, s:s, s:i, s:i, s:i, s:f, s:f, s:o, s:{s:i, s:i, s:i}, s:i, "
        "s:i, s:f, s:f}",
        "url", o.url, "events_file", o.events, "k", (json_int_t)o.k, "events",
        (json_int_t)r->seen, "predicted", (json_int_t)n, hk, rate(hits, n), mk,
        n ? rr / n : 0.0, "by_type", by_type, "fallback", "none",
        (json_int_t)r->t.fallback_none, "on_the_fly",
        (json_int_t)r->t.fallback_on_the_fly, "popular",
        (json_int_t)r->t.fallback_popular, "sent", (json_int_t)r->t.sent,
        "failed_requests", (json_int_t)r->t.failed_requests, "seconds", seconds,
        "mean_recommendation_ms", n ? 1000.0 * r->t.ask_seconds / n : 0.0);
}

static int setup(struct replay *r)
{
    char auth[1024];

    r->curl = curl_easy_init();
    if (r->curl == NULL)
        return -1;
    r->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (o.key != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o.key);
        r->headers = curl_slist_append(r->headers, auth);
    }
    curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->curl, CURLOPT_TIMEOUT, 30L);
    return 0;
}

static int run_replay(const struct svc_cmd *cmd, int argc, char **argv)
{
    struct replay r = {0};
    struct gnn_error err = {0};
    int ret;

    if (argc > 0)
        return svc_cli_usage_error(cmd, "unexpected argument '%s'", argv[0]);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (setup(&r) != 0) {
        curl_global_cleanup();
        return svc_cli_fail(cmd, "cannot start an HTTP client");
    }

    r.pending = json_array();
    r.start = now_s();
    ret = gnn_events_scan(o.events, on_row, &r, &err);
    flush(&r);
    double seconds = now_s() - r.start;
    if (ret < 0) {
        ret = svc_cli_fail(cmd, "%s", err.text);
    } else {
        json_t *rep = report_json(&r, seconds);
        char *text = json_dumps(rep, JSON_INDENT(2) | JSON_SORT_KEYS);
        long n, hits;
        double rr;
        totals(&r.t, &n, &hits, &rr);
        svc_log_info("replay done",
                     "events=%ld predicted=%ld hit_at_k=%.4f mrr_at_k=%.4f "
                     "sent=%ld failed_requests=%ld seconds=%.1f",
                     r.seen, n, rate(hits, n), n ? rr / n : 0.0, r.t.sent,
                     r.t.failed_requests, seconds);
        ret = 0;
        if (o.report != NULL &&
            json_dump_file(rep, o.report, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
            ret = svc_cli_fail(cmd, "cannot write '%s'", o.report);
        else if (o.report == NULL && text != NULL)
            printf("%s\n", text);
        free(text);
        json_decref(rep);
        if (ret == 0 && r.seen > 0 && n == 0)
            ret = svc_cli_fail(cmd,
                               "no recommendation could be fetched from "
                               "%s (is the service running?)",
                               o.url);
    }

    json_decref(r.pending);
    curl_slist_free_all(r.headers);
    curl_easy_cleanup(r.curl);
    free(r.buf);
    curl_global_cleanup();
    return ret;
}

struct svc_cmd svc_cmd_replay = {
    .name = "replay",
    .summary = "replay an event file through a running service and measure "
               "online hit rate",
    .usage = "--events FILE [--url URL] [options]",
    .description =
        "Streams a time-ordered event file through the HTTP API of a running "
        "service. Before sending each event it asks for that user's top-K "
        "recommendations; the event is a hit when its item is among them. "
        "This is prequential evaluation: every prediction is made before "
        "the service sees the event, as a shop would experience it. Prints "
        "(or writes with --report) hit@K and MRR@K over all events and by "
        "event type, and which fallback answered.",
    .opts = replay_opts,
    .run = run_replay,
};
