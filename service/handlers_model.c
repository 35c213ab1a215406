/*
 * Handlers that answer from the served model: recommendations, related
 * items, model information and item metadata.
 */
#include "handlers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "learn.h"
#include "loop.h"
#include "model.h"

#define MAX_EXCLUDE_PARAMS 64 /* `exclude=` parameters one query may hold */

static double now_monotonic(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 128 random bits as 32 hex digits (out has room for 33 bytes). */
static void random_id(char out[33])
{
    unsigned char bytes[16];
    ssize_t got = getrandom(bytes, sizeof(bytes), GRND_NONBLOCK);

    if (got != (ssize_t)sizeof(bytes)) {
        /* Early boot without entropy: ids only need to be unique. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        for (size_t i = 0; i < sizeof(bytes); i++)
            bytes[i] = (unsigned char)((ts.tv_nsec >> (i % 4 * 8)) ^ rand() ^
                                       (ts.tv_sec >> i));
    }
    for (size_t i = 0; i < sizeof(bytes); i++)
        snprintf(out + 2 * i, 3, "%02x", bytes[i]);
}

/* The current generation, or NULL after answering 503. */
static struct svc_gen *acquire(struct svc_ctx *ctx, const struct svc_req *req,
                               struct svc_response *res)
{
    struct svc_gen *g = ctx->model ? svc_model_acquire(ctx->model) : NULL;

    if (g == NULL) {
        svc_response_problem(res, SVC_PROBLEM_MODEL_UNAVAILABLE,
                             "no model is loaded yet", req, NULL);
        res->retry_after = 5;
    }
    return g;
}

static void answer_error(int code, const struct svc_error *err,
                         const struct svc_req *req, struct svc_response *res)
{
    enum svc_problem type = svc_problem_from_code(code);

    if (code == SVC_ENOTFOUND)
        type = SVC_PROBLEM_ITEM_NOT_FOUND;
    svc_response_problem(res, type, err->text, req, NULL);
}

/* The JSON answer of a search; NULL when out of memory. */
static json_t *items_answer(const struct svc_gen *g,
                            const struct svc_rec_result *r, const char *key,
                            const char *id)
{
    char rec_id[33];
    json_t *items = json_array();
    json_t *out;

    if (items == NULL)
        return NULL;
    for (size_t i = 0; i < r->n; i++) {
        double score = isfinite(r->items[i].score) ? r->items[i].score : 0;
        json_t *it = json_pack("{s:s, s:f}", "item_id", r->items[i].item_id,
                               "score", score);
        if (it == NULL || json_array_append_new(items, it) != 0) {
            json_decref(items);
            return NULL;
        }
    }
    random_id(rec_id);
    out = json_pack("{s:s, s:I, s:s, s:s, s:o}", key, id, "model_version",
                    (json_int_t)svc_gen_version(g), "recommendation_id", rec_id,
                    "fallback", svc_fallback_name(r->fallback), "items", items);
    return out;
}

/* ------------------------------------------------------------------ */
/* GET /v1/users/{user_id}/recommendations */

void svc_handle_recommend(struct svc_ctx *ctx, const struct svc_req *req,
                          struct svc_response *res)
{
    const char *raws[MAX_EXCLUDE_PARAMS];
    size_t n_raw = svc_req_query_all(req, "exclude", raws, MAX_EXCLUDE_PARAMS);
    struct svc_rec_params p = {0};
    struct svc_rec_result out = {0};
    struct svc_error err;
    struct svc_gen *g = NULL;
    json_t *errors = json_array();
    int ret;

    if (errors == NULL)
        goto oom;
    if (n_raw > MAX_EXCLUDE_PARAMS) {
        svc_problem_error_addf(errors, "exclude",
                               "give at most %d exclude parameters; "
                               "separate ids with commas",
                               MAX_EXCLUDE_PARAMS);
        n_raw = MAX_EXCLUDE_PARAMS;
    }
    ret = svc_rec_params_parse(
        ctx, svc_req_query(req, "k"), svc_req_query(req, "offset"),
        svc_req_query(req, "exclude_seen"), raws, n_raw, &p, errors);
    if (ret == SVC_ENOMEM)
        goto oom;
    if (ret != 0 || json_array_size(errors) > 0) {
        svc_response_problem(res, SVC_PROBLEM_INVALID_REQUEST,
                             "some query parameters are invalid", req, errors);
        errors = NULL;
        goto out;
    }

    if ((g = acquire(ctx, req, res)) == NULL)
        goto out;
    out.items = calloc((size_t)p.k, sizeof(*out.items));
    if (out.items == NULL)
        goto oom;

    struct svc_rec_query q = {
        .user_id = req->match->params[0],
        .k = (int)p.k,
        .offset = (int)p.offset,
        .exclude_seen = p.exclude_seen,
        .exclude = (const char *const *)p.exclude,
        .n_exclude = p.n_exclude,
    };
    double t0 = now_monotonic();
    ret = svc_gen_recommend(g, &q, &out, &err);
    svc_metrics_search(ctx->metrics, SVC_SEARCH_RECOMMEND,
                       now_monotonic() - t0);
    if (ret != 0) {
        answer_error(ret, &err, req, res);
        goto out;
    }
    svc_response_json(res, 200, items_answer(g, &out, "user_id", q.user_id));
    goto out;

oom:
    svc_response_problem(res, SVC_PROBLEM_OVERLOADED, "out of memory", req,
                         NULL);
out:
    svc_gen_release(g);
    free(out.items);
    svc_rec_params_clear(&p);
    json_decref(errors);
}

/* ------------------------------------------------------------------ */
/* GET /v1/items/{item_id}/related */

void svc_handle_related(struct svc_ctx *ctx, const struct svc_req *req,
                        struct svc_response *res)
{
    long k = ctx->default_k, offset = 0;
    struct svc_rec_result out = {0};
    struct svc_error err;
    struct svc_gen *g = NULL;
    json_t *errors = json_array();
    int ret = 0;

    if (errors == NULL)
        goto oom;
    if (svc_param_int(svc_req_query(req, "k"), "k", 1, ctx->max_k, &k,
                      errors) != 0 ||
        svc_param_int(svc_req_query(req, "offset"), "offset", 0, ctx->max_k - 1,
                      &offset, errors) != 0)
        ret = SVC_EINVAL;
    if (ret == 0 && k + offset > ctx->max_k) {
        svc_problem_error_addf(errors, "offset",
                               "k + offset must be at most %d, got %ld",
                               ctx->max_k, k + offset);
        ret = SVC_EINVAL;
    }
    if (ret != 0) {
        svc_response_problem(res, SVC_PROBLEM_INVALID_REQUEST,
                             "some query parameters are invalid", req, errors);
        errors = NULL;
        goto out;
    }

    if ((g = acquire(ctx, req, res)) == NULL)
        goto out;
    out.items = calloc((size_t)k, sizeof(*out.items));
    if (out.items == NULL)
        goto oom;

    double t0 = now_monotonic();
    ret = svc_gen_related(g, req->match->params[0], (int)k, (int)offset, &out,
                          &err);
    svc_metrics_search(ctx->metrics, SVC_SEARCH_RELATED, now_monotonic() - t0);
    if (ret != 0) {
        answer_error(ret, &err, req, res);
        goto out;
    }
    svc_response_json(res, 200,
                      items_answer(g, &out, "item_id", req->match->params[0]));
    goto out;

oom:
    svc_response_problem(res, SVC_PROBLEM_OVERLOADED, "out of memory", req,
                         NULL);
out:
    svc_gen_release(g);
    free(out.items);
    json_decref(errors);
}

/* ------------------------------------------------------------------ */
/* GET /v1/model */

/* The background loop's figures and the last round's, as JSON. */
static json_t *learning_state(struct svc_ctx *ctx)
{
    struct svc_loop_stats st;
    json_t *last = ctx->learner ? svc_learner_describe(ctx->learner) : NULL;

    svc_loop_stats(ctx->loop, &st);
    return json_pack(
        "{s:{s:I, s:I}, s:{s:I, s:I}, s:I, s:b, s:f, s:i, s:I, s:o*}", "rounds",
        "incremental", (json_int_t)st.rounds[SVC_ROUND_INCREMENTAL], "full",
        (json_int_t)st.rounds[SVC_ROUND_FULL], "failures", "incremental",
        (json_int_t)st.failures[SVC_ROUND_INCREMENTAL], "full",
        (json_int_t)st.failures[SVC_ROUND_FULL], "pending_events",
        (json_int_t)st.pending_events, "running", (int)st.running,
        "last_seconds", st.last_seconds, "last_status", st.last_status,
        "last_finished_ms", (json_int_t)st.last_finished_ms, "last_round",
        last);
}

void svc_handle_model(struct svc_ctx *ctx, const struct svc_req *req,
                      struct svc_response *res)
{
    struct svc_gen *g = acquire(ctx, req, res);
    json_t *d;

    if (g == NULL)
        return;
    d = svc_gen_describe(g);
    if (d != NULL)
        json_object_set_new(d, "model_version",
                            json_integer(svc_gen_version(g)));
    if (d != NULL && ctx->loop != NULL)
        json_object_set_new(d, "learning", learning_state(ctx));
    svc_gen_release(g);
    svc_response_json(res, 200, d);
}

/* ------------------------------------------------------------------ */
/* PATCH /v1/items/{item_id} */

void svc_handle_patch_item(struct svc_ctx *ctx, const struct svc_req *req,
                           struct svc_response *res)
{
    const char *item = req->match->params[0];
    json_t *body, *errors, *answer;
    bool hidden_set, hidden = false;
    struct svc_error err;
    int ret;

    if ((body = svc_req_body_json(req, res, true)) == NULL)
        return;
    errors = json_array();
    if (errors == NULL) {
        json_decref(body);
        svc_response_problem(res, SVC_PROBLEM_OVERLOADED, NULL, req, NULL);
        return;
    }
    if (svc_item_patch_validate(body, &hidden_set, &hidden, errors) > 0) {
        svc_response_problem(res, SVC_PROBLEM_INVALID_REQUEST,
                             "the patch is invalid; nothing was changed", req,
                             errors);
        json_decref(body);
        return;
    }
    json_decref(errors);

    if (ctx->model == NULL) {
        json_decref(body);
        svc_response_problem(res, SVC_PROBLEM_MODEL_UNAVAILABLE,
                             "no model is loaded yet", req, NULL);
        return;
    }
    if (hidden_set &&
        (ret = svc_model_set_hidden(ctx->model, item, hidden, &err)) != 0) {
        json_decref(body);
        answer_error(ret, &err, req, res);
        return;
    }

    answer = json_pack("{s:s}", "item_id", item);
    if (answer != NULL && hidden_set)
        json_object_set_new(answer, "hidden", json_boolean(hidden));
    /* TODO: store categories once the model keeps item metadata; they are
     * validated now so that clients can send them already. */
    if (answer != NULL && json_object_get(body, "categories") != NULL)
        json_object_set_new(answer, "ignored", json_pack("[s]", "categories"));
    json_decref(body);
    svc_response_json(res, 200, answer);
}

/* ------------------------------------------------------------------ */
/* The model's life and figures */

int svc_ctx_model_open(struct svc_ctx *ctx, const struct svc_model_config *cfg,
                       const char *dir, struct svc_error *err)
{
    int ret = svc_model_new(cfg, &ctx->model, err);

    if (ret == 0)
        ret = svc_model_load(ctx->model, dir, err);
    if (ret != 0) {
        svc_model_free(ctx->model);
        ctx->model = NULL;
    }
    return ret;
}

void svc_ctx_model_close(struct svc_ctx *ctx)
{
    if (ctx->model != NULL)
        svc_model_free(ctx->model);
    ctx->model = NULL;
}

bool svc_ctx_searches_wait(struct svc_ctx *ctx)
{
    return ctx->model != NULL && svc_model_coalescing(ctx->model);
}

bool svc_ctx_model_ready(struct svc_ctx *ctx)
{
    struct svc_gen *g = ctx->model ? svc_model_acquire(ctx->model) : NULL;

    svc_gen_release(g);
    return g != NULL;
}

/* Unix seconds of a "loaded_at" value: a number, or RFC 3339 UTC. */
static double unix_time(const json_t *v)
{
    struct tm tm = {0};

    if (json_is_number(v))
        return json_number_value(v);
    if (json_is_string(v) &&
        strptime(json_string_value(v), "%Y-%m-%dT%H:%M:%S", &tm) != NULL)
        return (double)timegm(&tm);
    return NAN;
}

/* The per-hop diagnostics of the training report, when it has them. */
static void copy_diagnostics(json_t *describe, struct svc_metrics_model *mm)
{
    json_t *hops = json_object_get(
        json_object_get(json_object_get(describe, "info"), "training"),
        "diagnostics");
    size_t i;
    json_t *h;

    mm->n_hops = 0;
    json_array_foreach(hops, i, h)
    {
        if (i >= SVC_METRICS_MAX_HOPS)
            break;
        mm->hop_std[i] = json_number_value(json_object_get(h, "std"));
        mm->hop_mad[i] = json_number_value(json_object_get(h, "mad"));
        mm->hop_energy[i] = json_number_value(json_object_get(h, "energy"));
        mm->n_hops = (int)i + 1;
    }
}

void svc_ctx_model_metrics(struct svc_ctx *ctx, struct svc_metrics_model *mm)
{
    struct svc_gen *g = ctx->model ? svc_model_acquire(ctx->model) : NULL;
    json_t *d;

    mm->loaded = false;
    mm->learning = ctx->loop != NULL;
    if (ctx->loop != NULL) {
        struct svc_loop_stats st;

        svc_loop_stats(ctx->loop, &st);
        for (int k = 0; k < 2; k++) {
            mm->rounds[k] = st.rounds[k];
            mm->failures[k] = st.failures[k];
        }
        mm->pending_events = st.pending_events;
        mm->running = st.running;
        mm->last_seconds = st.last_seconds;
    }
    if (g == NULL)
        return;
    svc_model_batch_stats(ctx->model, &mm->search_batches,
                          &mm->search_batched_queries);
    d = svc_gen_describe(g);
    mm->loaded = true;
    mm->version = svc_gen_version(g);
    mm->n_users = json_integer_value(json_object_get(d, "n_users"));
    mm->n_items = json_integer_value(json_object_get(d, "n_items"));

    double at = unix_time(json_object_get(d, "loaded_at"));
    mm->age_seconds = isfinite(at) ? difftime(time(NULL), (time_t)at) : 0;
    copy_diagnostics(d, mm);
    json_decref(d);
    svc_gen_release(g);
}
