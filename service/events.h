/*
 * POST /v1/events: validate a batch of interaction events, store the
 * valid ones durably (group-committed in the event store) and build the
 * answer, honouring the Idempotency-Key header.
 *
 * The request body is {"events": [EVENT, ...]} where EVENT is
 *   user_id     string, 1..256 bytes            (required)
 *   item_id     string, 1..256 bytes            (required)
 *   type        view|click|cart|purchase|rating (required)
 *   value       number, required for ratings, 0..10
 *   timestamp   RFC 3339 string or unix seconds; server time when absent
 *   event_id    string of 1..64 [A-Za-z0-9._:-]; generated when absent
 *   session_id  string, 1..256 bytes
 * Other members are ignored, so shops may send more than we read.
 *
 * Answers: 202 {"accepted": N, "event_ids": [...], "rejected": [...]}
 * when at least one event was stored; a problem (RFC 9457) otherwise:
 * 400 malformed body, 413 too many events, 422 every event invalid or an
 * Idempotency-Key reused with another body, 503 + Retry-After when the
 * store cannot write (nothing of the batch is stored then).
 */
#ifndef SVC_EVENTS_H
#define SVC_EVENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gnn_store.h"

struct svc_ingest_config {
    size_t max_events;     /* per request; more is 413 */
    int64_t max_future_ms; /* how far a timestamp may lie ahead */
    int64_t max_past_ms;   /* how old it may be; 0 = no limit */
    /* Called once per newly accepted event, after it is durable. */
    void (*on_event)(void *ctx, const struct gnn_event *ev);
    void *on_event_ctx;
};

struct svc_ingest_reply {
    int status;        /* HTTP status */
    bool problem;      /* body is application/problem+json */
    json_t *body;      /* owned by the caller */
    int retry_after_s; /* > 0: send a Retry-After header */
    size_t stored;     /* events newly written */
    size_t duplicates; /* events whose event_id was already stored */
};

/*
 * Handle one request body (len bytes, need not be NUL-terminated) with an
 * optional Idempotency-Key (NULL when absent). Always fills reply; returns
 * 0, or SVC_ENOMEM when not even an answer could be built.
 */
int svc_events_ingest(struct gnn_store *store,
                      const struct svc_ingest_config *cfg, const char *body,
                      size_t len, const char *idem_key,
                      struct svc_ingest_reply *reply);

/*
 * Parse an RFC 3339 date-time ("2026-12-03T16:50:01.5Z", offsets allowed)
 * into unix milliseconds; returns -1 when malformed.
 */
int svc_parse_rfc3339_ms(const char *text, int64_t *out_ms);

/* The problem "type" URI for a slug, e.g. "invalid-events". */
#define SVC_PROBLEM_BASE "https://hoprec.dev/problems/"

#endif
