#include "loop.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

struct svc_loop {
    struct svc_loop_config cfg;
    uv_loop_t loop;
    uv_async_t wake;  /* new events, retrain requests, stop */
    uv_timer_t delay; /* max_delay_s after the first unlearned event */
    uv_timer_t full;  /* the full-retrain period */
    uv_work_t work;
    uv_thread_t thread;

    pthread_mutex_t lock; /* everything below */
    struct svc_loop_stats stats;
    bool want_full;
    bool stopping;
    enum svc_round_kind kind; /* of the running round */
    int64_t round_events;     /* events handed to it */
    uint64_t started_ns;
    struct svc_error round_err;
    int round_status;
};

const char *svc_round_kind_name(enum svc_round_kind kind)
{
    return kind == SVC_ROUND_FULL ? "full" : "incremental";
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------------- */
/* Rounds (worker thread)                                                 */

static void run_round(uv_work_t *req)
{
    struct svc_loop *l = req->data;

    svc_error_clear(&l->round_err);
    l->round_status =
        l->cfg.round(l->cfg.ctx, l->kind, l->round_events, &l->round_err);
}

static void maybe_start(struct svc_loop *l, bool delay_due);
static void delay_expired(uv_timer_t *t);

static void round_finished(uv_work_t *req, int status)
{
    struct svc_loop *l = req->data;
    double seconds = (double)(now_ns() - l->started_ns) / 1e9;
    int result = status == 0 ? l->round_status : SVC_EINTERNAL;

    pthread_mutex_lock(&l->lock);
    l->stats.running = false;
    l->stats.rounds[l->kind]++;
    if (result != 0)
        l->stats.failures[l->kind]++;
    l->stats.last_seconds = seconds;
    l->stats.last_status = result;
    l->stats.last_finished_ms = wall_ms();
    pthread_mutex_unlock(&l->lock);

    if (l->cfg.done != NULL)
        l->cfg.done(l->cfg.ctx, l->kind, result, seconds, &l->round_err);
    maybe_start(l, false);
}

/* ---------------------------------------------------------------------- */
/* Scheduling (loop thread)                                               */

/*
 * Start a round if one is due and none is running. delay_due says that
 * the oldest unlearned event has waited max_delay_s, so that a trickle of
 * events is learned even when it never reaches min_new_events.
 */
static void maybe_start(struct svc_loop *l, bool delay_due)
{
    bool start = false, arm_delay = false;

    pthread_mutex_lock(&l->lock);
    int64_t pending = l->stats.pending_events;
    if (!l->stats.running && !l->stopping) {
        if (l->want_full) {
            l->kind = SVC_ROUND_FULL;
            start = true;
        } else if (pending > 0 &&
                   (pending >= l->cfg.min_new_events || delay_due)) {
            l->kind = SVC_ROUND_INCREMENTAL;
            start = true;
        }
    }
    if (start) {
        l->want_full = false;
        l->round_events = pending;
        l->stats.pending_events = 0;
        l->stats.running = true;
        l->started_ns = now_ns();
    } else {
        arm_delay = pending > 0 && l->cfg.max_delay_s > 0 && !l->stopping;
    }
    pthread_mutex_unlock(&l->lock);

    if (start) {
        uv_timer_stop(&l->delay);
        l->work.data = l;
        uv_queue_work(&l->loop, &l->work, run_round, round_finished);
    } else if (arm_delay && !uv_is_active((uv_handle_t *)&l->delay)) {
        uint64_t ms = (uint64_t)(l->cfg.max_delay_s * 1000.0);
        uv_timer_start(&l->delay, delay_expired, ms > 0 ? ms : 1, 0);
    }
}

static void delay_expired(uv_timer_t *t)
{
    maybe_start(t->data, true);
}

static void full_due(uv_timer_t *t)
{
    struct svc_loop *l = t->data;

    pthread_mutex_lock(&l->lock);
    l->want_full = true;
    pthread_mutex_unlock(&l->lock);
    maybe_start(l, false);
}

static void close_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void woken(uv_async_t *a)
{
    struct svc_loop *l = a->data;

    pthread_mutex_lock(&l->lock);
    bool stopping = l->stopping;
    pthread_mutex_unlock(&l->lock);

    if (stopping) {
        /* Closing every handle ends uv_run once a running round is done. */
        uv_walk(&l->loop, close_handle, NULL);
        return;
    }
    maybe_start(l, false);
}

static void loop_thread(void *arg)
{
    struct svc_loop *l = arg;

    uv_run(&l->loop, UV_RUN_DEFAULT);
}

/* ---------------------------------------------------------------------- */
/* Public                                                                 */

int svc_loop_start(const struct svc_loop_config *cfg, struct svc_loop **out,
                   struct svc_error *err)
{
    struct svc_loop *l = calloc(1, sizeof(*l));

    *out = NULL;
    if (l == NULL)
        return svc_error_set(err, SVC_ENOMEM, "cannot allocate the loop");
    if (cfg->round == NULL || cfg->min_new_events < 1 || cfg->max_delay_s < 0 ||
        cfg->full_interval_s < 0) {
        free(l);
        return svc_error_set(err, SVC_EINVAL, "invalid loop settings");
    }
    l->cfg = *cfg;
    pthread_mutex_init(&l->lock, NULL);

    int rc = uv_loop_init(&l->loop);
    if (rc == 0)
        rc = uv_async_init(&l->loop, &l->wake, woken);
    if (rc == 0)
        rc = uv_timer_init(&l->loop, &l->delay);
    if (rc == 0)
        rc = uv_timer_init(&l->loop, &l->full);
    if (rc != 0) {
        pthread_mutex_destroy(&l->lock);
        free(l);
        return svc_error_set(err, SVC_EINTERNAL, "cannot start libuv: %s",
                             uv_strerror(rc));
    }
    l->wake.data = l->delay.data = l->full.data = l;

    uint64_t period = (uint64_t)(cfg->full_interval_s * 1000.0);
    if (period > 0)
        uv_timer_start(&l->full, full_due, period, period);

    rc = uv_thread_create(&l->thread, loop_thread, l);
    if (rc != 0) {
        uv_walk(&l->loop, close_handle, NULL);
        uv_run(&l->loop, UV_RUN_DEFAULT);
        uv_loop_close(&l->loop);
        pthread_mutex_destroy(&l->lock);
        free(l);
        return svc_error_set(err, SVC_EINTERNAL, "cannot start a thread: %s",
                             uv_strerror(rc));
    }
    *out = l;
    return 0;
}

void svc_loop_stop(struct svc_loop *l)
{
    if (l == NULL)
        return;

    pthread_mutex_lock(&l->lock);
    l->stopping = true;
    pthread_mutex_unlock(&l->lock);
    uv_async_send(&l->wake);
    uv_thread_join(&l->thread);

    uv_loop_close(&l->loop);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

void svc_loop_note_events(struct svc_loop *l, int64_t n)
{
    pthread_mutex_lock(&l->lock);
    l->stats.pending_events += n;
    pthread_mutex_unlock(&l->lock);
    uv_async_send(&l->wake);
}

void svc_loop_request_full(struct svc_loop *l)
{
    pthread_mutex_lock(&l->lock);
    l->want_full = true;
    pthread_mutex_unlock(&l->lock);
    uv_async_send(&l->wake);
}

void svc_loop_stats(struct svc_loop *l, struct svc_loop_stats *out)
{
    pthread_mutex_lock(&l->lock);
    *out = l->stats;
    pthread_mutex_unlock(&l->lock);
}
