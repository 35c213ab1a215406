#include "commands.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gnn.h"
#include "log.h"

static struct {
    char *snapshot, *train, *test, *report;
    long threads;
} o;

static struct svc_opt eval_opts[] = {
    {"snapshot", SVC_OPT_STR, &o.snapshot, NULL, "DIR",
     "snapshot folder written by 'hoprec train --out'", 0, 0, true},
    {"train", SVC_OPT_STR, &o.train, NULL, "FILE",
     "training split whose items are masked", 0, 0, true},
    {"test", SVC_OPT_STR, &o.test, NULL, "FILE", "held-out split to score", 0,
     0, true},
    {"threads", SVC_OPT_INT, &o.threads, "0", "T",
     "worker threads (0: one per online core)", 0, 256, false},
    {"report", SVC_OPT_STR, &o.report, NULL, "FILE",
     "write the figures as JSON", 0, 0, false},
    SVC_COMMON_OPTS,
    {NULL, 0, NULL, NULL, NULL, NULL, 0, 0, false},
};

struct eval_run {
    struct gnn_snapshot *snap;
    struct gnn_interactions train, test;
    struct gnn_csr mask, truth;
    struct gnn_model *model;
    struct gnn_pool *pool;
    struct gnn_metrics figures;
};

static void eval_free(struct eval_run *e)
{
    gnn_snapshot_free(e->snap);
    gnn_interactions_free(&e->train);
    gnn_interactions_free(&e->test);
    gnn_csr_free(&e->mask);
    gnn_csr_free(&e->truth);
    gnn_model_free(e->model);
    gnn_pool_free(e->pool);
}

static int evaluate(struct eval_run *e, struct gnn_error *err)
{
    static const int32_t cut[] = {10, 20};
    long nth = o.threads > 0 ? o.threads : sysconf(_SC_NPROCESSORS_ONLN);
    int ret;

    ret = gnn_snapshot_load(o.snapshot, &e->snap, err);
    if (ret == 0)
        ret = gnn_split_load(o.train, &e->train, err);
    if (ret == 0)
        ret = gnn_split_load(o.test, &e->test, err);
    if (ret != 0)
        return ret;
    ret = gnn_interactions_to_csr(&e->train, e->snap->n_users, e->snap->n_items,
                                  &e->mask, err);
    if (ret == 0)
        ret = gnn_interactions_to_csr(&e->test, e->snap->n_users,
                                      e->snap->n_items, &e->truth, err);
    if (ret != 0) {
        char why[GNN_ERROR_TEXT];
        snprintf(why, sizeof(why), "%s", err->text);
        return gnn_error_set(err, ret,
                             "the splits do not fit the snapshot's %d users "
                             "x %d items: %s",
                             e->snap->n_users, e->snap->n_items, why);
    }
    ret = gnn_model_new_embeddings(e->snap->n_users, e->snap->n_items,
                                   e->snap->dim, e->snap->users,
                                   e->snap->items_target, &e->model, err);
    if (ret == 0)
        ret = gnn_pool_new(nth < 1 ? 1 : (int)nth, &e->pool, err);
    if (ret == 0)
        ret = gnn_evaluate(e->model, &e->mask, &e->truth, cut, 2, e->pool,
                           &e->figures, err);
    return ret;
}

static int write_report(const struct eval_run *e, struct gnn_error *err)
{
    json_t *r =
        json_pack("{s:s, s:s, s:i, s:o, s:I}", "snapshot", o.snapshot, "model",
                  e->snap->model, "dim", (json_int_t)e->snap->dim, "test",
                  gnn_metrics_json(&e->figures), "peak_rss_bytes",
                  (json_int_t)gnn_peak_rss_bytes());
    int ret;

    if (r == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "cannot build the report");
    ret = gnn_report_write(r, o.report, err);
    json_decref(r);
    return ret;
}

static int run_eval(const struct svc_cmd *cmd, int argc, char **argv)
{
    struct eval_run e;
    struct gnn_error err = {0};
    int ret;

    if (argc > 0)
        return svc_cli_usage_error(cmd, "unexpected argument '%s'", argv[0]);
    memset(&e, 0, sizeof(e));
    gnn_interactions_init(&e.train);
    gnn_interactions_init(&e.test);
    ret = evaluate(&e, &err);
    if (ret == 0) {
        const struct gnn_metrics *f = &e.figures;
        printf("users %lld\n", (long long)f->n_users);
        for (int c = 0; c < f->n_cut; c++)
            printf("@%-3d recall %.4f ndcg %.4f hit %.4f mrr %.4f "
                   "precision %.4f\n",
                   f->cut[c], f->recall[c], f->ndcg[c], f->hit[c], f->mrr[c],
                   f->precision[c]);
        svc_log_info("evaluated", "users=%lld seconds=%.2f",
                     (long long)f->n_users, f->seconds);
    }
    if (ret == 0 && o.report != NULL)
        ret = write_report(&e, &err);
    eval_free(&e);
    if (ret != 0) {
        char q[512];
        svc_log_error("evaluation failed", "error=%s",
                      svc_log_quote(q, sizeof(q), err.text));
        return svc_cli_fail(cmd, "%s", err.text);
    }
    return 0;
}

struct svc_cmd svc_cmd_eval = {
    .name = "eval",
    .summary = "score a trained snapshot on a held-out split",
    .usage = "--snapshot DIR --train FILE --test FILE [--report FILE]",
    .description =
        "Ranks all items for every user of the --test split with the "
        "snapshot's embeddings (user . item target), masking the user's "
        "items in the --train split, and prints Recall, NDCG, Hit, MRR and "
        "Precision at 10 and 20. Split files hold dense ids, one user per "
        "line: 'user item item ...'.",
    .opts = eval_opts,
    .run = run_eval,
};
