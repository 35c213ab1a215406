/*
 * Incremental against full retraining on a time-ordered event stream.
 *
 * The first share of an event file (by line order, which is time order
 * for the files `hoprec gen` writes) is learned by one full round. The
 * rest arrives in chunks; after each chunk, one learner runs an
 * incremental (warm-started, few epochs) round and another a full round
 * on the same data. Before training, each learner scores its previous
 * model on the chunk it has not seen (the rolling holdout): NDCG@20 and
 * Recall@20. The table compares the two, chunk by chunk.
 *
 *   incremental_bench --events demo/data/events.csv [--base-share 0.7]
 *                     [--chunks 6] [--incremental-epochs 3]
 *                     [--full-epochs 20] [--round-batches 40]
 *                     [--round-budget 20] [--holdout-users 1000]
 *                     [--dir /tmp]
 *
 * The incremental learner runs with the serving defaults' bounds (at most
 * --round-batches mini-batches per epoch, --round-budget seconds of
 * training); both learners score the same sample of at most
 * --holdout-users users. Seconds are whole rounds (every phase).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gnn.h"
#include "gnn_events.h"
#include "learn.h"

static struct {
    const char *events, *dir;
    double base_share;
    long chunks, incremental_epochs, full_epochs, threads;
    long round_batches, holdout_users;
    double round_budget;
} opt = {NULL, "/tmp", 0.7, 6, 3, 20, 2, 40, 1000, 20.0};

enum { BATCH = 1000 };

/* Lines [from, to) of the file, appended in batches of BATCH events. */
struct feed {
    struct gnn_store *store;
    long from, to;
    int n;
    char users[BATCH][128], items[BATCH][128];
    struct gnn_event ev[BATCH];
};

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "incremental_bench: %s%s%s\n", what, detail ? ": " : "",
            detail ? detail : "");
    exit(1);
}

static int flush(struct feed *f)
{
    int ret = 0;

    if (f->n > 0)
        ret = gnn_store_append(f->store, f->ev, (size_t)f->n, NULL, NULL, 0,
                               NULL, NULL, NULL, NULL);
    f->n = 0;
    return ret;
}

static int append_row(void *ctx, const struct gnn_event_row *row)
{
    struct feed *f = ctx;
    int i = f->n;

    if (row->line < f->from || row->line >= f->to)
        return 0;
    snprintf(f->users[i], 128, "%.*s", (int)row->user_len, row->user);
    snprintf(f->items[i], 128, "%.*s", (int)row->item_len, row->item);
    f->ev[i] = (struct gnn_event){.user_id = f->users[i],
                                  .item_id = f->items[i],
                                  .type = row->type,
                                  .value = row->value,
                                  .occurred_at_ms = row->time * 1000};
    snprintf(f->ev[i].event_id, sizeof(f->ev[i].event_id), "line-%ld",
             row->line);
    f->n++;
    return f->n == BATCH ? flush(f) : 0;
}

static int count_row(void *ctx, const struct gnn_event_row *row)
{
    long *last = ctx;
    *last = row->line;
    return 0;
}

static void feed(struct gnn_store *store, long from, long to)
{
    static struct feed f;
    struct gnn_error err = {0};

    f.store = store;
    f.from = from;
    f.to = to;
    f.n = 0;
    if (gnn_events_scan(opt.events, append_row, &f, &err) < 0 || flush(&f) != 0)
        die("cannot store the events", err.text);
}

static struct svc_learner *learner(const char *name, struct svc_model **m,
                                   struct gnn_store *store)
{
    char path[4096];
    struct svc_model_config mc = {.max_k = 100};
    struct svc_learner_config lc = {.dir = path,
                                    .model = "lightgcn",
                                    .dim = 64,
                                    .layers = 3,
                                    .incremental_epochs =
                                        (int)opt.incremental_epochs,
                                    .full_epochs = (int)opt.full_epochs,
                                    .batch = 2048,
                                    .lr = 0.005f,
                                    .threads = (int)opt.threads,
                                    .keep = 1,
                                    .seed = 11,
                                    .round_batches = (int)opt.round_batches,
                                    .round_budget_s = opt.round_budget,
                                    .holdout_users = (int)opt.holdout_users};
    struct svc_learner *l = NULL;
    struct svc_error err = {0};

    snprintf(path, sizeof(path), "%s/incremental-bench-%d-%s", opt.dir,
             getpid(), name);
    if (svc_model_new(&mc, m, &err) != 0 ||
        svc_learner_new(&lc, *m, store, NULL, &l, &err) != 0)
        die("cannot set up a learner", err.text);
    return l;
}

static void run_round(struct svc_learner *l, enum svc_round_kind kind,
                      double *ndcg, double *recall, double *seconds)
{
    struct svc_error err = {0};

    if (svc_learner_round(l, kind, 0, &err) != 0)
        die("a round failed", err.text);
    json_t *info = svc_learner_describe(l);
    json_t *h = json_object_get(info, "holdout");
    *ndcg = h ? json_real_value(json_object_get(h, "ndcg@20")) : -1;
    *recall = h ? json_real_value(json_object_get(h, "recall@20")) : -1;
    json_t *phases = json_object_get(json_object_get(info, "round"), "phases");
    *seconds = 0;
    for (void *it = json_object_iter(phases); it != NULL;
         it = json_object_iter_next(phases, it))
        *seconds += json_real_value(json_object_iter_value(it));
    json_decref(info);
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--events") == 0)
            opt.events = v;
        else if (strcmp(k, "--dir") == 0)
            opt.dir = v;
        else if (strcmp(k, "--base-share") == 0)
            opt.base_share = atof(v);
        else if (strcmp(k, "--chunks") == 0)
            opt.chunks = atol(v);
        else if (strcmp(k, "--incremental-epochs") == 0)
            opt.incremental_epochs = atol(v);
        else if (strcmp(k, "--full-epochs") == 0)
            opt.full_epochs = atol(v);
        else if (strcmp(k, "--threads") == 0)
            opt.threads = atol(v);
        else if (strcmp(k, "--round-batches") == 0)
            opt.round_batches = atol(v);
        else if (strcmp(k, "--round-budget") == 0)
            opt.round_budget = atof(v);
        else if (strcmp(k, "--holdout-users") == 0)
            opt.holdout_users = atol(v);
    }
    if (opt.events == NULL || opt.base_share <= 0 || opt.base_share >= 1 ||
        opt.chunks < 1)
        die("usage: incremental_bench --events FILE [--base-share 0..1] "
            "[--chunks N] [--incremental-epochs N] [--full-epochs N] "
            "[--threads N] [--round-batches N] [--round-budget S] "
            "[--holdout-users N] [--dir DIR]",
            NULL);

    long last = 0;
    struct gnn_error gerr = {0};
    if (gnn_events_scan(opt.events, count_row, &last, &gerr) < 0)
        die("cannot read the events", gerr.text);

    char db[4096];
    struct gnn_store *store;
    snprintf(db, sizeof(db), "%s/incremental-bench-%d.db", opt.dir, getpid());
    if (gnn_store_open(db, &store, &gerr) != 0)
        die("cannot open the store", gerr.text);

    /* Both learners read the one store. */
    struct svc_model *mi, *mf;
    struct svc_learner *inc = learner("incremental", &mi, store);
    struct svc_learner *full = learner("full", &mf, store);

    long base_end = (long)(opt.base_share * (double)last) + 1;
    double nd, rc, s;
    feed(store, 1, base_end);
    run_round(inc, SVC_ROUND_FULL, &nd, &rc, &s);
    run_round(full, SVC_ROUND_FULL, &nd, &rc, &s);

    printf("| chunk | events | incremental NDCG@20 | full NDCG@20 | ratio | "
           "incremental s | full s |\n|---:|---:|---:|---:|---:|---:|---:|\n");
    double sum_ratio = 0;
    long chunk = (last - base_end + 1 + opt.chunks - 1) / opt.chunks;
    for (long c = 0; c < opt.chunks; c++) {
        long from = base_end + c * chunk, to = from + chunk;
        double ni, ri, si, nf, rf, sf;
        feed(store, from, to);
        run_round(inc, SVC_ROUND_INCREMENTAL, &ni, &ri, &si);
        run_round(full, SVC_ROUND_FULL, &nf, &rf, &sf);
        double ratio = nf > 0 ? ni / nf : 0;
        if (c > 0) /* chunk 1 scores the two base models, which are equal */
            sum_ratio += ratio;
        printf("| %ld | %ld | %.4f | %.4f | %.3f | %.1f | %.1f |\n", c + 1,
               to - from, ni, nf, ratio, si, sf);
        fflush(stdout);
    }
    if (opt.chunks > 1)
        printf("\nmean ratio incremental / full: %.3f over chunks 2..%ld "
               "(each model scored on the chunk after it; chunk 1 scores "
               "the common base model)\n",
               sum_ratio / (double)(opt.chunks - 1), opt.chunks);

    svc_learner_free(inc);
    svc_learner_free(full);
    svc_model_free(mi);
    svc_model_free(mf);
    gnn_store_close(store);
    unlink(db);
    return 0;
}
