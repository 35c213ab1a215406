/*
 * `hoprec replay`: prequential evaluation through the HTTP API. Each event
 * of a time-ordered event file is first predicted (the user's
 * recommendations are fetched) and then sent, as a shop would see it: the
 * hit rate measures what the service recommended before it knew.
 *
 * Events go in batches (--send-batch): the batch's predictions are asked
 * over --parallel kept-alive connections at once, then the batch is
 * posted. A batch holds one event per user at most (it ends before a
 * user's second event), so every prediction is made after all of that
 * user's earlier events were sent, as one at a time would make it: a user
 * who views, clicks and buys an item is never asked about the purchase
 * before the service has seen the view.
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
    long k, limit, skip, progress, send_batch, parallel;
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
     "post events in batches of up to N (faster); a batch ends before a "
     "user's second event, so each prediction follows that user's earlier "
     "events",
     1, 1000, false},
    {"parallel", SVC_OPT_INT, &o.parallel, "1", "N",
     "connections that ask a batch's predictions at once", 1, 256, false},
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

/* A response body being received. */
struct body {
    char *buf;
    size_t len, cap;
};

/* An event of the batch being formed. */
struct row {
    char *user, *item;
    enum gnn_event_type type;
    long line;
    int64_t time;
    double value;
    bool predict; /* past --skip */
};

/* One connection asking predictions; row is the event it asks for. */
struct slot {
    CURL *curl;
    struct body body;
    long row;
};

struct replay {
    CURL *curl; /* posts the batches */
    struct curl_slist *headers;
    struct body body;
    CURLM *multi;
    struct slot *slots; /* o.parallel */
    struct row *rows;   /* o.send_batch */
    long n_rows;
    struct tally t;
    long seen; /* events read */
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
    struct body *b = ctx;
    size_t add = size * n;

    if (b->len + add + 1 > b->cap) {
        size_t cap = (b->len + add + 1) * 2;
        char *grown = realloc(b->buf, cap);
        if (grown == NULL)
            return 0;
        b->buf = grown;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, p, add);
    b->len += add;
    b->buf[b->len] = '\0';
    return add;
}

/* A POST; returns the HTTP status (0 when none came). */
static long post(struct replay *r, const char *url, const char *body)
{
    long status = 0;

    r->body.len = 0;
    curl_easy_setopt(r->curl, CURLOPT_URL, url);
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

/* Start asking for the recommendations of row i's user on slot sl. */
static void ask(struct replay *r, struct slot *sl, long i)
{
    char *escaped = curl_easy_escape(sl->curl, r->rows[i].user, 0);
    char url[2048];

    /* Always explicit: the service's own default is to exclude. */
    snprintf(url, sizeof(url),
             "%s/v1/users/%s/recommendations?k=%ld&exclude_seen=%s", o.url,
             escaped ? escaped : "", o.k, o.exclude_seen ? "true" : "false");
    curl_free(escaped);
    sl->row = i;
    sl->body.len = 0;
    curl_easy_setopt(sl->curl, CURLOPT_URL, url);
    curl_multi_add_handle(r->multi, sl->curl);
}

/* Score the answer on sl against its row's item. */
static void score(struct replay *r, struct slot *sl, CURLcode code)
{
    const struct row *row = &r->rows[sl->row];
    long status = 0;
    double seconds = 0;

    if (code == CURLE_OK)
        curl_easy_getinfo(sl->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(sl->curl, CURLINFO_TOTAL_TIME, &seconds);
    r->t.ask_seconds += seconds;
    if (status != 200) {
        r->t.failed_requests++;
        return;
    }

    json_t *root = json_loadb(sl->body.buf, sl->body.len, 0, NULL);
    json_t *items = json_object_get(root, "items");
    r->t.predicted[row->type]++;
    count_fallback(&r->t, json_string_value(json_object_get(root, "fallback")));
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *id = json_object_get(json_array_get(items, i), "item_id");
        if (json_is_string(id) &&
            strcmp(json_string_value(id), row->item) == 0) {
            r->t.hits[row->type]++;
            r->t.rr[row->type] += 1.0 / (double)(i + 1);
            break;
        }
    }
    json_decref(root);
}

/* Predict every row of the batch marked so, o.parallel at a time. */
static void predict_batch(struct replay *r)
{
    long next = 0, busy = 0;
    int running = 0;

    for (long s = 0; s < o.parallel; s++) {
        while (next < r->n_rows && !r->rows[next].predict)
            next++;
        if (next == r->n_rows)
            break;
        ask(r, &r->slots[s], next++);
        busy++;
    }
    while (busy > 0) {
        CURLMsg *msg;
        int left;

        curl_multi_perform(r->multi, &running);
        while ((msg = curl_multi_info_read(r->multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct slot *sl = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &sl);
            CURLcode code = msg->data.result;
            curl_multi_remove_handle(r->multi, sl->curl);
            score(r, sl, code);
            busy--;
            while (next < r->n_rows && !r->rows[next].predict)
                next++;
            if (next < r->n_rows) {
                ask(r, sl, next++);
                busy++;
            }
        }
        if (busy > 0)
            curl_multi_poll(r->multi, NULL, 0, 100, NULL);
    }
}

static json_t *event_json(const struct row *row)
{
    char id[64];
    json_t *ev =
        json_pack("{s:s, s:s, s:s, s:I}", "user_id", row->user, "item_id",
                  row->item, "type", gnn_event_type_name(row->type),
                  "timestamp", (json_int_t)row->time);

    /* Ids from the line number make a second replay a no-op. */
    snprintf(id, sizeof(id), "replay-%ld", row->line);
    json_object_set_new(ev, "event_id", json_string(id));
    if (row->type == GNN_EVENT_RATING)
        json_object_set_new(ev, "value", json_real(row->value));
    return ev;
}

/* Predict the batch, then post it as one request. */
static void flush(struct replay *r)
{
    char url[2048];

    if (r->n_rows == 0)
        return;
    predict_batch(r);
    if (o.send) {
        json_t *events = json_array();
        for (long i = 0; i < r->n_rows; i++)
            json_array_append_new(events, event_json(&r->rows[i]));
        json_t *batch = json_pack("{s:o}", "events", events);
        char *body = json_dumps(batch, JSON_COMPACT);
        json_decref(batch);
        snprintf(url, sizeof(url), "%s/v1/events", o.url);
        if (body != NULL && post(r, url, body) == 202)
            r->t.sent += r->n_rows;
        free(body);
    }
    for (long i = 0; i < r->n_rows; i++) {
        free(r->rows[i].user);
        free(r->rows[i].item);
    }
    r->n_rows = 0;
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

    /* Predicting a user's event before their earlier one is sent would
     * show the service less than one at a time does. */
    for (long i = 0; i < r->n_rows; i++) {
        if (strcmp(r->rows[i].user, user) == 0) {
            flush(r);
            break;
        }
    }
    struct row *q = &r->rows[r->n_rows];
    *q = (struct row){.user = strdup(user),
                      .item = strdup(item),
                      .type = row->type,
                      .line = row->line,
                      .time = row->time,
                      .value = row->value,
                      .predict = r->seen >= o.skip};
    if (q->user == NULL || q->item == NULL) {
        free(q->user);
        free(q->item);
        return -1;
    }
    r->n_rows++;
    r->seen++;
    if (r->n_rows == o.send_batch)
        flush(r);
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

/* A handle that keeps its connection alive and collects into b. */
static CURL *new_handle(struct replay *r, struct body *b)
{
    CURL *c = curl_easy_init();

    if (c == NULL)
        return NULL;
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    return c;
}

static int setup(struct replay *r)
{
    char auth[1024];

    r->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (o.key != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o.key);
        r->headers = curl_slist_append(r->headers, auth);
    }
    r->curl = new_handle(r, &r->body);
    r->multi = curl_multi_init();
    r->slots = calloc((size_t)o.parallel, sizeof(*r->slots));
    r->rows = calloc((size_t)o.send_batch, sizeof(*r->rows));
    if (r->headers == NULL || r->curl == NULL || r->multi == NULL ||
        r->slots == NULL || r->rows == NULL)
        return -1;
    for (long s = 0; s < o.parallel; s++) {
        struct slot *sl = &r->slots[s];
        if ((sl->curl = new_handle(r, &sl->body)) == NULL)
            return -1;
        curl_easy_setopt(sl->curl, CURLOPT_PRIVATE, sl);
    }
    return 0;
}

static void teardown(struct replay *r)
{
    for (long s = 0; r->slots != NULL && s < o.parallel; s++) {
        curl_easy_cleanup(r->slots[s].curl);
        free(r->slots[s].body.buf);
    }
    free(r->slots);
    free(r->rows);
    if (r->multi != NULL)
        curl_multi_cleanup(r->multi);
    curl_easy_cleanup(r->curl);
    curl_slist_free_all(r->headers);
    free(r->body.buf);
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
        teardown(&r);
        curl_global_cleanup();
        return svc_cli_fail(cmd, "cannot start an HTTP client");
    }

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

    teardown(&r);
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
