/*
 * Learning while serving: the background loop (loop.h) driving the
 * learner (learn.h) for `hoprec serve --data-dir DIR`.
 *
 * On start it tells the served model about the stored events that the
 * served snapshot has not learned (those after its watermark), then
 * starts the loop. Each durable event counts towards the next incremental
 * round; POST /v1/model/retrain asks for a full one; finished rounds are
 * logged and counted for /metrics and /v1/model.
 */
#ifndef SVC_BACKGROUND_H
#define SVC_BACKGROUND_H

#include <jansson.h>
#include <stdint.h>

#include "gnn_store.h"
#include "learn.h"
#include "loop.h"
#include "model.h"

struct svc_background_config {
    struct svc_learner_config learner; /* learner.dir is the data folder */
    const char *base_snapshot;         /* offline training set; may be NULL */
    int64_t served_watermark;          /* of the snapshot being served */
    int64_t min_new_events;            /* start an incremental round */
    double max_delay_s;                /* ...or after this long */
    double full_interval_s;            /* periodic full retrain; 0 = off */
};

struct svc_background;

/* Replay, then start the loop; stop with svc_background_stop(). model and
 * store are borrowed and must outlive it. */
int svc_background_start(const struct svc_background_config *cfg,
                         struct svc_model *model, struct gnn_store *store,
                         struct svc_background **out, struct svc_error *err);

/* Wait for a running round, stop the loop and free b; b may be NULL. */
void svc_background_stop(struct svc_background *b);

/* One more durable event: counts towards the next round. Thread-safe. */
void svc_background_note_event(struct svc_background *b);

/* Ask for a full retrain. Thread-safe. */
void svc_background_request_full(struct svc_background *b);

/* A new JSON object: the loop's figures and the last round's. */
json_t *svc_background_describe(struct svc_background *b);

/*
 * Append the background's Prometheus series (text format) to buf:
 * hoprec_training_rounds_total{kind}, hoprec_training_failures_total{kind},
 * hoprec_training_running, hoprec_training_pending_events,
 * hoprec_training_last_duration_seconds, hoprec_holdout_ndcg_at_20.
 * Returns the bytes written (snprintf-style: may exceed size).
 */
size_t svc_background_metrics(struct svc_background *b, char *buf, size_t size);

/*
 * The watermark recorded in the snapshot folder dir's manifest (0 when it
 * has none, as offline snapshots do).
 */
int64_t svc_snapshot_watermark(const char *dir);

#endif
