/*
 * The background loop: a libuv event loop on its own thread that decides
 * when to learn, while the HTTP threads keep answering.
 *
 * - New events wake it through a uv_async handle (many wake-ups between
 *   two loop turns count as one).
 * - An incremental round starts once enough new events have arrived, or
 *   once the oldest unlearned event is old enough; a full retrain runs on
 *   a schedule and on request.
 * - The work itself runs on libuv's thread pool, so the loop thread stays
 *   responsive. One round runs at a time: requests that arrive meanwhile
 *   are merged into one follow-up round (back-pressure), and a full
 *   retrain asked for during an incremental round replaces the follow-up.
 */
#ifndef SVC_LOOP_H
#define SVC_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

enum svc_round_kind {
    SVC_ROUND_INCREMENTAL, /* warm start from the current model */
    SVC_ROUND_FULL,        /* retrain from scratch on every event */
};

/* "incremental" or "full". */
const char *svc_round_kind_name(enum svc_round_kind kind);

/*
 * One training round. Runs on a worker thread; returns 0 or a negative
 * SVC_E* code with err filled. new_events is how many events arrived
 * since the previous round started.
 */
typedef int (*svc_round_fn)(void *ctx, enum svc_round_kind kind,
                            int64_t new_events, struct svc_error *err);

/* Told after every round, on the loop thread. */
typedef void (*svc_round_done_fn)(void *ctx, enum svc_round_kind kind,
                                  int status, double seconds,
                                  const struct svc_error *err);

struct svc_loop_config {
    int64_t min_new_events; /* start an incremental round at this many */
    double max_delay_s;     /* ...or when the oldest new event is this old */
    double full_interval_s; /* full retrain period; 0 = only on request */
    svc_round_fn round;
    svc_round_done_fn done; /* may be NULL */
    void *ctx;              /* passed to round and done */
};

/* What the loop has done, for /v1/model and /metrics. */
struct svc_loop_stats {
    int64_t rounds[2];        /* finished rounds by kind */
    int64_t failures[2];      /* of which failed */
    int64_t pending_events;   /* arrived, not yet in a started round */
    bool running;             /* a round is in progress */
    double last_seconds;      /* duration of the last finished round */
    int last_status;          /* its result (0 = success) */
    int64_t last_finished_ms; /* unix ms; 0 = none yet */
};

struct svc_loop;

/* Start the loop thread; stop and free it with svc_loop_stop(). */
int svc_loop_start(const struct svc_loop_config *cfg, struct svc_loop **out,
                   struct svc_error *err);

/*
 * Stop taking work, wait for a running round to finish, end the thread
 * and free the loop. l may be NULL.
 */
void svc_loop_stop(struct svc_loop *l);

/* Count n new durable events and wake the loop. Thread-safe, never blocks
 * on the loop. */
void svc_loop_note_events(struct svc_loop *l, int64_t n);

/* Ask for a full retrain as soon as possible. Thread-safe. */
void svc_loop_request_full(struct svc_loop *l);

/* A consistent copy of the loop's figures. Thread-safe. */
void svc_loop_stats(struct svc_loop *l, struct svc_loop_stats *out);

#endif
