#include <metis.h>
#include <stdlib.h>

#include "gnn_minibatch.h"

/*
 * METIS wants the symmetric adjacency without self loops in its own
 * index type; the graph's adjacency is symmetric in structure (an
 * interaction is an edge both ways) and bipartite, so it has none.
 */
int gnn_partition(const struct gnn_graph *g, int32_t n_parts, uint64_t seed,
                  int32_t *part, struct gnn_error *err)
{
    const struct gnn_csr *a = &g->adj;
    idx_t n = g->n_nodes, ncon = 1, np = n_parts, cut = 0;
    idx_t opts[METIS_NOPTIONS];
    idx_t *xadj = NULL, *adjncy = NULL, *where = NULL;
    int ret;

    if (n_parts < 1 || n_parts > g->n_nodes)
        return gnn_error_set(err, GNN_EINVAL, "parts %d outside 1..%d", n_parts,
                             g->n_nodes);
    if (n_parts == 1) {
        for (int32_t v = 0; v < g->n_nodes; v++)
            part[v] = 0;
        return 0;
    }
    if (a->nnz > (int64_t)INT32_MAX)
        return gnn_error_set(err, GNN_ERANGE, "%lld edges: too many for METIS",
                             (long long)a->nnz);
    xadj = malloc(((size_t)n + 1) * sizeof(*xadj));
    adjncy = malloc(((size_t)a->nnz + 1) * sizeof(*adjncy));
    where = malloc(((size_t)n + 1) * sizeof(*where));
    if (xadj == NULL || adjncy == NULL || where == NULL) {
        ret = gnn_error_set(err, GNN_ENOMEM, "cannot allocate the partition");
        goto out;
    }
    for (idx_t v = 0; v <= n; v++)
        xadj[v] = (idx_t)a->row_ptr[v];
    for (int64_t e = 0; e < a->nnz; e++)
        adjncy[e] = a->col_idx[e];

    METIS_SetDefaultOptions(opts);
    opts[METIS_OPTION_NUMBERING] = 0;
    opts[METIS_OPTION_SEED] = (idx_t)(seed & 0x7fffffff);
    int r = METIS_PartGraphKway(&n, &ncon, xadj, adjncy, NULL, NULL, NULL, &np,
                                NULL, NULL, opts, &cut, where);
    if (r != METIS_OK) {
        ret = gnn_error_set(err, GNN_EIO, "METIS failed with code %d", r);
        goto out;
    }
    for (idx_t v = 0; v < n; v++)
        part[v] = (int32_t)where[v];
    ret = 0;
out:
    free(xadj);
    free(adjncy);
    free(where);
    return ret;
}
