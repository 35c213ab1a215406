#include <criterion/criterion.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

/* A round that records what it was asked and can be held mid-way. */
struct recorder {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    bool hold; /* rounds wait while true */
    bool in_round;
    int calls;
    enum svc_round_kind kinds[16];
    int64_t events[16];
    int fail_next;
    int done_calls;
};

static int record_round(void *ctx, enum svc_round_kind kind, int64_t new_events,
                        struct svc_error *err)
{
    struct recorder *r = ctx;
    int ret = 0;

    pthread_mutex_lock(&r->lock);
    r->in_round = true;
    pthread_cond_broadcast(&r->cv);
    while (r->hold)
        pthread_cond_wait(&r->cv, &r->lock);
    if (r->calls < 16) {
        r->kinds[r->calls] = kind;
        r->events[r->calls] = new_events;
    }
    r->calls++;
    if (r->fail_next) {
        r->fail_next = 0;
        ret = svc_error_set(err, SVC_EIO, "disk full");
    }
    r->in_round = false;
    pthread_mutex_unlock(&r->lock);
    return ret;
}

static void record_done(void *ctx, enum svc_round_kind kind, int status,
                        double seconds, const struct svc_error *err)
{
    struct recorder *r = ctx;

    pthread_mutex_lock(&r->lock);
    r->done_calls++;
    pthread_mutex_unlock(&r->lock);
}

static struct recorder rec;

static void reset(void)
{
    memset(&rec, 0, sizeof(rec));
    pthread_mutex_init(&rec.lock, NULL);
    pthread_cond_init(&rec.cv, NULL);
}

TestSuite(loop, .init = reset);

static struct svc_loop *start(int64_t min_events, double delay_s)
{
    struct svc_loop_config cfg = {
        .min_new_events = min_events,
        .max_delay_s = delay_s,
        .round = record_round,
        .done = record_done,
        .ctx = &rec,
    };
    struct svc_loop *l = NULL;
    struct svc_error err = {0};

    cr_assert_eq(svc_loop_start(&cfg, &l, &err), 0, "%s", err.text);
    return l;
}

/* Wait (at most 10 s) until the loop has finished `rounds` rounds. */
static void wait_rounds(struct svc_loop *l, int64_t rounds)
{
    struct svc_loop_stats st;

    for (int i = 0; i < 10000; i++) {
        svc_loop_stats(l, &st);
        if (st.rounds[0] + st.rounds[1] >= rounds && !st.running)
            return;
        usleep(1000);
    }
    cr_assert_fail("the loop did not finish %lld rounds", (long long)rounds);
}

static int calls(void)
{
    pthread_mutex_lock(&rec.lock);
    int n = rec.calls;
    pthread_mutex_unlock(&rec.lock);
    return n;
}

Test(loop, enough_new_events_start_one_incremental_round)
{
    struct svc_loop *l = start(100, 0);

    svc_loop_note_events(l, 60);
    usleep(50000);
    cr_assert_eq(calls(), 0, "60 events are under the threshold of 100");

    svc_loop_note_events(l, 40);
    wait_rounds(l, 1);
    cr_assert_eq(rec.kinds[0], SVC_ROUND_INCREMENTAL);
    cr_assert_eq(rec.events[0], 100);
    svc_loop_stop(l);
    cr_assert_eq(rec.done_calls, 1);
}

Test(loop, a_trickle_is_learned_after_the_delay)
{
    struct svc_loop *l = start(1000000, 0.05);

    svc_loop_note_events(l, 3);
    wait_rounds(l, 1);
    cr_assert_eq(rec.events[0], 3);
    svc_loop_stop(l);
}

Test(loop, requests_during_a_round_merge_into_one_follow_up)
{
    struct svc_loop *l = start(1, 0);

    pthread_mutex_lock(&rec.lock);
    rec.hold = true;
    pthread_mutex_unlock(&rec.lock);
    svc_loop_note_events(l, 5);

    pthread_mutex_lock(&rec.lock);
    while (!rec.in_round)
        pthread_cond_wait(&rec.cv, &rec.lock);
    pthread_mutex_unlock(&rec.lock);

    /* While it is held: more events and two retrain requests. */
    svc_loop_note_events(l, 7);
    svc_loop_note_events(l, 8);
    svc_loop_request_full(l);
    svc_loop_request_full(l);
    struct svc_loop_stats st;
    svc_loop_stats(l, &st);
    cr_assert(st.running);
    cr_assert_eq(st.pending_events, 15);

    pthread_mutex_lock(&rec.lock);
    rec.hold = false;
    pthread_cond_broadcast(&rec.cv);
    pthread_mutex_unlock(&rec.lock);

    wait_rounds(l, 2);
    usleep(50000);
    cr_assert_eq(calls(), 2, "one follow-up round, not one per request");
    cr_assert_eq(rec.kinds[0], SVC_ROUND_INCREMENTAL);
    cr_assert_eq(rec.kinds[1], SVC_ROUND_FULL);
    cr_assert_eq(rec.events[1], 15);
    svc_loop_stop(l);
}

Test(loop, failures_are_counted_and_the_loop_goes_on)
{
    struct svc_loop *l = start(1, 0);
    struct svc_loop_stats st;

    rec.fail_next = 1;
    svc_loop_request_full(l);
    wait_rounds(l, 1);
    svc_loop_stats(l, &st);
    cr_assert_eq(st.failures[SVC_ROUND_FULL], 1);
    cr_assert_eq(st.last_status, SVC_EIO);
    cr_assert_gt(st.last_finished_ms, 0);

    svc_loop_note_events(l, 1);
    wait_rounds(l, 2);
    svc_loop_stats(l, &st);
    cr_assert_eq(st.rounds[SVC_ROUND_INCREMENTAL], 1);
    cr_assert_eq(st.last_status, 0);
    svc_loop_stop(l);
}

static void *release_later(void *arg)
{
    usleep(100000);
    pthread_mutex_lock(&rec.lock);
    rec.hold = false;
    pthread_cond_broadcast(&rec.cv);
    pthread_mutex_unlock(&rec.lock);
    return arg;
}

Test(loop, stop_waits_for_the_running_round)
{
    struct svc_loop *l = start(1, 0);
    pthread_t t;

    rec.hold = true;
    svc_loop_request_full(l);
    pthread_mutex_lock(&rec.lock);
    while (!rec.in_round)
        pthread_cond_wait(&rec.cv, &rec.lock);
    pthread_mutex_unlock(&rec.lock);

    pthread_create(&t, NULL, release_later, NULL);
    svc_loop_stop(l);
    cr_assert_eq(calls(), 1, "the held round completed before stop returned");
    pthread_join(t, NULL);
}

Test(loop, bad_settings_are_refused)
{
    struct svc_loop_config cfg = {.min_new_events = 0, .round = record_round};
    struct svc_loop *l = NULL;

    cr_assert_eq(svc_loop_start(&cfg, &l, NULL), SVC_EINVAL);
    cfg.min_new_events = 1;
    cfg.round = NULL;
    cr_assert_eq(svc_loop_start(&cfg, &l, NULL), SVC_EINVAL);
    cr_assert_null(l);
    svc_loop_stop(NULL);
}
