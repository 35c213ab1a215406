/*
 * Coalescing of concurrent queries into one batched search.
 *
 * Inner product against a flat index is a matrix product: one query
 * streams the whole n * dim matrix from memory for dim * n multiply-adds,
 * B queries stream it once for B times the work. So B threads that
 * each search alone pay B passes over memory where one batch pays one.
 *
 * Leader/follower: the first caller finding no open batch opens one and
 * leads it; later callers join it. The leader waits until the batch is
 * full, or max_wait_us has passed and fewer batches than allowed (one by
 * default, see idx_batcher_set_parallel) are being searched; then it
 * closes the batch (the next caller opens a new one), searches outside
 * the lock and marks every member done. Holding a batch back while the
 * searching threads are all busy is what makes batches grow with the
 * load: a small batch started beside them would compete for the same
 * cores at almost the cost per query of single searches. Each member's
 * slot lives on its own stack and the leader touches it only before
 * marking it done, under the lock, so nothing outlives its owner.
 */
#include "idx.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct slot {
    struct idx_query *q;
    int rc;
    struct idx_error err;
    bool done;
};

struct idx_batcher {
    const struct idx *ix;
    int max_batch;
    long max_wait_ns;
    pthread_mutex_t lock;
    pthread_cond_t full;  /* the leader: its batch filled up */
    pthread_cond_t taken; /* callers finding the open batch full */
    pthread_cond_t done;  /* members: some batch finished */
    struct slot **open;   /* max_batch slots of the open batch */
    int n_open;
    bool has_leader;           /* a batch is open */
    int searching;             /* batches being searched */
    int max_searching;         /* ... at most, before the open one goes */
    int last_n;                /* size of the last batch closed */
    uint64_t batches, queries; /* searched so far */
};

int idx_batcher_new(const struct idx *ix, int max_batch, int max_wait_us,
                    struct idx_batcher **out, struct idx_error *err)
{
    struct idx_batcher *b;
    pthread_condattr_t attr;

    if (ix == NULL || out == NULL)
        return idx_error_set(err, IDX_EINVAL, "index and out required");
    *out = NULL;
    if (max_batch < 1 || max_batch > 1024 || max_wait_us < 0 ||
        max_wait_us > 1000000)
        return idx_error_set(err, IDX_EINVAL,
                             "need max_batch in 1..1024 and max_wait_us in "
                             "0..1000000 (got %d, %d)",
                             max_batch, max_wait_us);

    b = calloc(1, sizeof(*b));
    if (b != NULL)
        b->open = calloc((size_t)max_batch, sizeof(*b->open));
    if (b == NULL || b->open == NULL) {
        free(b);
        return idx_error_set(err, IDX_ENOMEM, "no memory for a batcher");
    }
    b->ix = ix;
    b->max_batch = max_batch;
    b->max_wait_ns = (long)max_wait_us * 1000;
    b->max_searching = 1;

    /* Deadlines on the monotonic clock: a wall-clock step must not
     * stretch or cut a batch's wait. */
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&b->full, &attr);
    pthread_condattr_destroy(&attr);
    pthread_cond_init(&b->taken, NULL);
    pthread_cond_init(&b->done, NULL);
    pthread_mutex_init(&b->lock, NULL);
    *out = b;
    return 0;
}

void idx_batcher_set_parallel(struct idx_batcher *b, int n)
{
    pthread_mutex_lock(&b->lock);
    b->max_searching = n < 1 ? 1 : n > 256 ? 256 : n;
    pthread_mutex_unlock(&b->lock);
}

void idx_batcher_stats(struct idx_batcher *b, uint64_t *batches,
                       uint64_t *queries)
{
    pthread_mutex_lock(&b->lock);
    *batches = b->batches;
    *queries = b->queries;
    pthread_mutex_unlock(&b->lock);
}

void idx_batcher_free(struct idx_batcher *b)
{
    if (b == NULL)
        return;
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->full);
    pthread_cond_destroy(&b->taken);
    pthread_cond_destroy(&b->done);
    free(b->open);
    free(b);
}

/*
 * Wait, lock held, until the open batch is full, or the deadline has
 * passed and fewer than max_searching batches are being searched. The
 * timed wait is skipped
 * when the last batch had a single member: at low load nobody is coming
 * and the wait would only add latency.
 */
static void leader_wait(struct idx_batcher *b)
{
    struct timespec until;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += b->max_wait_ns;
    while (until.tv_nsec >= 1000000000L) {
        until.tv_nsec -= 1000000000L;
        until.tv_sec++;
    }
    while (b->n_open < b->max_batch && b->max_wait_ns > 0 && b->last_n > 1) {
        if (pthread_cond_timedwait(&b->full, &b->lock, &until) == ETIMEDOUT)
            break;
    }
    /* A search ending signals full too. */
    while (b->n_open < b->max_batch && b->searching >= b->max_searching)
        pthread_cond_wait(&b->full, &b->lock);
}

/*
 * Lead a batch: collect, close, search with the lock dropped, hand the
 * results to the members. Called and returns with the lock held.
 */
static void lead(struct idx_batcher *b, struct slot *me)
{
    struct slot **members;
    struct idx_query *qs;
    struct idx_error err;
    int n, rc;

    b->has_leader = true;
    b->open[0] = me;
    b->n_open = 1;
    leader_wait(b);

    n = b->n_open;
    members = malloc((size_t)n * sizeof(*members));
    qs = malloc((size_t)n * sizeof(*qs));
    if (members != NULL)
        memcpy(members, b->open, (size_t)n * sizeof(*members));
    b->last_n = n;
    b->batches++;
    b->queries += (uint64_t)n;
    b->n_open = 0;
    b->has_leader = false;
    b->searching++;
    pthread_cond_broadcast(&b->taken);

    if (members == NULL || qs == NULL) {
        /* Without the copy only the open array knows the members; it
         * still holds them (nobody could join: the lock was held). */
        rc = idx_error_set(&err, IDX_ENOMEM, "no memory for a batch");
        for (int i = 0; i < n; i++) {
            b->open[i]->rc = rc;
            b->open[i]->err = err;
            b->open[i]->done = true;
        }
        b->searching--;
        pthread_cond_signal(&b->full);
        pthread_cond_broadcast(&b->done);
        free(members);
        free(qs);
        return;
    }

    pthread_mutex_unlock(&b->lock);
    for (int i = 0; i < n; i++)
        qs[i] = *members[i]->q;
    idx_error_clear(&err);
    rc = idx_search_filtered(b->ix, qs, (size_t)n, &err);
    pthread_mutex_lock(&b->lock);

    for (int i = 0; i < n; i++) {
        members[i]->q->n_found = qs[i].n_found;
        members[i]->rc = rc;
        members[i]->err = err;
        members[i]->done = true;
    }
    b->searching--;
    pthread_cond_signal(&b->full);
    pthread_cond_broadcast(&b->done);
    free(members);
    free(qs);
}

int idx_batcher_search(struct idx_batcher *b, struct idx_query *q,
                       struct idx_error *err)
{
    struct slot me = {.q = q};

    if (b == NULL || q == NULL)
        return idx_error_set(err, IDX_EINVAL, "batcher and query required");

    pthread_mutex_lock(&b->lock);
    while (b->has_leader && b->n_open == b->max_batch)
        pthread_cond_wait(&b->taken, &b->lock);

    if (!b->has_leader) {
        lead(b, &me);
    } else {
        b->open[b->n_open++] = &me;
        if (b->n_open == b->max_batch)
            pthread_cond_signal(&b->full);
        while (!me.done)
            pthread_cond_wait(&b->done, &b->lock);
    }
    pthread_mutex_unlock(&b->lock);

    if (me.rc < 0 && err != NULL)
        *err = me.err;
    return me.rc;
}

static double seconds_now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int idx_batch_costs(const struct idx *ix, struct idx_query *qs, int n_alone,
                    int n_batch, int rounds, double *alone_s, double *batched_s,
                    struct idx_error *err)
{
    double best_alone = -1, best_batched = -1;
    int ret = 0;

    if (ix == NULL || qs == NULL || n_alone < 1 || n_batch < 1 || rounds < 1)
        return idx_error_set(err, IDX_EINVAL,
                             "need an index, queries and n_alone, n_batch, "
                             "rounds >= 1");

    for (int r = 0; r < rounds && ret == 0; r++) {
        double t0 = seconds_now(), t1, t2;

        for (int i = 0; i < n_alone && ret == 0; i++)
            ret = idx_search_filtered(ix, &qs[i], 1, err);
        t1 = seconds_now();
        if (ret == 0)
            ret = idx_search_filtered(ix, qs, (size_t)n_batch, err);
        t2 = seconds_now();
        if (best_alone < 0 || (t1 - t0) / n_alone < best_alone)
            best_alone = (t1 - t0) / n_alone;
        if (best_batched < 0 || (t2 - t1) / n_batch < best_batched)
            best_batched = (t2 - t1) / n_batch;
    }
    if (ret == 0) {
        *alone_s = best_alone;
        *batched_s = best_batched;
    }
    return ret;
}
