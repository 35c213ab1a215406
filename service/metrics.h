/*
 * The service's Prometheus metrics, written in the text exposition format
 * 0.0.4 by svc_metrics_render():
 *
 *   hoprec_http_requests_total{route,method,status}      counter
 *   hoprec_http_request_duration_seconds{route}          histogram
 *   hoprec_http_requests_in_flight                       gauge
 *   hoprec_search_duration_seconds{kind}                 histogram
 *   hoprec_model_loaded, hoprec_model_version,
 *   hoprec_model_age_seconds, hoprec_model_users,
 *   hoprec_model_items                                   gauges
 *   hoprec_model_hop_std{hop}, hoprec_model_hop_mad{hop},
 *   hoprec_model_hop_dirichlet_energy{hop}               gauges
 *   hoprec_events_total{outcome}                         counter
 *   hoprec_event_store_errors_total                      counter
 *   hoprec_learn_rounds_total{kind},
 *   hoprec_learn_round_failures_total{kind}              counters
 *   hoprec_learn_pending_events, hoprec_learn_running,
 *   hoprec_learn_last_round_seconds                      gauges
 *   process_start_time_seconds                           gauge
 *
 * `route` is the route's path template (never a raw path, so no user or
 * item id reaches a label) or "unmatched". Every series is a relaxed
 * atomic counter: request threads never take a lock to record.
 */
#ifndef SVC_METRICS_H
#define SVC_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct svc_metrics;

enum svc_search_kind {
    SVC_SEARCH_RECOMMEND, /* user -> items */
    SVC_SEARCH_RELATED,   /* item -> items */
    SVC_SEARCH_KINDS
};

/* What happened to posted events (hoprec_events_total{outcome}), and
 * batches the store could not write (hoprec_event_store_errors_total). */
enum svc_event_outcome {
    SVC_EVENT_STORED,
    SVC_EVENT_DUPLICATE,
    SVC_EVENT_REJECTED,
    SVC_EVENT_STORE_ERROR,
    SVC_EVENT_OUTCOMES
};

#define SVC_METRICS_MAX_HOPS 33

/* The model figures a scrape reports; filled by the caller. */
struct svc_metrics_model {
    bool loaded;        /* false: only hoprec_model_loaded 0 is written */
    int64_t version;    /* generation number */
    double age_seconds; /* since the generation was published */
    int64_t n_users;    /* rows of the user index */
    int64_t n_items;    /* rows of the item index */
    /* Background learning; written only when learning is true. */
    bool learning;
    int64_t rounds[2];      /* finished rounds: incremental, full */
    int64_t failures[2];    /* of which failed */
    int64_t pending_events; /* stored, not yet in a started round */
    bool running;           /* a round is in progress */
    double last_seconds;    /* duration of the last finished round */
    /* Coalesced exact searches since the start. */
    uint64_t search_batches;
    uint64_t search_batched_queries;
    /* Over-smoothing diagnostics of the served model, per hop, from its
     * training report (n_hops 0 when it has none). */
    int n_hops;
    double hop_std[SVC_METRICS_MAX_HOPS];
    double hop_mad[SVC_METRICS_MAX_HOPS];
    double hop_energy[SVC_METRICS_MAX_HOPS];
};

/* New zeroed metrics; process_start_time_seconds is taken now. */
int svc_metrics_new(struct svc_metrics **out, struct svc_error *err);

/* Free m; a NULL m is a no-op. */
void svc_metrics_free(struct svc_metrics *m);

/* A request started: the in-flight gauge goes up by one. */
void svc_metrics_request_begin(struct svc_metrics *m);

/*
 * A request ended: the in-flight gauge goes down, and it is counted under
 * route (an enum svc_route_id, or -1 when no route matched), method (any
 * string; unknown methods count as "other") and status (100 to 599), with
 * its duration in seconds.
 */
void svc_metrics_request_end(struct svc_metrics *m, int route,
                             const char *method, int status, double seconds);

/* Record the duration of one index search. */
void svc_metrics_search(struct svc_metrics *m, enum svc_search_kind kind,
                        double seconds);

/* Count n events (or store errors) with this outcome. */
void svc_metrics_events(struct svc_metrics *m, enum svc_event_outcome outcome,
                        uint64_t n);

/* Requests in flight now. */
int64_t svc_metrics_in_flight(const struct svc_metrics *m);

/*
 * Write every metric in the text format into a new buffer: *out (caller
 * frees with free()), *len bytes without the terminating NUL. model may
 * be NULL (same as not loaded). Returns 0 or SVC_ENOMEM.
 */
int svc_metrics_render(const struct svc_metrics *m,
                       const struct svc_metrics_model *model, char **out,
                       size_t *len, struct svc_error *err);

#endif
