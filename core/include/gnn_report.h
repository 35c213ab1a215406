/*
 * Training and evaluation reports as JSON (jansson), so that tools and
 * benchmark scripts read the same figures the command line shows.
 */
#ifndef GNN_REPORT_H
#define GNN_REPORT_H

#include <jansson.h>
#include <stdint.h>

#include "gnn_eval.h"
#include "gnn_train.h"

/*
 * The metrics as a new JSON object (caller decrefs) keyed "recall@K",
 * "ndcg@K", "hit@K", "mrr@K", "precision@K" for each cut-off K, plus
 * "users" and "seconds". NULL when out of memory.
 */
json_t *gnn_metrics_json(const struct gnn_metrics *m);

/* The result's figures as a new JSON object (caller decrefs), or NULL. */
json_t *gnn_train_result_json(const struct gnn_train_result *r);

/* Peak resident set size of this process in bytes (getrusage). */
int64_t gnn_peak_rss_bytes(void);

/*
 * Write report to path as indented JSON, through a temporary file renamed
 * into place. GNN_EIO naming the path on failure.
 */
int gnn_report_write(const json_t *report, const char *path,
                     struct gnn_error *err);

#endif
