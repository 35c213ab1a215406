#include "commands.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gnn.h"
#include "log.h"

static struct {
    char *data, *model, *out, *report;
    long layers, dim, epochs, batch, negatives, seed, threads;
    long eval_every, patience, neighbors, mem_limit_mb;
    double lr, lr_decay, l2, init_std, ease_lambda;
    bool track_test;
} o;

/* hognn's switches, gcn's residual and the smoothing guard. */
static struct {
    char *pairs, *categories;
    double alpha, pn_scale, dropedge, pair_weight, smooth_min, smooth_mad_min;
    double retrain_dropedge, logit_scale;
    bool pairnorm, hop_weights, gate, dual, residual, smooth_retrain;
    long diag_sample, pair_window_days;
} ho;

/* Subgraph mini-batches. */
static struct {
    char *mode, *budget, *adam;
    long clusters, per_batch, roots, walk, presample;
    double time_limit;
} mb;

static struct svc_opt train_opts[] = {
    {"data", SVC_OPT_STR, &o.data, NULL, "DIR",
     "folder with train.txt and optionally valid.txt, test.txt", 0, 0, true},
    {"model", SVC_OPT_STR, &o.model, "lightgcn", "NAME",
     "pop, itemknn, ease, mf, lightgcn, gcn or hognn", 0, 0, false},
    {"layers", SVC_OPT_INT, &o.layers, "3", "L",
     "propagation hops (lightgcn) or layers (gcn)", 0, 16, false},
    {"dim", SVC_OPT_INT, &o.dim, "64", "D", "embedding width", 1, 4096, false},
    {"epochs", SVC_OPT_INT, &o.epochs, "1000", "N", "most epochs", 1, 1000000,
     false},
    {"batch", SVC_OPT_INT, &o.batch, "2048", "B", "positives per mini-batch", 1,
     16777216, false},
    {"negatives", SVC_OPT_INT, &o.negatives, "1", "M",
     "sampled negatives per positive", 1, 1000, false},
    {"lr", SVC_OPT_DOUBLE, &o.lr, "0.001", "X", "Adam learning rate", 1e-9, 10,
     false},
    {"lr-decay", SVC_OPT_DOUBLE, &o.lr_decay, "1", "F",
     "learning rate multiplied by F after each epoch", 1e-3, 1, false},
    {"l2", SVC_OPT_DOUBLE, &o.l2, "0.0001", "Y",
     "L2 weight on the batch's base embeddings", 0, 100, false},
    {"init-std", SVC_OPT_DOUBLE, &o.init_std, "0.1", "S",
     "std of the normal initial embeddings", 0, 10, false},
    {"seed", SVC_OPT_INT, &o.seed, "2024", "S", "random seed", 0, 1e15, false},
    {"threads", SVC_OPT_INT, &o.threads, "0", "T",
     "worker threads (0: one per online core)", 0, 256, false},
    {"eval-every", SVC_OPT_INT, &o.eval_every, "5", "E",
     "epochs between validations (0: never)", 0, 1000000, false},
    {"patience", SVC_OPT_INT, &o.patience, "10", "P",
     "validations without NDCG@20 gain before stopping (0: never)", 0, 1000000,
     false},
    {"neighbors", SVC_OPT_INT, &o.neighbors, "100", "N",
     "itemknn: neighbours kept per item", 1, 100000, false},
    {"ease-lambda", SVC_OPT_DOUBLE, &o.ease_lambda, "500", "X",
     "ease: ridge added to the Gram diagonal", 1e-6, 1e9, false},
    {"mem-limit-mb", SVC_OPT_INT, &o.mem_limit_mb, "2048", "MB",
     "ease: refuse an item x item matrix larger than this", 1, 1048576, false},
    {"track-test", SVC_OPT_BOOL, &o.track_test, "false", NULL,
     "also score test.txt at each validation (reported, never used to "
     "choose)",
     0, 0, false},
    {"out", SVC_OPT_STR, &o.out, NULL, "SNAPSHOT",
     "write the trained embeddings as a snapshot folder", 0, 0, false},
    {"report", SVC_OPT_STR, &o.report, NULL, "FILE",
     "write a JSON report of the run", 0, 0, false},
    {"alpha", SVC_OPT_DOUBLE, &ho.alpha, "0.1", "A",
     "hognn: share of hop 0 mixed back at each hop", 0, 1, false},
    {"pairnorm", SVC_OPT_BOOL, &ho.pairnorm, "false", NULL,
     "hognn: PairNorm after each hop", 0, 0, false},
    {"pn-scale", SVC_OPT_DOUBLE, &ho.pn_scale, "1", "S",
     "hognn: PairNorm's root mean squared row norm", 1e-6, 1e6, false},
    {"hop-weights", SVC_OPT_BOOL, &ho.hop_weights, "false", NULL,
     "hognn: learn per-hop weights (softmax over logits)", 0, 0, false},
    {"gate", SVC_OPT_BOOL, &ho.gate, "false", NULL,
     "hognn: per-node gate over hops from hop 0 and hop k", 0, 0, false},
    {"logit-scale", SVC_OPT_DOUBLE, &ho.logit_scale, "0.1", "T",
     "hognn: scale of the hop logits and gate scores", 1e-4, 100, false},
    {"dropedge", SVC_OPT_DOUBLE, &ho.dropedge, "0.1", "P",
     "hognn: share of edges dropped afresh each epoch", 0, 0.9, false},
    {"dual", SVC_OPT_BOOL, &ho.dual, "true", NULL,
     "hognn: separate source item embeddings for item->item pairs", 0, 0,
     false},
    {"pair-weight", SVC_OPT_DOUBLE, &ho.pair_weight, "1", "W",
     "hognn: weight of the directed item->item pair loss", 0, 1000, false},
    {"pairs", SVC_OPT_STR, &ho.pairs, NULL, "FILE",
     "hognn: directed pairs 'i j' (default DIR/pairs_train.txt when "
     "present; 'none' for none)",
     0, 0, false},
    {"pair-window-days", SVC_OPT_INT, &ho.pair_window_days, "14", "D",
     "hognn: without a pairs file, pairs come from DIR/events.csv: a cart "
     "or purchase, then another item within D days",
     1, 3650, false},
    {"categories", SVC_OPT_STR, &ho.categories, NULL, "FILE",
     "hognn: item categories, one per line (default "
     "DIR/item_categories.txt when present; 'none' for none)",
     0, 0, false},
    {"residual", SVC_OPT_BOOL, &ho.residual, "false", NULL,
     "gcn: residual connections, H' = ReLU(A H W) + H", 0, 0, false},
    {"diag-sample", SVC_OPT_INT, &ho.diag_sample, "0", "N",
     "nodes sampled for MAD (0: all)", 0, 100000000, false},
    {"smooth-min", SVC_OPT_DOUBLE, &ho.smooth_min, "0.1", "X",
     "warn when the final embeddings' std falls below X", 0, 1e6, false},
    {"smooth-mad-min", SVC_OPT_DOUBLE, &ho.smooth_mad_min, "0.2", "X",
     "warn when the final embeddings' MAD falls below X", 0, 2, false},
    {"smooth-retrain", SVC_OPT_BOOL, &ho.smooth_retrain, "false", NULL,
     "hognn: retrain with DropEdge on when the guard fires", 0, 0, false},
    {"retrain-dropedge", SVC_OPT_DOUBLE, &ho.retrain_dropedge, "0.2", "P",
     "DropEdge share of the guard's retraining", 0.01, 0.9, false},
    {"time-limit", SVC_OPT_DOUBLE, &mb.time_limit, "0", "S",
     "stop after the epoch that ends past S seconds of wall time, "
     "validated (0: no limit)",
     0, 1e9, false},
    {"minibatch", SVC_OPT_STR, &mb.mode, "auto", "MODE",
     "lightgcn, hognn: off (full-graph propagation per batch), cluster "
     "(METIS parts), saint (random-walk subgraphs) or auto (cluster when "
     "the full graph's working set exceeds --memory-budget)",
     0, 0, false},
    {"clusters", SVC_OPT_INT, &mb.clusters, "0", "N",
     "cluster: METIS parts (0: Q times the full-graph batches per epoch, "
     "at most nodes / 8)",
     0, 100000000, false},
    {"clusters-per-batch", SVC_OPT_INT, &mb.per_batch, "4", "Q",
     "cluster: parts joined into each step's subgraph", 1, 1000000, false},
    {"saint-roots", SVC_OPT_INT, &mb.roots, "0", "R",
     "saint: walk roots per subgraph (0: batch / walk length)", 0, 100000000,
     false},
    {"saint-walk", SVC_OPT_INT, &mb.walk, "2", "H",
     "saint: steps of each random walk", 1, 1000, false},
    {"saint-presample", SVC_OPT_INT, &mb.presample, "0", "M",
     "saint: subgraphs drawn to estimate the normalization (0: from the "
     "data)",
     0, 1000000, false},
    {"minibatch-adam", SVC_OPT_STR, &mb.adam, "lazy", "KIND",
     "cluster, saint: lazy (Adam on each step's rows: epochs linear in "
     "the graph) or dense (every row each step, as full-graph training)",
     0, 0, false},
    {"memory-budget", SVC_OPT_STR, &mb.budget, "physical", "BYTES",
     "auto: working-set budget, with a K, M or G suffix, 'physical' for "
     "the machine's memory or 0 for none",
     0, 0, false},
    SVC_COMMON_OPTS,
    {NULL, 0, NULL, NULL, NULL, NULL, 0, 0, false},
};

/* BYTES with an optional K, M or G (powers of 1024); -1 when bad. */
static int64_t parse_bytes(const char *s)
{
    char *end;
    double v;

    if (strcmp(s, "physical") == 0) {
        long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
        return pages > 0 && size > 0 ? (int64_t)pages * size : 0;
    }
    v = strtod(s, &end);
    if (end == s || !(v >= 0.0))
        return -1;
    switch (*end) {
    case 'k':
    case 'K':
        v *= 1024.0;
        end++;
        break;
    case 'm':
    case 'M':
        v *= 1048576.0;
        end++;
        break;
    case 'g':
    case 'G':
        v *= 1073741824.0;
        end++;
        break;
    default:
        break;
    }
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end != '\0' || v > 9.0e18)
        return -1;
    return (int64_t)v;
}

/* ------------------------------------------------------------ progress */

struct progress_ctx {
    int tty;       /* redraw one line in place */
    int open_line; /* a redrawn line is waiting for its newline */
    json_t *history;
};

static void format_eta(double s, char *buf, size_t size)
{
    if (s >= 3600.0)
        snprintf(buf, size, "%dh%02dm", (int)(s / 3600),
                 (int)fmod(s, 3600) / 60);
    else if (s >= 60.0)
        snprintf(buf, size, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, size, "%.0fs", s);
}

static double at20(const struct gnn_metrics *m, const double *fig)
{
    int c = gnn_metrics_find(m, 20);
    return fig[c >= 0 ? c : m->n_cut - 1];
}

static void history_add(struct progress_ctx *pc, const struct gnn_progress *p)
{
    json_t *h = json_pack("{s:i, s:f, s:f, s:f}", "epoch", (json_int_t)p->epoch,
                          "loss", p->loss, "seconds", p->seconds,
                          "wall_seconds", p->wall_seconds);

    if (h == NULL)
        return;
    if (p->valid != NULL)
        json_object_set_new(h, "valid", gnn_metrics_json(p->valid));
    if (p->test != NULL)
        json_object_set_new(h, "test", gnn_metrics_json(p->test));
    json_array_append_new(pc->history, h);
}

static int on_progress(const struct gnn_progress *p, void *ctx)
{
    struct progress_ctx *pc = ctx;
    char eta[32], figs[160] = "";

    if (p->valid != NULL || p->test != NULL)
        history_add(pc, p);
    format_eta(p->eta_seconds, eta, sizeof(eta));
    if (p->valid != NULL)
        snprintf(figs, sizeof(figs), " valid recall@20 %.4f ndcg@20 %.4f",
                 at20(p->valid, p->valid->recall),
                 at20(p->valid, p->valid->ndcg));
    if (pc->tty) {
        printf("\r\033[Kepoch %d/%d loss %.5f %.2fs eta %s%s", p->epoch,
               p->epochs, p->loss, p->seconds, eta, figs);
        pc->open_line = p->valid == NULL;
        if (p->valid != NULL)
            printf("\n");
        fflush(stdout);
        return 0;
    }
    if (p->valid != NULL && p->test != NULL)
        svc_log_info("epoch done",
                     "epoch=%d epochs=%d loss=%.5f seconds=%.3f eta=%s "
                     "valid_recall_at_20=%.4f valid_ndcg_at_20=%.4f "
                     "test_recall_at_20=%.4f test_ndcg_at_20=%.4f "
                     "best_epoch=%d",
                     p->epoch, p->epochs, p->loss, p->seconds, eta,
                     at20(p->valid, p->valid->recall),
                     at20(p->valid, p->valid->ndcg),
                     at20(p->test, p->test->recall),
                     at20(p->test, p->test->ndcg), p->best_epoch);
    else if (p->valid != NULL)
        svc_log_info("epoch done",
                     "epoch=%d epochs=%d loss=%.5f seconds=%.3f eta=%s "
                     "valid_recall_at_20=%.4f valid_ndcg_at_20=%.4f "
                     "best_epoch=%d",
                     p->epoch, p->epochs, p->loss, p->seconds, eta,
                     at20(p->valid, p->valid->recall),
                     at20(p->valid, p->valid->ndcg), p->best_epoch);
    else
        svc_log_info("epoch done",
                     "epoch=%d epochs=%d loss=%.5f seconds=%.3f eta=%s",
                     p->epoch, p->epochs, p->loss, p->seconds, eta);
    return 0;
}

/* ---------------------------------------------------------------- run */

struct run {
    struct gnn_dataset ds;
    struct gnn_graph graph;
    struct gnn_csr valid, test;
    struct gnn_pool *pool;
    struct gnn_model *model;
    json_t *report;
    struct progress_ctx pc;
    int32_t *pairs, *item_cat; /* hognn's side data */
    int64_t n_pairs;
    int32_t n_cats;
    json_t *diag; /* diagnostics per hop */
    json_t *guard;
};

static void run_free(struct run *r)
{
    gnn_model_free(r->model);
    gnn_pool_free(r->pool);
    gnn_csr_free(&r->valid);
    gnn_csr_free(&r->test);
    gnn_graph_free(&r->graph);
    gnn_dataset_free(&r->ds);
    json_decref(r->report);
    json_decref(r->pc.history);
    free(r->pairs);
    free(r->item_cat);
    json_decref(r->diag);
    json_decref(r->guard);
}

static int thread_count(void)
{
    long n = o.threads;

    if (n == 0)
        n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

static int load(const struct svc_cmd *cmd, struct run *r, struct gnn_error *err)
{
    int ret = gnn_dataset_load_splits(o.data, &r->ds, err);

    if (ret == 0)
        ret = gnn_graph_build(&r->ds.train, r->ds.n_users, r->ds.n_items, 0.5f,
                              0.5f, &r->graph, err);
    if (ret == 0 && r->ds.valid.n > 0)
        ret = gnn_interactions_to_csr(&r->ds.valid, r->ds.n_users,
                                      r->ds.n_items, &r->valid, err);
    if (ret == 0 && r->ds.test.n > 0)
        ret = gnn_interactions_to_csr(&r->ds.test, r->ds.n_users, r->ds.n_items,
                                      &r->test, err);
    if (ret == 0)
        svc_log_info("data loaded",
                     "users=%d items=%d train=%lld valid=%lld test=%lld "
                     "edges=%lld",
                     r->ds.n_users, r->ds.n_items, (long long)r->ds.train.n,
                     (long long)r->ds.valid.n, (long long)r->ds.test.n,
                     (long long)r->graph.adj.nnz);
    return ret;
}

/* -------------------------------------------------------------- hognn */

#define DIAG_MAX 18 /* hops 0..16 and the final outputs */

/* DIR/NAME when opt is NULL and the file exists; NULL for "none". */
static const char *side_path(const char *opt, const char *name, char *buf,
                             size_t size)
{
    if (opt != NULL)
        return strcmp(opt, "none") == 0 ? NULL : opt;
    snprintf(buf, size, "%s/%s", o.data, name);
    return access(buf, R_OK) == 0 ? buf : NULL;
}

/* Fill hognn's and gcn's settings and load the side files. */
static int hognn_setup(struct run *r, struct gnn_model_config *mc,
                       struct gnn_error *err)
{
    struct gnn_hognn_config *h = &mc->hognn;
    char buf[4096];
    const char *path;
    int ret;

    mc->gcn_residual = ho.residual;
    h->alpha = (float)ho.alpha;
    h->pairnorm = ho.pairnorm;
    h->pn_scale = (float)ho.pn_scale;
    h->hop_weights = ho.hop_weights;
    h->gate = ho.gate;
    h->dropedge = (float)ho.dropedge;
    h->dual = ho.dual;
    h->pair_weight = (float)ho.pair_weight;
    h->logit_scale = (float)ho.logit_scale;
    h->seed = (uint64_t)o.seed + 2;
    if (mc->kind != GNN_MODEL_HOGNN)
        return 0;
    path = side_path(ho.pairs, "pairs_train.txt", buf, sizeof(buf));
    if (path != NULL && r->pairs == NULL) {
        ret = gnn_pairs_load(path, r->ds.n_items, &r->pairs, &r->n_pairs, err);
        if (ret != 0)
            return ret;
        svc_log_info("pairs loaded", "file=%s pairs=%lld", path,
                     (long long)r->n_pairs);
    } else if (ho.pairs == NULL && r->pairs == NULL &&
               side_path(NULL, "events.csv", buf, sizeof(buf)) != NULL) {
        ret = gnn_pairs_from_events(o.data, &r->graph.ui, 3600,
                                    ho.pair_window_days * 86400, &r->pairs,
                                    &r->n_pairs, err);
        if (ret != 0)
            return ret;
        svc_log_info("pairs from events", "file=%s pairs=%lld", buf,
                     (long long)r->n_pairs);
    }
    path = side_path(ho.categories, "item_categories.txt", buf, sizeof(buf));
    if (path != NULL && r->item_cat == NULL) {
        ret = gnn_categories_load(path, r->ds.n_items, &r->item_cat, &r->n_cats,
                                  err);
        if (ret != 0)
            return ret;
        svc_log_info("categories loaded", "file=%s categories=%d", path,
                     r->n_cats);
    }
    h->pairs = r->pairs;
    h->n_pairs = r->n_pairs;
    h->item_cat = r->item_cat;
    h->n_cats = r->n_cats;
    return 0;
}

/* Diagnostics of r->model per hop into r->diag; the final entry too. */
static int diagnose(struct run *r, struct gnn_diag *fin, struct gnn_error *err)
{
    struct gnn_diag d[DIAG_MAX];
    int32_t n;
    int ret = gnn_diag_model(r->model, (int32_t)ho.diag_sample,
                             (uint64_t)o.seed, d, DIAG_MAX, &n, err);

    if (ret != 0)
        return ret;
    json_decref(r->diag);
    r->diag = json_array();
    for (int32_t k = 0; k < n; k++) {
        json_t *e =
            json_pack("{s:i, s:f, s:f, s:f}", "hop", (json_int_t)d[k].hop,
                      "std", d[k].std, "mad", d[k].mad, "energy", d[k].energy);
        if (d[k].hop < 0) {
            *fin = d[k];
            json_decref(e);
            continue;
        }
        json_array_append_new(r->diag, e);
        svc_log_info("smoothing", "hop=%d std=%.5f mad=%.5f energy=%.6f",
                     d[k].hop, d[k].std, d[k].mad, d[k].energy);
    }
    svc_log_info("smoothing", "hop=final std=%.5f mad=%.5f energy=%.6f",
                 fin->std, fin->mad, fin->energy);
    return 0;
}

/*
 * Measure over-smoothing; when the final std is under --smooth-min or the
 * MAD under --smooth-mad-min warn, and with --smooth-retrain retrain
 * hognn once with DropEdge on.
 */
static int smoothing_guard(struct run *r, struct gnn_model_config *mc,
                           const struct gnn_train_config *tc,
                           struct gnn_train_result *res, struct gnn_error *err)
{
    struct gnn_diag fin;
    int retrained = 0, ret;

    if (!gnn_model_trainable(r->model))
        return 0;
    ret = diagnose(r, &fin, err);
    if (ret != 0)
        return ret;
    int flagged = gnn_diag_smoothed(&fin, ho.smooth_min, ho.smooth_mad_min);
    if (flagged)
        svc_log_warn("embeddings over-smoothed",
                     "std=%.5f std_min=%.5f mad=%.5f mad_min=%.5f", fin.std,
                     ho.smooth_min, fin.mad, ho.smooth_mad_min);
    if (flagged && ho.smooth_retrain && mc->kind == GNN_MODEL_HOGNN &&
        mc->hognn.dropedge < (float)ho.retrain_dropedge) {
        mc->hognn.dropedge = (float)ho.retrain_dropedge;
        svc_log_info("retraining", "dropedge=%.2f", mc->hognn.dropedge);
        gnn_model_free(r->model);
        r->model = NULL;
        ret = gnn_model_new(mc, &r->graph, &r->model, err);
        if (ret == 0)
            ret = gnn_train(r->model, r->valid.nnz > 0 ? &r->valid : NULL,
                            o.track_test && r->test.nnz > 0 ? &r->test : NULL,
                            tc, r->pool, res, err);
        if (ret == 0)
            ret = diagnose(r, &fin, err);
        if (ret != 0)
            return ret;
        retrained = 1;
    }
    r->guard =
        json_pack("{s:f, s:f, s:f, s:f, s:f, s:b, s:b}", "std", fin.std, "mad",
                  fin.mad, "energy", fin.energy, "threshold", ho.smooth_min,
                  "mad_threshold", ho.smooth_mad_min, "oversmoothed",
                  gnn_diag_smoothed(&fin, ho.smooth_min, ho.smooth_mad_min),
                  "retrained", retrained);
    return 0;
}

/* hognn's settings, the diagnostics and the guard into the report. */
static void hognn_report(struct run *r, const struct gnn_model_config *mc)
{
    if (r->diag != NULL)
        json_object_set(r->report, "diagnostics", r->diag);
    if (r->guard != NULL)
        json_object_set(r->report, "smoothing", r->guard);
    if (mc->kind == GNN_MODEL_GCN)
        json_object_set_new(r->report, "residual",
                            json_boolean(mc->gcn_residual));
    if (mc->kind != GNN_MODEL_HOGNN)
        return;
    const struct gnn_hognn_config *h = &mc->hognn;
    double w[DIAG_MAX];
    int32_t nw = gnn_hognn_hop_weights(r->model, w, DIAG_MAX);
    json_t *ws = json_array();
    for (int32_t k = 0; k < nw; k++)
        json_array_append_new(ws, json_real(w[k]));
    json_object_set_new(r->report, "hop_weights", ws);
    json_object_set_new(
        r->report, "hognn",
        json_pack("{s:f, s:b, s:f, s:b, s:b, s:f, s:b, s:f, s:I, s:i}", "alpha",
                  (double)h->alpha, "pairnorm", h->pairnorm, "pn_scale",
                  (double)h->pn_scale, "hop_weights", h->hop_weights, "gate",
                  h->gate, "dropedge", (double)h->dropedge, "dual", h->dual,
                  "pair_weight", (double)h->pair_weight, "n_pairs",
                  (json_int_t)h->n_pairs, "n_categories",
                  (json_int_t)(h->item_cat ? h->n_cats : 0)));
}

/* Hit@10 and MRR@10 of DIR/pairs_test.txt (source . target) when present. */
static int item_to_item(struct run *r, struct gnn_error *err)
{
    struct gnn_model *m = r->model;
    char buf[4096];
    const char *path = side_path(NULL, "pairs_test.txt", buf, sizeof(buf));
    int32_t *p = NULL;
    int64_t n = 0;
    double hit, mrr;
    int ret;

    if (path == NULL || m->item_out == NULL)
        return 0;
    ret = gnn_pairs_load(path, m->n_items, &p, &n, err);
    if (ret == 0)
        ret = gnn_pairs_evaluate(m->item_source_out, m->item_out, m->n_items,
                                 m->dim, p, n, 10, &hit, &mrr, err);
    free(p);
    if (ret != 0)
        return ret;
    json_object_set_new(r->report, "item_to_item",
                        json_pack("{s:I, s:f, s:f, s:b}", "n_pairs",
                                  (json_int_t)n, "hit_at_10", hit, "mrr_at_10",
                                  mrr, "dual",
                                  m->item_source_out != m->item_out));
    svc_log_info("item to item", "pairs=%lld hit_at_10=%.4f mrr_at_10=%.4f",
                 (long long)n, hit, mrr);
    return 0;
}

/*
 * Recall@20 and NDCG@20 on the test items that have no training
 * interaction (cold items), when there are some.
 */
static int cold_items(struct run *r, struct gnn_error *err)
{
    struct gnn_interactions x;
    struct gnn_csr truth = {0};
    struct gnn_metrics tm;
    const struct gnn_csr *t = &r->test, *iu = &r->graph.iu;
    int32_t cut[1] = {20}, n_cold = 0;
    int ret = 0;

    if (t->nnz == 0 || r->model->item_out == NULL)
        return 0;
    gnn_interactions_init(&x);
    for (int32_t u = 0; u < t->n_rows && ret == 0; u++) {
        for (int64_t e = t->row_ptr[u]; e < t->row_ptr[u + 1]; e++) {
            int32_t i = t->col_idx[e];
            if (i < iu->n_rows && iu->row_ptr[i + 1] > iu->row_ptr[i])
                continue;
            ret = gnn_interactions_push(&x, u, i, 1.0f, 0, err);
            if (ret != 0)
                break;
        }
    }
    for (int32_t i = 0; i < r->ds.n_items; i++)
        n_cold += i >= iu->n_rows || iu->row_ptr[i + 1] == iu->row_ptr[i];
    if (ret == 0 && x.n > 0)
        ret = gnn_interactions_to_csr(&x, r->ds.n_users, r->ds.n_items, &truth,
                                      err);
    if (ret == 0 && x.n > 0)
        ret = gnn_evaluate(r->model, &r->graph.ui, &truth, cut, 1, r->pool, &tm,
                           err);
    if (ret == 0 && x.n > 0) {
        json_object_set_new(r->report, "cold_items",
                            json_pack("{s:i, s:I, s:I, s:f, s:f}", "items",
                                      (json_int_t)n_cold, "test_entries",
                                      (json_int_t)x.n, "users",
                                      (json_int_t)tm.n_users, "recall@20",
                                      tm.recall[0], "ndcg@20", tm.ndcg[0]));
        svc_log_info("cold items", "items=%d entries=%lld recall_at_20=%.4f",
                     n_cold, (long long)x.n, tm.recall[0]);
    }
    gnn_csr_free(&truth);
    gnn_interactions_free(&x);
    return ret;
}

static json_t *base_report(const struct run *r, int threads)
{
    return json_pack(
        "{s:s, s:i, s:i, s:i, s:i, s:f, s:f, s:f, s:I, s:i, "
        "s:s, s:i, s:i, s:I}",
        "model", o.model, "layers", (json_int_t)o.layers, "dim",
        (json_int_t)o.dim, "batch", (json_int_t)o.batch, "negatives",
        (json_int_t)o.negatives, "lr", o.lr, "lr_decay", o.lr_decay, "l2", o.l2,
        "seed", (json_int_t)o.seed, "threads", (json_int_t)threads, "data",
        o.data, "n_users", (json_int_t)r->ds.n_users, "n_items",
        (json_int_t)r->ds.n_items, "n_train", (json_int_t)r->ds.train.n);
}

/* Log what the mini-batch setting resolves to, and why. */
static int log_plan(struct run *r, const struct gnn_train_config *tc,
                    struct gnn_error *err)
{
    struct gnn_minibatch_plan p;
    int ret;

    if (!gnn_model_trainable(r->model) || r->model->ops->fit != NULL)
        return 0;
    ret = gnn_minibatch_plan(r->model, &tc->minibatch, tc->batch, &p, err);
    if (ret != 0)
        return ret;
    svc_log_info("mini-batches",
                 "requested=%s mode=%s full_bytes=%lld batch_bytes=%lld "
                 "budget=%lld fits=%d clusters=%d clusters_per_batch=%d "
                 "saint_roots=%d saint_walk=%d steps_per_epoch=%d adam=%s",
                 mb.mode, gnn_minibatch_mode_name(p.mode),
                 (long long)p.full_bytes, (long long)p.batch_bytes,
                 (long long)tc->minibatch.memory_budget, p.fits, p.clusters,
                 p.per_batch, p.saint_roots, p.saint_walk, p.steps,
                 p.lazy_adam ? "lazy" : "dense");
    if (!p.fits)
        svc_log_warn("working set over the memory budget",
                     "mode=%s batch_bytes=%lld budget=%lld",
                     gnn_minibatch_mode_name(p.mode), (long long)p.batch_bytes,
                     (long long)tc->minibatch.memory_budget);
    return 0;
}

static int train(const struct svc_cmd *cmd, struct run *r,
                 struct gnn_error *err)
{
    struct gnn_model_config mc;
    struct gnn_train_config tc;
    struct gnn_train_result res;
    int kind = gnn_model_kind_parse(o.model);
    int threads = thread_count();
    int ret;

    gnn_model_config_default(&mc, (enum gnn_model_kind)kind);
    mc.dim = (int32_t)o.dim;
    mc.layers = (int32_t)o.layers;
    mc.init_std = (float)o.init_std;
    mc.seed = (uint64_t)o.seed;
    mc.knn_neighbors = (int32_t)o.neighbors;
    mc.ease_lambda = (float)o.ease_lambda;
    mc.mem_limit = (int64_t)o.mem_limit_mb << 20;
    ret = hognn_setup(r, &mc, err);
    if (ret != 0)
        return ret;

    gnn_train_config_default(&tc);
    tc.epochs = (int32_t)o.epochs;
    tc.batch = (int32_t)o.batch;
    tc.negatives = (int32_t)o.negatives;
    tc.lr = (float)o.lr;
    tc.lr_decay = (float)o.lr_decay;
    tc.l2 = (float)o.l2;
    tc.seed = (uint64_t)o.seed + 1;
    tc.eval_every = (int32_t)o.eval_every;
    tc.patience = (int32_t)o.patience;
    tc.progress = on_progress;
    tc.progress_ctx = &r->pc;
    tc.minibatch.mode =
        (enum gnn_minibatch_mode)gnn_minibatch_mode_parse(mb.mode);
    tc.time_limit = mb.time_limit;
    tc.minibatch.clusters = (int32_t)mb.clusters;
    tc.minibatch.per_batch = (int32_t)mb.per_batch;
    tc.minibatch.saint_roots = (int32_t)mb.roots;
    tc.minibatch.saint_walk = (int32_t)mb.walk;
    tc.minibatch.saint_presample = (int32_t)mb.presample;
    tc.minibatch.memory_budget = parse_bytes(mb.budget);
    tc.minibatch.dense_adam = strcmp(mb.adam, "dense") == 0;

    ret = gnn_pool_new(threads, &r->pool, err);
    if (ret == 0)
        ret = gnn_model_new(&mc, &r->graph, &r->model, err);
    if (ret != 0)
        return ret;
    svc_log_info("training", "model=%s threads=%d dim=%ld layers=%ld", o.model,
                 threads, o.dim, o.layers);
    ret = log_plan(r, &tc, err);
    if (ret != 0)
        return ret;
    ret = gnn_train(r->model, r->valid.nnz > 0 ? &r->valid : NULL,
                    o.track_test && r->test.nnz > 0 ? &r->test : NULL, &tc,
                    r->pool, &res, err);
    if (r->pc.open_line)
        printf("\n");
    if (ret == 0)
        ret = smoothing_guard(r, &mc, &tc, &res, err);
    if (ret != 0)
        return ret;

    r->report = base_report(r, threads);
    if (r->report == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "cannot build the report");
    json_t *figures = gnn_train_result_json(&res);
    if (figures != NULL)
        json_object_update(r->report, figures);
    json_decref(figures);
    if (res.has_valid)
        json_object_set_new(r->report, "valid", gnn_metrics_json(&res.valid));
    hognn_report(r, &mc);
    svc_log_info("trained",
                 "epochs=%d best_epoch=%d seconds_per_epoch=%.3f "
                 "train_seconds=%.1f",
                 res.epochs_run, res.best_epoch, res.seconds_per_epoch,
                 res.train_seconds);
    return 0;
}

static int test(struct run *r, struct gnn_error *err)
{
    struct gnn_train_config tc;
    struct gnn_metrics tm;
    int ret;

    if (r->test.nnz == 0)
        return 0;
    gnn_train_config_default(&tc);
    ret = gnn_evaluate(r->model, &r->graph.ui, &r->test, tc.cut, tc.n_cut,
                       r->pool, &tm, err);
    if (ret != 0)
        return ret;
    json_object_set_new(r->report, "test", gnn_metrics_json(&tm));
    svc_log_info("tested",
                 "recall_at_20=%.4f ndcg_at_20=%.4f users=%lld seconds=%.2f",
                 tm.recall[1], tm.ndcg[1], (long long)tm.n_users, tm.seconds);
    return 0;
}

/* ----------------------------------------------------------- snapshot */

/*
 * Read DIR/NAME (one external id per line, in dense-id order) into the
 * snapshot's ids through set(); absent files keep the decimal ids.
 */
static int read_ids(const char *name, int32_t n, struct gnn_snapshot *snap,
                    int (*set)(struct gnn_snapshot *, int32_t, const char *,
                               struct gnn_error *),
                    struct gnn_error *err)
{
    char path[4096], *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int32_t row = 0;
    int ret = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", o.data, name);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    while (row < n && (len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        ret = set(snap, row++, line, err);
        if (ret != 0)
            break;
    }
    if (ret == 0 && row < n)
        ret = gnn_error_set(err, GNN_EFORMAT,
                            "'%s' has %d ids, the data set %d", path, row, n);
    free(line);
    fclose(f);
    return ret;
}

static int write_snapshot(struct run *r, struct gnn_error *err)
{
    const struct gnn_model *m = r->model;
    struct gnn_snapshot *snap = NULL;
    int ret;

    ret = gnn_snapshot_from_model(m, &r->graph, o.model, &snap, err);
    if (ret != 0)
        return ret;

    ret =
        read_ids("users.txt", m->n_users, snap, gnn_snapshot_set_user_id, err);
    if (ret == 0)
        ret = read_ids("items.txt", m->n_items, snap, gnn_snapshot_set_item_id,
                       err);
    if (ret != 0)
        goto out;
    snap->info = json_pack("{s:O}", "training", r->report);
    ret = gnn_snapshot_write(snap, o.out, err);
    if (ret == 0)
        svc_log_info("snapshot written", "dir=%s users=%d items=%d", o.out,
                     m->n_users, m->n_items);
out:
    gnn_snapshot_free(snap);
    return ret;
}

static int run_train(const struct svc_cmd *cmd, int argc, char **argv)
{
    struct run r;
    struct gnn_error err = {0};
    int ret;

    memset(&r, 0, sizeof(r));
    if (argc > 0)
        return svc_cli_usage_error(cmd, "unexpected argument '%s'", argv[0]);
    if (gnn_model_kind_parse(o.model) < 0 || strcmp(o.model, "embeddings") == 0)
        return svc_cli_usage_error(cmd,
                                   "--model: expected pop, itemknn, ease, "
                                   "mf, lightgcn, gcn or hognn, got '%s'",
                                   o.model);
    int kind = gnn_model_kind_parse(o.model);
    if (o.out != NULL && kind != GNN_MODEL_MF && kind != GNN_MODEL_LIGHTGCN &&
        kind != GNN_MODEL_GCN && kind != GNN_MODEL_HOGNN)
        return svc_cli_usage_error(cmd,
                                   "--out: model %s has no embeddings to "
                                   "write as a snapshot",
                                   o.model);
    if (gnn_minibatch_mode_parse(mb.mode) < 0)
        return svc_cli_usage_error(cmd,
                                   "--minibatch: expected off, cluster, "
                                   "saint or auto, got '%s'",
                                   mb.mode);
    if (strcmp(mb.adam, "lazy") != 0 && strcmp(mb.adam, "dense") != 0)
        return svc_cli_usage_error(cmd,
                                   "--minibatch-adam: expected lazy or "
                                   "dense, got '%s'",
                                   mb.adam);
    if (parse_bytes(mb.budget) < 0)
        return svc_cli_usage_error(cmd,
                                   "--memory-budget: expected bytes with "
                                   "an optional K, M or G suffix, got '%s'",
                                   mb.budget);
    if (strcmp(mb.mode, "cluster") == 0 || strcmp(mb.mode, "saint") == 0) {
        if (kind != GNN_MODEL_LIGHTGCN && kind != GNN_MODEL_HOGNN)
            return svc_cli_usage_error(cmd,
                                       "--minibatch %s: only lightgcn and "
                                       "hognn train on subgraphs",
                                       mb.mode);
    }
    r.pc.tty = isatty(STDOUT_FILENO);
    r.pc.history = json_array();

    ret = load(cmd, &r, &err);
    if (ret == 0)
        ret = train(cmd, &r, &err);
    if (ret == 0)
        ret = test(&r, &err);
    if (ret == 0)
        ret = item_to_item(&r, &err);
    if (ret == 0)
        ret = cold_items(&r, &err);
    if (ret == 0)
        json_object_set_new(r.report, "peak_rss_bytes",
                            json_integer(gnn_peak_rss_bytes()));
    if (ret == 0 && o.out != NULL)
        ret = write_snapshot(&r, &err);
    if (ret == 0 && o.report != NULL) {
        json_object_set(r.report, "history", r.pc.history);
        ret = gnn_report_write(r.report, o.report, &err);
    }
    run_free(&r);
    if (ret != 0) {
        char q[512];
        svc_log_error("training failed", "error=%s",
                      svc_log_quote(q, sizeof(q), err.text));
        return svc_cli_fail(cmd, "%s", err.text);
    }
    return 0;
}

struct svc_cmd svc_cmd_train = {
    .name = "train",
    .summary = "train a model on split files and report its quality",
    .usage = "--data DIR [--model NAME] [options]",
    .description =
        "Trains a recommender on DIR/train.txt (LightGCN split format: "
        "'user item item ...' per line), stops early on DIR/valid.txt's "
        "NDCG@20 when present, and scores DIR/test.txt at the end. "
        "Embedding models (mf, lightgcn, gcn) learn by BPR with sampled "
        "negatives and Adam; pop, itemknn and ease are fitted in closed "
        "form. --out writes a snapshot, --report a JSON report.",
    .opts = train_opts,
    .run = run_train,
};
