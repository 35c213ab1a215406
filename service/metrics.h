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

/* The model figures a scrape reports; filled by the caller. */
struct svc_metrics_model {
    bool loaded;        /* false: only hoprec_model_loaded 0 is written */
    int64_t version;    /* generation number */
    double age_seconds; /* since the generation was published */
    int64_t n_users;    /* rows of the user index */
    int64_t n_items;    /* rows of the item index */
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
