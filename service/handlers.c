/*
 * Handlers that need no model: health, metrics, the contract, events
 * (not enabled yet) and retraining (not built yet). Also the response
 * helpers every handler uses.
 */
#include "handlers.h"

#include "events.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* openapi.json, embedded at build time (see service/meson.build). */
extern const unsigned char svc_openapi_json[];
extern const size_t svc_openapi_json_len;

/* ------------------------------------------------------------------ */
/* Responses */

void svc_response_problem(struct svc_response *res, enum svc_problem type,
                          const char *detail, const struct svc_req *req,
                          json_t *errors)
{
    json_t *p = svc_problem_new(type, detail, req != NULL ? req->path : NULL);

    json_decref(res->json);
    res->status = svc_problem_status(type);
    res->problem = true;
    res->json = p;
    if (p != NULL && errors != NULL)
        json_object_set(p, "errors", errors);
    json_decref(errors);
}

void svc_response_json(struct svc_response *res, int status, json_t *body)
{
    json_decref(res->json);
    res->json = body;
    res->problem = false;
    res->status = body != NULL ? status : 500;
}

void svc_response_clear(struct svc_response *res)
{
    json_decref(res->json);
    free(res->owned);
    memset(res, 0, sizeof(*res));
}

json_t *svc_req_body_json(const struct svc_req *req, struct svc_response *res,
                          bool merge_patch)
{
    const char *type = svc_req_header(req, "Content-Type");
    json_error_t jerr;
    json_t *body, *errors;

    if (type == NULL ||
        (strncasecmp(type, "application/json", 16) != 0 &&
         !(merge_patch &&
           strncasecmp(type, "application/merge-patch+json", 28) == 0))) {
        svc_response_problem(res, SVC_PROBLEM_UNSUPPORTED_MEDIA,
                             merge_patch
                                 ? "send the body as application/json or "
                                   "application/merge-patch+json"
                                 : "send the body as application/json",
                             req, NULL);
        return NULL;
    }
    body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (body != NULL)
        return body;

    errors = json_array();
    if (errors != NULL)
        svc_problem_error_addf(errors, "", "line %d, column %d: %s", jerr.line,
                               jerr.column, jerr.text);
    svc_response_problem(res, SVC_PROBLEM_INVALID_REQUEST,
                         "the body is not well-formed JSON", req, errors);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Health */

static void handle_livez(struct svc_ctx *ctx, const struct svc_req *req,
                         struct svc_response *res)
{
    svc_response_json(res, 200, json_pack("{s:s}", "status", "ok"));
}

/* Ready: a model is loaded and the server is not draining. */
static void handle_readyz(struct svc_ctx *ctx, const struct svc_req *req,
                          struct svc_response *res)
{
    if (atomic_load(&ctx->draining)) {
        svc_response_problem(res, SVC_PROBLEM_SHUTTING_DOWN,
                             "the server is draining before it exits", req,
                             NULL);
        return;
    }
    if (!svc_ctx_model_ready(ctx)) {
        svc_response_problem(res, SVC_PROBLEM_MODEL_UNAVAILABLE,
                             "no model is loaded yet", req, NULL);
        res->retry_after = 5;
        return;
    }
    svc_response_json(res, 200, json_pack("{s:s}", "status", "ready"));
}

/* ------------------------------------------------------------------ */
/* Metrics and the contract */

static void handle_metrics(struct svc_ctx *ctx, const struct svc_req *req,
                           struct svc_response *res)
{
    struct svc_metrics_model mm = {0};
    struct svc_error err;

    svc_ctx_model_metrics(ctx, &mm);
    if (svc_metrics_render(ctx->metrics, &mm, &res->owned, &res->owned_len,
                           &err) != 0) {
        svc_response_problem(res, SVC_PROBLEM_OVERLOADED, err.text, req, NULL);
        return;
    }
    res->status = 200;
    res->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

static void handle_openapi(struct svc_ctx *ctx, const struct svc_req *req,
                           struct svc_response *res)
{
    res->status = 200;
    res->content_type = "application/json";
    res->data = (const char *)svc_openapi_json;
    res->data_len = svc_openapi_json_len;
}

/* ------------------------------------------------------------------ */
/* Events and retraining: validated, then refused until built */

/*
 * POST /v1/events: service/events.c validates the batch, stores it and
 * builds the answer; this handler only checks the media type and that an
 * event store was configured (--store).
 */
static void handle_events(struct svc_ctx *ctx, const struct svc_req *req,
                          struct svc_response *res)
{
    const char *type = svc_req_header(req, "Content-Type");
    struct svc_ingest_config cfg = {
        .max_events = (size_t)ctx->max_events,
        .max_future_ms = 24 * 3600 * 1000LL,
        .on_event = ctx->on_event,
        .on_event_ctx = ctx->on_event_arg,
    };
    struct svc_ingest_reply reply;

    if (ctx->store == NULL) {
        svc_response_problem(res, SVC_PROBLEM_EVENTS_UNAVAILABLE,
                             "event ingestion is not enabled on this server "
                             "(start it with --store FILE)",
                             req, NULL);
        res->retry_after = 60;
        return;
    }
    if (type == NULL || strncasecmp(type, "application/json", 16) != 0) {
        svc_response_problem(res, SVC_PROBLEM_UNSUPPORTED_MEDIA,
                             "send the body as application/json", req, NULL);
        return;
    }
    if (svc_events_ingest(ctx->store, &cfg, req->body, req->body_len,
                          svc_req_header(req, "Idempotency-Key"),
                          &reply) != 0 &&
        reply.body == NULL) {
        svc_response_problem(res, SVC_PROBLEM_OVERLOADED, "out of memory", req,
                             NULL);
        return;
    }
    res->status = reply.status;
    res->json = reply.body;
    res->problem = reply.problem;
    res->retry_after = reply.retry_after_s;
}

static void handle_retrain(struct svc_ctx *ctx, const struct svc_req *req,
                           struct svc_response *res)
{
    /* TODO: start a background retrain once core/ has the training loop
     * thread; `hoprec train` followed by a restart is the way meanwhile. */
    svc_response_problem(res, SVC_PROBLEM_NOT_IMPLEMENTED,
                         "background retraining is not available yet; run "
                         "'hoprec train' and restart with the new snapshot",
                         req, NULL);
}

const svc_handler svc_handlers[SVC_ROUTE_COUNT] = {
    [SVC_ROUTE_RECOMMEND] = svc_handle_recommend,
    [SVC_ROUTE_RELATED] = svc_handle_related,
    [SVC_ROUTE_PATCH_ITEM] = svc_handle_patch_item,
    [SVC_ROUTE_EVENTS] = handle_events,
    [SVC_ROUTE_MODEL] = svc_handle_model,
    [SVC_ROUTE_RETRAIN] = handle_retrain,
    [SVC_ROUTE_LIVEZ] = handle_livez,
    [SVC_ROUTE_READYZ] = handle_readyz,
    [SVC_ROUTE_HEALTHZ] = handle_readyz,
    [SVC_ROUTE_METRICS] = handle_metrics,
    [SVC_ROUTE_OPENAPI] = handle_openapi,
};
