#include "background.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct svc_background {
    struct svc_learner *learner;
    struct svc_loop *loop;
};

static void round_done(void *ctx, enum svc_round_kind kind, int status,
                       double seconds, const struct svc_error *err)
{
    struct svc_learner *l = ctx;

    if (status != 0) {
        svc_log_error("training round failed",
                      "kind=%s seconds=%.2f "
                      "error=\"%s\"",
                      svc_round_kind_name(kind), seconds, err->text);
        return;
    }

    json_t *info = svc_learner_describe(l);
    json_t *holdout = json_object_get(info, "holdout");
    svc_log_info(
        "training round finished",
        "kind=%s seconds=%.2f watermark=%lld holdout_ndcg_at_20=%s",
        svc_round_kind_name(kind), seconds,
        (long long)json_integer_value(json_object_get(info, "watermark")),
        holdout ? "measured" : "none");
    if (holdout != NULL)
        svc_log_info(
            "holdout quality",
            "ndcg_at_20=%.4f recall_at_20=%.4f "
            "users=%lld",
            json_real_value(json_object_get(holdout, "ndcg@20")),
            json_real_value(json_object_get(holdout, "recall@20")),
            (long long)json_integer_value(json_object_get(holdout, "users")));
    json_decref(info);
}

int64_t svc_snapshot_watermark(const char *dir)
{
    char path[4096];
    json_t *manifest;
    int64_t mark = 0;

    snprintf(path, sizeof(path), "%s/manifest.json", dir);
    manifest = json_load_file(path, 0, NULL);
    if (manifest != NULL) {
        json_t *w = json_object_get(manifest, "watermark");
        if (json_is_integer(w) && json_integer_value(w) > 0)
            mark = json_integer_value(w);
    }
    json_decref(manifest);
    return mark;
}

int svc_background_start(const struct svc_background_config *cfg,
                         struct svc_model *model, struct gnn_store *store,
                         struct svc_background **out, struct svc_error *err)
{
    struct svc_background *b = calloc(1, sizeof(*b));
    int64_t replayed = 0;
    int ret;

    *out = NULL;
    if (b == NULL)
        return svc_error_set(err, SVC_ENOMEM, "cannot allocate");

    ret = svc_learner_new(&cfg->learner, model, store, cfg->base_snapshot,
                          &b->learner, err);
    if (ret == 0)
        ret = svc_learner_replay(model, store, cfg->served_watermark, &replayed,
                                 err);
    if (ret == 0)
        svc_log_info("events replayed into the served model",
                     "after_seq=%lld events=%lld",
                     (long long)cfg->served_watermark, (long long)replayed);

    struct svc_loop_config lc = {
        .min_new_events = cfg->min_new_events,
        .max_delay_s = cfg->max_delay_s,
        .full_interval_s = cfg->full_interval_s,
        .round = svc_learner_round,
        .done = round_done,
        .ctx = b->learner,
    };
    if (ret == 0)
        ret = svc_loop_start(&lc, &b->loop, err);
    if (ret != 0) {
        svc_background_stop(b);
        return ret;
    }
    *out = b;
    return 0;
}

void svc_background_stop(struct svc_background *b)
{
    if (b == NULL)
        return;
    svc_loop_stop(b->loop);
    svc_learner_free(b->learner);
    free(b);
}

void svc_background_note_event(struct svc_background *b)
{
    svc_loop_note_events(b->loop, 1);
}

void svc_background_request_full(struct svc_background *b)
{
    svc_loop_request_full(b->loop);
}

json_t *svc_background_describe(struct svc_background *b)
{
    struct svc_loop_stats st;

    svc_loop_stats(b->loop, &st);
    return json_pack(
        "{s:o, s:b, s:I, s:{s:I, s:I}, s:{s:I, s:I}, s:f, s:i}", "last_round",
        svc_learner_describe(b->learner), "running", st.running,
        "pending_events", (json_int_t)st.pending_events, "rounds",
        "incremental", (json_int_t)st.rounds[SVC_ROUND_INCREMENTAL], "full",
        (json_int_t)st.rounds[SVC_ROUND_FULL], "failures", "incremental",
        (json_int_t)st.failures[SVC_ROUND_INCREMENTAL], "full",
        (json_int_t)st.failures[SVC_ROUND_FULL], "last_seconds",
        st.last_seconds, "last_status", st.last_status);
}

size_t svc_background_metrics(struct svc_background *b, char *buf, size_t size)
{
    struct svc_loop_stats st;
    json_t *last = svc_learner_describe(b->learner);
    json_t *holdout = json_object_get(last, "holdout");
    size_t n;

    svc_loop_stats(b->loop, &st);
    n = (size_t)snprintf(
        buf, size,
        "# HELP hoprec_training_rounds_total Training rounds finished, by "
        "kind.\n"
        "# TYPE hoprec_training_rounds_total counter\n"
        "hoprec_training_rounds_total{kind=\"incremental\"} %lld\n"
        "hoprec_training_rounds_total{kind=\"full\"} %lld\n"
        "# HELP hoprec_training_failures_total Training rounds that failed, "
        "by kind.\n"
        "# TYPE hoprec_training_failures_total counter\n"
        "hoprec_training_failures_total{kind=\"incremental\"} %lld\n"
        "hoprec_training_failures_total{kind=\"full\"} %lld\n"
        "# HELP hoprec_training_running 1 while a training round runs.\n"
        "# TYPE hoprec_training_running gauge\n"
        "hoprec_training_running %d\n"
        "# HELP hoprec_training_pending_events Durable events not yet in a "
        "started round.\n"
        "# TYPE hoprec_training_pending_events gauge\n"
        "hoprec_training_pending_events %lld\n"
        "# HELP hoprec_training_last_duration_seconds Duration of the last "
        "finished round.\n"
        "# TYPE hoprec_training_last_duration_seconds gauge\n"
        "hoprec_training_last_duration_seconds %.6f\n",
        (long long)st.rounds[SVC_ROUND_INCREMENTAL],
        (long long)st.rounds[SVC_ROUND_FULL],
        (long long)st.failures[SVC_ROUND_INCREMENTAL],
        (long long)st.failures[SVC_ROUND_FULL], st.running ? 1 : 0,
        (long long)st.pending_events, st.last_seconds);
    if (holdout != NULL && n < size)
        n += (size_t)snprintf(
            buf + n, size - n,
            "# HELP hoprec_holdout_ndcg_at_20 NDCG@20 of the previous model "
            "on the events it had not seen.\n"
            "# TYPE hoprec_holdout_ndcg_at_20 gauge\n"
            "hoprec_holdout_ndcg_at_20 %.6f\n",
            json_real_value(json_object_get(holdout, "ndcg@20")));
    json_decref(last);
    return n;
}
