/*
 * Stand-ins for handlers_model.c while service/model.c is not part of the
 * build: the model routes answer 503 and /readyz never turns ready.
 * service/meson.build picks this file only when model.c is missing.
 */
#include "handlers.h"

static void no_model(const struct svc_req *req, struct svc_response *res)
{
    svc_response_problem(res, SVC_PROBLEM_MODEL_UNAVAILABLE,
                         "this build of hoprec cannot serve a model", req,
                         NULL);
}

void svc_handle_recommend(struct svc_ctx *ctx, const struct svc_req *req,
                          struct svc_response *res)
{
    no_model(req, res);
}

void svc_handle_related(struct svc_ctx *ctx, const struct svc_req *req,
                        struct svc_response *res)
{
    no_model(req, res);
}

void svc_handle_patch_item(struct svc_ctx *ctx, const struct svc_req *req,
                           struct svc_response *res)
{
    no_model(req, res);
}

void svc_handle_model(struct svc_ctx *ctx, const struct svc_req *req,
                      struct svc_response *res)
{
    no_model(req, res);
}

int svc_ctx_model_open(struct svc_ctx *ctx, const struct svc_model_config *cfg,
                       const char *dir, struct svc_error *err)
{
    ctx->model = NULL;
    return svc_error_set(err, SVC_EUNAVAILABLE,
                         "this build of hoprec cannot load snapshots");
}

void svc_ctx_model_close(struct svc_ctx *ctx)
{
}

bool svc_ctx_model_ready(struct svc_ctx *ctx)
{
    return false;
}

void svc_ctx_model_metrics(struct svc_ctx *ctx, struct svc_metrics_model *mm)
{
    mm->loaded = false;
}
