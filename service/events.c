#include "events.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"

#define MAX_ID_BYTES 256
#define MAX_EVENT_ID 64

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------------- */
/* Answers                                                                */

static void problem(struct svc_ingest_reply *reply, int status,
                    const char *slug, const char *title, const char *detail)
{
    char type[128];

    snprintf(type, sizeof(type), "%s%s", SVC_PROBLEM_BASE, slug);
    reply->status = status;
    reply->problem = true;
    reply->body =
        json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", type, "title", title,
                  "status", status, "detail", detail, "instance", "/v1/events");
}

static void add_rejection(json_t *rejected, size_t index, const char *member,
                          const char *detail)
{
    char pointer[96];

    if (member != NULL)
        snprintf(pointer, sizeof(pointer), "/events/%zu/%s", index, member);
    else
        snprintf(pointer, sizeof(pointer), "/events/%zu", index);
    json_array_append_new(rejected, json_pack("{s:I, s:s, s:s}", "index",
                                              (json_int_t)index, "pointer",
                                              pointer, "detail", detail));
}

/* ---------------------------------------------------------------------- */
/* Parsing one event                                                      */

static bool valid_utf8(const char *s, size_t len)
{
    /* jansson accepts only valid UTF-8, but ids must not hold NUL bytes,
     * nor (openapi.yaml's Id) control characters: a '\n' in a stored id
     * would make every later snapshot of the learner unwritable. */
    if (strlen(s) != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

/* The string member `name`, or NULL with a rejection recorded. */
static const char *get_id(json_t *ev, const char *name, size_t max,
                          bool required, size_t index, json_t *rejected,
                          bool *bad)
{
    json_t *v = json_object_get(ev, name);
    char detail[128];

    if (v == NULL || json_is_null(v)) {
        if (required) {
            snprintf(detail, sizeof(detail), "%s is required", name);
            add_rejection(rejected, index, name, detail);
            *bad = true;
        }
        return NULL;
    }

    size_t len = json_string_length(v);
    if (!json_is_string(v) || len == 0 || len > max ||
        !valid_utf8(json_string_value(v), len)) {
        snprintf(detail, sizeof(detail),
                 "%s must be a string of 1 to %zu bytes", name, max);
        add_rejection(rejected, index, name, detail);
        *bad = true;
        return NULL;
    }
    return json_string_value(v);
}

static bool event_id_chars_ok(const char *s)
{
    for (; *s != '\0'; s++) {
        if (!isalnum((unsigned char)*s) && strchr("._:-", *s) == NULL)
            return false;
    }
    return true;
}

static bool parse_type(json_t *ev, size_t index, json_t *rejected,
                       struct gnn_event *out)
{
    json_t *v = json_object_get(ev, "type");
    int type =
        json_is_string(v) ? gnn_event_type_parse(json_string_value(v)) : -1;

    if (type < 0) {
        add_rejection(rejected, index, "type",
                      "type must be one of view, click, cart, purchase, "
                      "rating");
        return false;
    }
    out->type = (enum gnn_event_type)type;
    return true;
}

static bool parse_value(json_t *ev, size_t index, json_t *rejected,
                        struct gnn_event *out)
{
    json_t *v = json_object_get(ev, "value");

    if (out->type != GNN_EVENT_RATING)
        return true;
    if (!json_is_number(v)) {
        add_rejection(rejected, index, "value",
                      "value is required for ratings and must be a number");
        return false;
    }
    double value = json_number_value(v);
    if (!isfinite(value) || value < 0 || value > 10) {
        add_rejection(rejected, index, "value", "value must be from 0 to 10");
        return false;
    }
    out->value = value;
    return true;
}

static bool parse_timestamp(json_t *ev, size_t index, json_t *rejected,
                            const struct svc_ingest_config *cfg, int64_t now,
                            struct gnn_event *out)
{
    json_t *v = json_object_get(ev, "timestamp");
    int64_t ms = now;

    if (json_is_string(v)) {
        if (svc_parse_rfc3339_ms(json_string_value(v), &ms) != 0) {
            add_rejection(rejected, index, "timestamp",
                          "timestamp must be RFC 3339, e.g. "
                          "2026-12-03T16:50:01Z, or unix seconds");
            return false;
        }
    } else if (json_is_number(v)) {
        double s = json_number_value(v);
        if (!isfinite(s) || s < 0 || s > 4102444800.0) {
            add_rejection(rejected, index, "timestamp",
                          "timestamp in unix seconds must lie between 1970 "
                          "and 2100");
            return false;
        }
        ms = (int64_t)llround(s * 1000.0);
    } else if (v != NULL && !json_is_null(v)) {
        add_rejection(rejected, index, "timestamp",
                      "timestamp must be a string or a number");
        return false;
    }

    if (ms > now + cfg->max_future_ms) {
        add_rejection(rejected, index, "timestamp",
                      "timestamp lies too far in the future");
        return false;
    }
    if (cfg->max_past_ms > 0 && ms < now - cfg->max_past_ms) {
        add_rejection(rejected, index, "timestamp",
                      "timestamp is older than the accepted window");
        return false;
    }
    out->occurred_at_ms = ms;
    return true;
}

static bool parse_event(json_t *ev, size_t index, json_t *rejected,
                        const struct svc_ingest_config *cfg, int64_t now,
                        struct gnn_event *out)
{
    bool bad = false;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(ev)) {
        add_rejection(rejected, index, NULL, "an event must be an object");
        return false;
    }

    out->user_id =
        get_id(ev, "user_id", MAX_ID_BYTES, true, index, rejected, &bad);
    out->item_id =
        get_id(ev, "item_id", MAX_ID_BYTES, true, index, rejected, &bad);
    out->session_id =
        get_id(ev, "session_id", MAX_ID_BYTES, false, index, rejected, &bad);
    const char *event_id =
        get_id(ev, "event_id", MAX_EVENT_ID, false, index, rejected, &bad);
    if (event_id != NULL && !event_id_chars_ok(event_id)) {
        add_rejection(rejected, index, "event_id",
                      "event_id may hold only letters, digits and . _ : -");
        bad = true;
    }
    if (event_id != NULL)
        snprintf(out->event_id, sizeof(out->event_id), "%s", event_id);

    /* Report every problem of the event, not only the first. */
    bad |= !parse_type(ev, index, rejected, out);
    bad |= !bad && !parse_value(ev, index, rejected, out);
    bad |= !parse_timestamp(ev, index, rejected, cfg, now, out);
    return !bad;
}

/* ---------------------------------------------------------------------- */
/* Idempotency                                                            */

/*
 * A 128-bit digest of the body: two FNV-1a passes with different offsets.
 * It detects a key reused with a different body; it is not meant to
 * withstand a client crafting collisions against its own key.
 */
static void hash_body(const char *body, size_t len, char out[33])
{
    uint64_t a = 0xcbf29ce484222325ULL, b = 0x84222325cbf29ce4ULL;

    for (size_t i = 0; i < len; i++) {
        a = (a ^ (unsigned char)body[i]) * 0x100000001b3ULL;
        b = (b ^ (unsigned char)body[len - 1 - i]) * 0x100000001b3ULL;
    }
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)a,
             (unsigned long long)b);
}

/* True when the key's first answer was replayed into reply. */
static bool replay(struct gnn_store *store, const char *key, const char *hash,
                   struct svc_ingest_reply *reply)
{
    struct gnn_idem_record rec;

    if (gnn_store_idem_get(store, key, &rec, NULL) != 0)
        return false;

    if (strcmp(rec.request_hash, hash) != 0) {
        problem(reply, 422, "idempotency-key-reused", "Idempotency-Key reused",
                "this Idempotency-Key was used before with another body");
    } else {
        reply->status = rec.status;
        reply->problem = false;
        reply->body = json_loads(rec.response, 0, NULL);
    }
    gnn_idem_record_clear(&rec);
    return true;
}

/* ---------------------------------------------------------------------- */
/* The request                                                            */

static json_t *parse_batch(const char *body, size_t len,
                           const struct svc_ingest_config *cfg,
                           struct svc_ingest_reply *reply)
{
    json_error_t jerr;
    char detail[256];
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);

    if (root == NULL) {
        snprintf(detail, sizeof(detail), "body is not valid JSON: %s at %d:%d",
                 jerr.text, jerr.line, jerr.column);
        problem(reply, 400, "malformed-body", "Malformed body", detail);
        return NULL;
    }

    json_t *events = json_object_get(root, "events");
    if (!json_is_array(events)) {
        problem(reply, 400, "malformed-body", "Malformed body",
                "body must be an object with an array member \"events\"");
    } else if (json_array_size(events) == 0) {
        problem(reply, 400, "malformed-body", "Malformed body",
                "\"events\" is empty");
    } else if (json_array_size(events) > cfg->max_events) {
        snprintf(detail, sizeof(detail),
                 "a batch holds at most %zu events, this one %zu",
                 cfg->max_events, json_array_size(events));
        problem(reply, 413, "batch-too-large", "Batch too large", detail);
    } else {
        return root;
    }
    json_decref(root);
    return NULL;
}

static void invalid_events(struct svc_ingest_reply *reply, json_t *rejected)
{
    problem(reply, 422, "invalid-events", "Invalid events",
            "no event of the batch is valid; see errors");
    json_object_set_new(reply->body, "errors", rejected);
}

static int store_batch(struct gnn_store *store,
                       const struct svc_ingest_config *cfg,
                       struct gnn_event *events, size_t n, const char *key,
                       const char *hash, json_t *answer,
                       struct svc_ingest_reply *reply)
{
    enum gnn_append_outcome *outcome = calloc(n, sizeof(*outcome));
    char *text = json_dumps(answer, JSON_COMPACT);
    struct gnn_error gerr = {0};
    int ret = -1;

    if (outcome == NULL || text == NULL)
        goto out;

    ret = gnn_store_append(store, events, n, key, hash, 202, text, outcome,
                           NULL, &gerr);
    if (ret == GNN_EEXIST && replay(store, key, hash, reply)) {
        ret = 0; /* a concurrent request with the same key won */
        goto out;
    }
    if (ret != 0) {
        problem(reply, 503, "store-unavailable", "Event store unavailable",
                "the events could not be stored; nothing of this batch was "
                "kept, retry later");
        reply->retry_after_s = 5;
        ret = 0;
        goto out;
    }

    for (size_t i = 0; i < n; i++) {
        if (outcome[i] == GNN_DUPLICATE) {
            reply->duplicates++;
        } else {
            reply->stored++;
            if (cfg->on_event != NULL)
                cfg->on_event(cfg->on_event_ctx, &events[i]);
        }
    }
    reply->status = 202;
    reply->body = json_incref(answer);
out:
    free(outcome);
    free(text);
    return ret;
}

/* Fill generated ids now, so the answer (stored with the events) has them. */
static void complete_ids(struct gnn_event *events, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (events[i].event_id[0] != '\0')
            continue;
        unsigned char bytes[16];
        FILE *f = fopen("/dev/urandom", "rb");
        if (f == NULL || fread(bytes, 1, sizeof(bytes), f) != sizeof(bytes))
            memset(bytes, 0, sizeof(bytes));
        if (f != NULL)
            fclose(f);
        for (int b = 0; b < 16; b++)
            snprintf(events[i].event_id + 2 * b, 3, "%02x", bytes[b]);
    }
}

static json_t *accepted_answer(const struct gnn_event *events, size_t n,
                               json_t *rejected)
{
    json_t *ids = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(ids, json_string(events[i].event_id));
    return json_pack("{s:I, s:o, s:O}", "accepted", (json_int_t)n, "event_ids",
                     ids, "rejected", rejected);
}

int svc_events_ingest(struct gnn_store *store,
                      const struct svc_ingest_config *cfg, const char *body,
                      size_t len, const char *idem_key,
                      struct svc_ingest_reply *reply)
{
    char hash[33];
    struct gnn_event *events = NULL;
    json_t *root = NULL, *rejected = NULL, *answer = NULL;
    int ret = 0;

    memset(reply, 0, sizeof(*reply));
    hash_body(body, len, hash);
    if (idem_key != NULL && replay(store, idem_key, hash, reply))
        goto out;

    root = parse_batch(body, len, cfg, reply);
    if (root == NULL)
        goto out;

    json_t *list = json_object_get(root, "events");
    size_t total = json_array_size(list), n = 0;
    int64_t now = now_ms();
    events = calloc(total, sizeof(*events));
    rejected = json_array();
    if (events == NULL || rejected == NULL) {
        ret = SVC_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < total; i++) {
        if (parse_event(json_array_get(list, i), i, rejected, cfg, now,
                        &events[n]))
            n++;
    }

    if (n == 0) {
        invalid_events(reply, json_incref(rejected));
        goto out;
    }
    complete_ids(events, n);
    answer = accepted_answer(events, n, rejected);
    ret = store_batch(store, cfg, events, n, idem_key, hash, answer, reply);
out:
    if (reply->body == NULL && ret == 0)
        ret = SVC_ENOMEM;
    json_decref(answer);
    json_decref(rejected);
    json_decref(root);
    free(events);
    return ret;
}

/* ---------------------------------------------------------------------- */
/* RFC 3339                                                               */

static int digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++, (*p)++) {
        if (!isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (**p - '0');
    }
    *out = v;
    return 0;
}

static int expect(const char **p, const char *chars)
{
    if (**p == '\0' || strchr(chars, **p) == NULL)
        return -1;
    (*p)++;
    return 0;
}

int svc_parse_rfc3339_ms(const char *text, int64_t *out_ms)
{
    const char *p = text;
    int year, mon, day, hour, min, sec, ms = 0, off = 0;

    if (digits(&p, 4, &year) || expect(&p, "-") || digits(&p, 2, &mon) ||
        expect(&p, "-") || digits(&p, 2, &day) || expect(&p, "Tt ") ||
        digits(&p, 2, &hour) || expect(&p, ":") || digits(&p, 2, &min) ||
        expect(&p, ":") || digits(&p, 2, &sec))
        return -1;

    if (*p == '.') {
        int scale = 100;
        for (p++; isdigit((unsigned char)*p); p++) {
            ms += (*p - '0') * scale;
            scale /= 10;
        }
        if (p[-1] == '.')
            return -1;
    }

    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (digits(&p, 2, &oh) || expect(&p, ":") || digits(&p, 2, &om) ||
            oh > 23 || om > 59)
            return -1;
        off = sign * (oh * 60 + om);
    } else {
        return -1;
    }
    if (*p != '\0' || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 ||
        min > 59 || sec > 60)
        return -1;

    struct tm tm = {.tm_year = year - 1900,
                    .tm_mon = mon - 1,
                    .tm_mday = day,
                    .tm_hour = hour,
                    .tm_min = min,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    if (tm.tm_mday != day) /* 31 February and the like */
        return -1;
    *out_ms = ((int64_t)t - (int64_t)off * 60) * 1000 + ms;
    return 0;
}
