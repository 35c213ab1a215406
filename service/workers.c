#include "workers.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct job {
    svc_job_fn *fn;
    void *arg;
    struct job *next;
};

struct svc_workers {
    pthread_mutex_t lock;
    pthread_cond_t ready; /* a job was queued, or stopping */
    struct job *head, *tail;
    long pending; /* queued + running */
    bool stopping;
    int n;
    pthread_t *threads;
};

static void *work(void *arg)
{
    struct svc_workers *w = arg;

    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->head == NULL && !w->stopping)
            pthread_cond_wait(&w->ready, &w->lock);
        struct job *j = w->head;
        if (j == NULL)
            break; /* stopping, and nothing left to run */
        w->head = j->next;
        if (w->head == NULL)
            w->tail = NULL;
        pthread_mutex_unlock(&w->lock);

        j->fn(j->arg);
        free(j);

        pthread_mutex_lock(&w->lock);
        w->pending--;
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int svc_workers_new(int n, struct svc_workers **out, struct svc_error *err)
{
    struct svc_workers *w;

    *out = NULL;
    if (n < 1)
        return svc_error_set(err, SVC_EINVAL, "workers must be >= 1");
    w = calloc(1, sizeof(*w));
    if (w == NULL ||
        (w->threads = calloc((size_t)n, sizeof(pthread_t))) == NULL) {
        free(w);
        return svc_error_set(err, SVC_ENOMEM, "no memory for workers");
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->ready, NULL);

    for (w->n = 0; w->n < n; w->n++) {
        if (pthread_create(&w->threads[w->n], NULL, work, w) != 0) {
            svc_workers_free(w);
            return svc_error_set(err, SVC_ENOMEM,
                                 "cannot start worker thread %d of %d", w->n,
                                 n);
        }
    }
    *out = w;
    return 0;
}

int svc_workers_submit(struct svc_workers *w, svc_job_fn *fn, void *arg)
{
    struct job *j = malloc(sizeof(*j));

    if (j == NULL)
        return SVC_ENOMEM;
    *j = (struct job){.fn = fn, .arg = arg};

    pthread_mutex_lock(&w->lock);
    if (w->stopping) {
        pthread_mutex_unlock(&w->lock);
        free(j);
        return SVC_EUNAVAILABLE;
    }
    if (w->tail != NULL)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    w->pending++;
    pthread_cond_signal(&w->ready);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

long svc_workers_pending(struct svc_workers *w)
{
    long n;

    pthread_mutex_lock(&w->lock);
    n = w->pending;
    pthread_mutex_unlock(&w->lock);
    return n;
}

void svc_workers_free(struct svc_workers *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_broadcast(&w->ready);
    pthread_mutex_unlock(&w->lock);

    for (int i = 0; i < w->n; i++)
        pthread_join(w->threads[i], NULL);
    pthread_cond_destroy(&w->ready);
    pthread_mutex_destroy(&w->lock);
    free(w->threads);
    free(w);
}
