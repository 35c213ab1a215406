/*
 * Turning a trained embedding model into a snapshot.
 */
#ifndef GNN_EXPORT_H
#define GNN_EXPORT_H

#include "gnn_graph.h"
#include "gnn_model.h"
#include "gnn_snapshot.h"

/*
 * A new snapshot (*out, freed by the caller with gnn_snapshot_free) of
 * the model m trained on graph g: m's output embeddings (users, item
 * source and item target sides), each item's total interaction weight as
 * its popularity and g's user->item rows as the seen items. Ids are the
 * decimal row numbers until the caller sets others. m must be an
 * embedding model whose outputs are computed (after gnn_train).
 * GNN_EINVAL for a closed-form model, GNN_ENOMEM.
 */
int gnn_snapshot_from_model(const struct gnn_model *m,
                            const struct gnn_graph *g, const char *name,
                            struct gnn_snapshot **out, struct gnn_error *err);

#endif
