/*
 * The request handlers and what they share.
 *
 * A handler gets the server's context, a parsed request and an empty
 * response; it fills the response (status and body) and returns. It runs
 * on one of the server's threads, so it keeps no state of its own outside
 * what struct svc_ctx hands it. Handlers that need the served model live
 * in handlers_model.c; the others in handlers.c.
 */
#ifndef SVC_HANDLERS_H
#define SVC_HANDLERS_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "metrics.h"
#include "problem.h"
#include "route.h"

struct svc_model;
struct svc_loop;
struct svc_learner;
struct gnn_store;
struct gnn_event;
struct MHD_Connection;

/* What every handler may use; owned by `hoprec serve`, which keeps it
 * alive until the server has stopped. */
struct svc_ctx {
    struct svc_model *model;     /* served generations; NULL: none */
    struct gnn_store *store;     /* event store; NULL: ingestion off */
    struct svc_loop *loop;       /* background learning; NULL: off */
    struct svc_learner *learner; /* what the loop's rounds run */
    struct svc_auth *auth;       /* keys and roles */
    struct svc_metrics *metrics; /* counters and histograms */
    atomic_bool draining;        /* set on SIGTERM: /readyz answers 503 */
    int default_k;               /* k when the query gives none */
    int max_k;                   /* largest k + offset */
    int max_exclude;             /* ids an exclude list may hold */
    int max_events;              /* events one POST /v1/events may hold */
    /* Told after each durable event (may be NULL): wakes the trainer. */
    void (*on_event)(void *arg, const struct gnn_event *ev);
    void *on_event_arg;
};

/* One request, as the handlers see it; valid while the handler runs. */
struct svc_req {
    const char *method;                  /* "GET", "HEAD", ... */
    const char *path;                    /* raw path without the query */
    const struct svc_route_match *match; /* route and decoded params */
    const char *body;                    /* body_len bytes, NUL-ended */
    size_t body_len;
    struct MHD_Connection *conn; /* for query and header lookups */
};

/* What a handler answers. */
struct svc_response {
    int status;               /* HTTP status */
    json_t *json;             /* body, owned; written compactly */
    bool problem;             /* json is a problem (problem+json) */
    const char *content_type; /* for data/owned; NULL with json */
    const char *data;         /* static body of data_len bytes */
    size_t data_len;
    char *owned; /* malloc'd body of owned_len bytes */
    size_t owned_len;
    char allow[64];        /* Allow header for 405; "" for none */
    int retry_after;       /* Retry-After seconds; 0 for none */
    bool www_authenticate; /* add the Bearer challenge (401) */
};

typedef void (*svc_handler)(struct svc_ctx *ctx, const struct svc_req *req,
                            struct svc_response *res);

/* The handler of each route, indexed by enum svc_route_id. */
extern const svc_handler svc_handlers[SVC_ROUTE_COUNT];

/*
 * Answer with a problem of this type. detail may be NULL; the request's
 * path is the instance. errors (may be NULL) is a JSON array of
 * validation errors whose reference is stolen. When the problem object
 * cannot be built (out of memory), the status is still set and the body
 * left empty.
 */
void svc_response_problem(struct svc_response *res, enum svc_problem type,
                          const char *detail, const struct svc_req *req,
                          json_t *errors);

/* Answer 200 with a JSON body whose reference is stolen (500 if NULL). */
void svc_response_json(struct svc_response *res, int status, json_t *body);

/*
 * The request body as a new JSON value (caller owns it), or NULL after
 * answering 415 (the Content-Type is not JSON) or 400 (not well-formed,
 * or a duplicate member). Accepted types: application/json, and with
 * merge_patch also application/merge-patch+json.
 */
json_t *svc_req_body_json(const struct svc_req *req, struct svc_response *res,
                          bool merge_patch);

/* Free what a response owns and zero it. */
void svc_response_clear(struct svc_response *res);

/* ------------------------------------------------------------------ */
/* Request access (server.c): raw values, valid while the request runs */

/* The raw (still percent-encoded) value of the first query parameter
 * named key, or NULL. A key without '=' gives "". */
const char *svc_req_query(const struct svc_req *req, const char *key);

/* Up to max raw values of every query parameter named key, in order;
 * returns how many there are in all (may exceed max). */
size_t svc_req_query_all(const struct svc_req *req, const char *key,
                         const char **vals, size_t max);

/* The value of a request header (case-insensitive name), or NULL. */
const char *svc_req_header(const struct svc_req *req, const char *name);

/* ------------------------------------------------------------------ */
/* Query and body parsing (handlers_params.c); no I/O, unit-tested */

/*
 * Parse a raw query value as a decimal integer in [min, max]. NULL raw
 * leaves *out at its default and succeeds. On a bad value appends an
 * error for parameter name to errors and returns SVC_EINVAL.
 */
int svc_param_int(const char *raw, const char *name, long min, long max,
                  long *out, json_t *errors);

/* Parse true/false/1/0 (any case); NULL leaves *out. Errors as above. */
int svc_param_bool(const char *raw, const char *name, bool *out,
                   json_t *errors);

/* The parameters of GET /v1/users/{user_id}/recommendations. */
struct svc_rec_params {
    long k;            /* 1..max_k - offset */
    long offset;       /* 0..max_k - 1 */
    bool exclude_seen; /* default true */
    char **exclude;    /* n_exclude decoded ids, owned */
    size_t n_exclude;
};

/*
 * Parse k, offset, exclude_seen and exclude (raws[n_raw]: every raw value
 * of `exclude`, each a comma-separated list of percent-encoded ids) into
 * p, with defaults from ctx. Every bad value adds an entry to errors;
 * returns 0, SVC_EINVAL when errors were added, or SVC_ENOMEM. Free p
 * with svc_rec_params_clear in every case.
 */
int svc_rec_params_parse(const struct svc_ctx *ctx, const char *k,
                         const char *offset, const char *exclude_seen,
                         const char *const *raws, size_t n_raw,
                         struct svc_rec_params *p, json_t *errors);

/* Free what p owns; p may be zeroed or partly filled. */
void svc_rec_params_clear(struct svc_rec_params *p);

/*
 * Validate a PATCH /v1/items/{item_id} body: an object with optional
 * "hidden" (boolean) and "categories" (array of up to 64 ids); any other
 * member is an error, and so is an object with neither. Fills *hidden_set
 * and *hidden. Returns the number of errors found (0: valid).
 */
int svc_item_patch_validate(const json_t *body, bool *hidden_set, bool *hidden,
                            json_t *errors);

/* ------------------------------------------------------------------ */
/* Model-backed parts (handlers_model.c) */

void svc_handle_recommend(struct svc_ctx *ctx, const struct svc_req *req,
                          struct svc_response *res);
void svc_handle_related(struct svc_ctx *ctx, const struct svc_req *req,
                        struct svc_response *res);
void svc_handle_patch_item(struct svc_ctx *ctx, const struct svc_req *req,
                           struct svc_response *res);
void svc_handle_model(struct svc_ctx *ctx, const struct svc_req *req,
                      struct svc_response *res);

struct svc_model_config;

/*
 * Create ctx->model and load the snapshot folder dir into it (in the
 * caller's thread, before the server starts). On failure ctx->model is
 * NULL and err says why.
 */
int svc_ctx_model_open(struct svc_ctx *ctx, const struct svc_model_config *cfg,
                       const char *dir, struct svc_error *err);

/* Free ctx->model (after the server has stopped); NULL is a no-op. */
void svc_ctx_model_close(struct svc_ctx *ctx);

/* True when searches wait for a coalesced batch (see model.h). */
bool svc_ctx_searches_wait(struct svc_ctx *ctx);

/* True when a model generation is loaded and can be served. */
bool svc_ctx_model_ready(struct svc_ctx *ctx);

/* Fill the model figures that /metrics reports. */
void svc_ctx_model_metrics(struct svc_ctx *ctx, struct svc_metrics_model *mm);

#endif
