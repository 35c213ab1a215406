/*
 * hoprec's learning core: everything that learns, with no HTTP, no FAISS
 * and no logging. Include this one header to use it.
 */
#ifndef GNN_H
#define GNN_H

#include "gnn_csr.h"
#include "gnn_data.h"
#include "gnn_dense.h"
#include "gnn_diag.h"
#include "gnn_err.h"
#include "gnn_eval.h"
#include "gnn_export.h"
#include "gnn_events.h"
#include "gnn_gen.h"
#include "gnn_graph.h"
#include "gnn_idmap.h"
#include "gnn_minibatch.h"
#include "gnn_hognn.h"
#include "gnn_model.h"
#include "gnn_npy.h"
#include "gnn_pool.h"
#include "gnn_report.h"
#include "gnn_rng.h"
#include "gnn_snapshot.h"
#include "gnn_store.h"
#include "gnn_train.h"

/* Version of the core library, "MAJOR.MINOR.PATCH". */
const char *gnn_version(void);

#endif
