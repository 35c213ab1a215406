#include "gnn_export.h"

#include <stdlib.h>
#include <string.h>

static int copy_seen(const struct gnn_graph *g, struct gnn_snapshot *s,
                     struct gnn_error *err)
{
    const struct gnn_csr *ui = &g->ui, *iu = &g->iu;

    s->item_popularity = calloc((size_t)s->n_items + 1, sizeof(float));
    s->seen_indptr = malloc(((size_t)s->n_users + 1) * sizeof(int64_t));
    s->seen_items = malloc((size_t)(ui->nnz + 1) * sizeof(int32_t));
    if (s->item_popularity == NULL || s->seen_indptr == NULL ||
        s->seen_items == NULL)
        return gnn_error_set(err, GNN_ENOMEM,
                             "cannot allocate the seen items of %lld edges",
                             (long long)ui->nnz);

    for (int32_t i = 0; i < s->n_items; i++) {
        for (int64_t k = iu->row_ptr[i]; k < iu->row_ptr[i + 1]; k++)
            s->item_popularity[i] += iu->val[k];
    }
    memcpy(s->seen_indptr, ui->row_ptr,
           ((size_t)s->n_users + 1) * sizeof(int64_t));
    memcpy(s->seen_items, ui->col_idx, (size_t)ui->nnz * sizeof(int32_t));
    return 0;
}

int gnn_snapshot_from_model(const struct gnn_model *m,
                            const struct gnn_graph *g, const char *name,
                            struct gnn_snapshot **out, struct gnn_error *err)
{
    struct gnn_snapshot *s = NULL;
    size_t user_bytes, item_bytes;
    int ret;

    *out = NULL;
    if (m->user_out == NULL || m->item_out == NULL)
        return gnn_error_set(err, GNN_EINVAL,
                             "model '%s' has no embeddings to export", name);
    if (g->n_users != m->n_users || g->n_items != m->n_items)
        return gnn_error_set(err, GNN_EINVAL,
                             "graph of %d x %d does not match the model's "
                             "%d x %d",
                             g->n_users, g->n_items, m->n_users, m->n_items);

    ret = gnn_snapshot_new(name, m->dim, m->n_users, m->n_items, &s, err);
    if (ret != 0)
        return ret;

    user_bytes = (size_t)m->n_users * (size_t)m->dim * sizeof(float);
    item_bytes = (size_t)m->n_items * (size_t)m->dim * sizeof(float);
    memcpy(s->users, m->user_out, user_bytes);
    memcpy(s->items_source,
           m->item_source_out ? m->item_source_out : m->item_out, item_bytes);
    memcpy(s->items_target, m->item_out, item_bytes);

    ret = copy_seen(g, s, err);
    if (ret != 0) {
        gnn_snapshot_free(s);
        return ret;
    }
    *out = s;
    return 0;
}
