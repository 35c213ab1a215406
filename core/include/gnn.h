/*
 * hoprec's learning core: everything that learns, with no HTTP, no FAISS
 * and no logging. Include this one header to use it.
 */
#ifndef GNN_H
#define GNN_H

#include "gnn_data.h"
#include "gnn_err.h"
#include "gnn_events.h"
#include "gnn_gen.h"
#include "gnn_idmap.h"
#include "gnn_npy.h"
#include "gnn_snapshot.h"

/* Version of the core library, "MAJOR.MINOR.PATCH". */
const char *gnn_version(void);

#endif
