#include "gnn_pool.h"

#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>

struct worker {
    struct gnn_pool *pool;
    int ith;
    pthread_t thread;
};

struct gnn_pool {
    int nth;
    pthread_mutex_t mu;
    pthread_cond_t start; /* workers wait here for a new generation */
    pthread_cond_t done;  /* the caller waits here for pending == 0 */
    unsigned long generation;
    int pending;
    int stop;
    gnn_task_fn fn;
    void *ctx;
    struct worker *workers; /* nth - 1 entries */
    int n_started;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct gnn_pool *p = w->pool;
    unsigned long seen = 0;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->start, &p->mu);
        if (p->stop)
            break;
        seen = p->generation;
        gnn_task_fn fn = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);

        fn(w->ith, p->nth, ctx);

        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int gnn_pool_new(int nth, struct gnn_pool **out, struct gnn_error *err)
{
    struct gnn_pool *p;

    *out = NULL;
    if (nth < 1 || nth > 256)
        return gnn_error_set(err, GNN_EINVAL, "thread count %d outside 1..256",
                             nth);
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate a pool");
    p->nth = nth;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    p->workers = calloc((size_t)nth, sizeof(*p->workers));
    if (p->workers == NULL) {
        gnn_pool_free(p);
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate a pool");
    }
    for (int i = 1; i < nth; i++) {
        struct worker *w = &p->workers[i - 1];
        w->pool = p;
        w->ith = i;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            gnn_pool_free(p);
            return gnn_error_set(err, GNN_ENOMEM, "cannot start pool thread %d",
                                 i);
        }
        p->n_started++;
    }
    /* The pool splits BLAS calls by rows; nested BLAS threads would
     * oversubscribe the cores and make sums depend on their count. */
    openblas_set_num_threads(1);
    *out = p;
    return 0;
}

void gnn_pool_free(struct gnn_pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_started; i++)
        pthread_join(p->workers[i].thread, NULL);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->workers);
    free(p);
}

int gnn_pool_size(const struct gnn_pool *p)
{
    return p == NULL ? 1 : p->nth;
}

void gnn_pool_run(struct gnn_pool *p, gnn_task_fn fn, void *ctx)
{
    if (p == NULL || p->nth == 1) {
        fn(0, 1, ctx);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->pending = p->nth - 1;
    p->generation++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);

    fn(0, p->nth, ctx);

    pthread_mutex_lock(&p->mu);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void gnn_split_range(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi)
{
    *lo = n * ith / nth;
    *hi = n * (ith + 1) / nth;
}
