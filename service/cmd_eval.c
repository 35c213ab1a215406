#include "commands.h"

#include <stdio.h>

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

static int run_eval(const struct svc_cmd *cmd, int argc, char **argv)
{
    if (argc > 0)
        return svc_cli_usage_error(cmd, "unexpected argument '%s'", argv[0]);
    /* XXX: needs gnn_snapshot_load from the snapshot module. */
    return svc_cli_fail(cmd, "snapshot loading is not available yet");
}

struct svc_cmd svc_cmd_eval = {
    .name = "eval",
    .summary = "score a trained snapshot on a held-out split",
    .usage = "--snapshot DIR --train FILE --test FILE [--report FILE]",
    .description =
        "Ranks all items for every user of FILE given by --test with the "
        "snapshot's embeddings, masking the user's items in --train, and "
        "prints Recall, NDCG, Hit, MRR and Precision at 10 and 20.",
    .opts = eval_opts,
    .run = run_eval,
};
