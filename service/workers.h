/*
 * A fixed set of threads that run jobs from one queue, first in, first
 * out. The HTTP server hands them the requests whose handlers wait (for
 * a coalesced search, for a shared commit), so that its own few threads
 * never sit idle beside connections that have work.
 */
#ifndef SVC_WORKERS_H
#define SVC_WORKERS_H

#include "err.h"

struct svc_workers;

typedef void svc_job_fn(void *arg);

/* Start n (>= 1) threads; free with svc_workers_free. */
int svc_workers_new(int n, struct svc_workers **out, struct svc_error *err);

/*
 * Queue fn(arg). SVC_EUNAVAILABLE once svc_workers_free has begun: the
 * caller then runs the job itself.
 */
int svc_workers_submit(struct svc_workers *w, svc_job_fn *fn, void *arg);

/* Jobs queued or running now. */
long svc_workers_pending(struct svc_workers *w);

/* Run every queued job, then stop and free the threads; NULL is a no-op. */
void svc_workers_free(struct svc_workers *w);

#endif
