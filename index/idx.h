/*
 * Embedding indexes over the FAISS C API.
 *
 * An index holds n vectors of dim float32 (row-major) and answers
 * maximum-inner-product queries with the rows of the best vectors. It is
 * exact (IndexFlatIP) by default, or any FAISS factory string ("HNSW32,
 * Flat", "IVF1024,Flat", ...) with training on the vectors themselves.
 * Rows are the plain integers 0..n-1 in the order the vectors came in;
 * this layer knows nothing of users, items or external ids.
 *
 * Threads: a built index is read-only; any number of threads may search
 * it at once. Settings (idx_set_param) must not race with searches.
 * FAISS parallelises a search call with OpenMP; the config's nthreads is
 * applied to the calling thread's OpenMP setting (omp_set_num_threads)
 * for the duration of each call and restored afterwards, so one caller's
 * choice never leaks into another thread. Flat searches of 20 queries or
 * more go through BLAS (sgemm), whose own thread pool is not governed by
 * this setting.
 */
#ifndef IDX_H
#define IDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "idx_err.h"

struct idx; /* opaque: a FAISS index plus what filtering needs */

struct idx_config {
    const char *factory; /* FAISS factory string; NULL means "Flat" */
    int nprobe;          /* IVF lists probed per query; 0 = FAISS default */
    int ef_search;       /* HNSW candidate list; 0 = FAISS default */
    int nthreads;        /* OpenMP threads per call; 0 = leave as is */
};

/*
 * Build an inner-product index over vecs (n * dim floats, row-major; not
 * kept: the index has its own copy). cfg may be NULL for an exact index.
 * Indexes that need training (IVF, PQ) are trained on vecs. Errors:
 * IDX_EINVAL for n < 1 or dim < 1, IDX_EFAISS with FAISS's message for a
 * bad factory string or a failed training, IDX_ENOMEM. Free *out with
 * idx_free().
 */
int idx_build(const struct idx_config *cfg, const float *vecs, int64_t n,
              int dim, struct idx **out, struct idx_error *err);

/* Free an index; ix may be NULL. */
void idx_free(struct idx *ix);

/* Width of the vectors. */
int idx_dim(const struct idx *ix);

/* Number of vectors (rows 0..idx_size()-1). */
int64_t idx_size(const struct idx *ix);

/* True when searches are exact (a flat index). */
bool idx_is_exact(const struct idx *ix);

/* The factory string the index was built with ("loaded" after load). */
const char *idx_factory(const struct idx *ix);

/*
 * Set a FAISS search parameter by name ("nprobe", "efSearch", ...).
 * IDX_EFAISS when the index has no such parameter. Not thread-safe
 * against concurrent searches of ix.
 */
int idx_set_param(struct idx *ix, const char *name, double value,
                  struct idx_error *err);

/*
 * Plain batched search: the k best rows for each of nq queries
 * (nq * dim floats; dim must be the index's). scores and labels have
 * nq * k entries, best first; when fewer than k rows exist the tail
 * holds label -1. Errors: IDX_EINVAL for nq < 1, k < 1 or a dim that is
 * not the index's, IDX_EFAISS.
 */
int idx_search(const struct idx *ix, int64_t nq, const float *queries, int dim,
               int k, float *scores, int64_t *labels, struct idx_error *err);

/*
 * One filtered query. The caller fills the inputs and owns every array;
 * idx_search_filtered() fills labels, scores and n_found.
 */
struct idx_query {
    const float *vec;       /* dim floats */
    int dim;                /* must equal idx_dim() */
    int k;                  /* results wanted, >= 1 */
    int offset;             /* best valid results skipped first, >= 0 */
    const int64_t *exclude; /* n_exclude rows to leave out, any order */
    size_t n_exclude;
    /* More rows to leave out, asked per candidate; may be NULL. Must be
     * cheap and thread-safe; skip_hint is about how many rows it rejects
     * and only sizes the first fetch (a wrong hint costs time, never
     * correctness). */
    bool (*skip)(const void *ctx, int64_t row);
    const void *skip_ctx;
    size_t skip_hint;
    int64_t *labels; /* out: k rows, best first; -1 past n_found */
    float *scores;   /* out: k scores */
    int n_found;     /* out: filled entries, < k only when the index has
                        too few rows left after filtering */
};

/*
 * Answer nq filtered queries at once. Each query over-fetches
 * k + offset + its exclusions from FAISS in one batched call, drops
 * the excluded rows, and grows the fetch for the queries left short;
 * when the fetch would cover half the index, that query falls back to
 * a full exact scan. So for an exact index the answer equals a brute
 * force over the non-excluded rows, whatever is excluded. Errors:
 * IDX_EINVAL for a bad k, offset or dim or a NULL array, IDX_EFAISS,
 * IDX_ENOMEM.
 */
int idx_search_filtered(const struct idx *ix, struct idx_query *qs, size_t nq,
                        struct idx_error *err);

/*
 * Process-wide FAISS setting: flat searches of at least nq queries are
 * one BLAS matrix product (sgemm) instead of FAISS's loop over queries;
 * FAISS's default is 20. Coalesced batches below 20 only gain from
 * batching with a lower value. Returns the previous value; nq <= 0
 * only reads it. FAISS keeps it in a plain global: set it before
 * searches start.
 */
int idx_set_blas_threshold(int nq);

/* Write the FAISS index to path (faiss_write_index_fname). */
int idx_save(const struct idx *ix, const char *path, struct idx_error *err);

/*
 * Read an index written by idx_save() (or any inner-product FAISS index
 * file); cfg's nprobe, ef_search and nthreads apply, its factory is
 * ignored. IDX_EFAISS when the file cannot be read, IDX_EINVAL when its
 * metric is not inner product. Free *out with idx_free().
 */
int idx_load(const char *path, const struct idx_config *cfg, struct idx **out,
             struct idx_error *err);

/* ---------------------------------------------------------------------
 * Coalescing: concurrent single queries answered by one batched search.
 *
 * The first caller to arrive becomes the leader of a batch: it waits up
 * to max_wait_us, or until max_batch queries have joined, then answers
 * them all with one idx_search_filtered() and wakes the others. While a
 * leader searches, the next arrival opens a new batch, so batches
 * overlap rather than queue.
 */
struct idx_batcher;

/*
 * A batcher over ix (borrowed: ix must outlive it). max_batch in
 * 1..1024, max_wait_us in 0..1000000. Free with idx_batcher_free().
 */
int idx_batcher_new(const struct idx *ix, int max_batch, int max_wait_us,
                    struct idx_batcher **out, struct idx_error *err);

/*
 * Let up to n (1..256) closed batches be searched at the same time; 1 by
 * default. A batch searched on one thread keeps one core busy, so n near
 * cores / search threads keeps them all busy and the batches large.
 * Call before the first search.
 */
void idx_batcher_set_parallel(struct idx_batcher *b, int n);

/* Batches searched and queries answered through b so far. */
void idx_batcher_stats(struct idx_batcher *b, uint64_t *batches,
                       uint64_t *queries);

/* Free a batcher no thread is searching through; b may be NULL. */
void idx_batcher_free(struct idx_batcher *b);

/*
 * Whether batching pays on this index, here and now: the seconds per
 * query of qs[0..n_alone) searched one at a time and of qs[0..n_batch)
 * searched as one batch (idx_search_filtered, so with each query's own
 * exclusions), the best of `rounds` alternating runs so that a burst of
 * other load hits both sides alike. Whether one matrix product beats
 * single scans depends on the catalog's size against the caches, on the
 * exclusions (a batch fetches for the most demanding member) and on how
 * the distance kernels were compiled, so it is measured, not assumed.
 */
int idx_batch_costs(const struct idx *ix, struct idx_query *qs, int n_alone,
                    int n_batch, int rounds, double *alone_s, double *batched_s,
                    struct idx_error *err);

/*
 * Answer q (as idx_search_filtered() would) within a shared batch;
 * blocks until done. Errors of the batch are reported to each member.
 */
int idx_batcher_search(struct idx_batcher *b, struct idx_query *q,
                       struct idx_error *err);

#endif
