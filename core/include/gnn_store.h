/*
 * The event store: every accepted interaction event, durable in one
 * SQLite database file (WAL mode, synchronous=FULL).
 *
 * Schema (created on open; `user_version` holds GNN_STORE_SCHEMA):
 *
 *   events(seq INTEGER PRIMARY KEY,      -- arrival order; replay watermark
 *          event_id TEXT NOT NULL UNIQUE, -- the client's, or generated
 *          user_id TEXT NOT NULL, item_id TEXT NOT NULL,
 *          type TEXT NOT NULL,           -- view|click|cart|purchase|rating
 *          value REAL,                   -- the rating; NULL otherwise
 *          occurred_at INTEGER NOT NULL, -- unix milliseconds
 *          received_at INTEGER NOT NULL, -- unix milliseconds
 *          session_id TEXT)
 *   idempotency(key TEXT PRIMARY KEY,     -- the Idempotency-Key header
 *          request_hash TEXT NOT NULL,    -- digest of the request body
 *          status INTEGER NOT NULL,       -- the answer first given
 *          response TEXT NOT NULL,
 *          created_at INTEGER NOT NULL)
 *
 * Appends from concurrent threads share commits: whichever thread finds
 * no commit running writes every queued batch in one transaction, so the
 * cost of the fsync is paid once per group rather than once per request.
 * gnn_store_append() returns only after its batch is committed.
 */
#ifndef GNN_STORE_H
#define GNN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "gnn_err.h"

#define GNN_STORE_SCHEMA 1

enum gnn_event_type {
    GNN_EVENT_VIEW,
    GNN_EVENT_CLICK,
    GNN_EVENT_CART,
    GNN_EVENT_PURCHASE,
    GNN_EVENT_RATING,
};

/* "view", "click", "cart", "purchase", "rating"; NULL when out of range. */
const char *gnn_event_type_name(enum gnn_event_type type);

/* Parse a type name; returns -1 when unknown. */
int gnn_event_type_parse(const char *name);

struct gnn_event {
    char event_id[65];   /* client's id, or "" to have one generated */
    const char *user_id; /* borrowed, non-empty */
    const char *item_id; /* borrowed, non-empty */
    enum gnn_event_type type;
    double value;           /* the rating when type is GNN_EVENT_RATING */
    int64_t occurred_at_ms; /* when it happened, unix milliseconds */
    const char *session_id; /* borrowed; may be NULL */
};

/* What happened to one event of an append. */
enum gnn_append_outcome {
    GNN_APPENDED,  /* stored now */
    GNN_DUPLICATE, /* its event_id was stored before; nothing written */
};

/* An answer remembered under an Idempotency-Key. */
struct gnn_idem_record {
    char *request_hash; /* owned; freed by gnn_idem_record_clear */
    int status;
    char *response; /* owned */
};

void gnn_idem_record_clear(struct gnn_idem_record *r);

struct gnn_store;

/*
 * Open (creating if needed) the store at path and apply the schema.
 * Free with gnn_store_close(). GNN_EIO names the file and SQLite's text.
 */
int gnn_store_open(const char *path, struct gnn_store **out,
                   struct gnn_error *err);

/* Close the store; waits for nothing (callers stop appending first). */
void gnn_store_close(struct gnn_store *s);

/*
 * Store n events durably. Events with an empty event_id get a generated
 * one, written back into events[i].event_id. outcome (n entries, may be
 * NULL) tells which were new and which duplicates; seq (n entries, may be
 * NULL) gets each new event's sequence number (0 for duplicates).
 *
 * When idem_key is not NULL, the idempotency record (idem_hash, status,
 * response) is stored in the same transaction, so a retry either finds
 * both the events and the record or neither.
 *
 * Safe to call from many threads; concurrent calls share one commit. On
 * failure (GNN_EIO, e.g. disk full) nothing of this batch is stored and
 * earlier batches stay intact.
 */
int gnn_store_append(struct gnn_store *s, struct gnn_event *events, size_t n,
                     const char *idem_key, const char *idem_hash,
                     int idem_status, const char *idem_response,
                     enum gnn_append_outcome *outcome, int64_t *seq,
                     struct gnn_error *err);

/*
 * Look up an idempotency key. Returns 0 and fills *rec when found,
 * GNN_ENOENT when not, GNN_EIO on failure.
 */
int gnn_store_idem_get(struct gnn_store *s, const char *key,
                       struct gnn_idem_record *rec, struct gnn_error *err);

/* Sequence number of the newest event (0 for an empty store). */
int gnn_store_last_seq(struct gnn_store *s, int64_t *seq,
                       struct gnn_error *err);

/* Number of stored events. */
int gnn_store_count(struct gnn_store *s, int64_t *count, struct gnn_error *err);

/*
 * Call fn for every event with seq > after_seq, in seq order, stopping
 * early (and returning fn's value) when fn returns non-zero. The event's
 * strings are valid only during the call.
 */
typedef int (*gnn_store_scan_fn)(void *ctx, int64_t seq,
                                 const struct gnn_event *ev);

int gnn_store_scan(struct gnn_store *s, int64_t after_seq, gnn_store_scan_fn fn,
                   void *ctx, struct gnn_error *err);

/* Number of commits made so far (appends divided by this shows grouping). */
int64_t gnn_store_commits(const struct gnn_store *s);

#endif
