#include "metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "route.h"

#define N_ROUTES   (SVC_ROUTE_COUNT + 1) /* the last one is "unmatched" */
#define N_STATUSES 500                   /* 100 .. 599 */

static const char *const methods[] = {"GET", "HEAD",   "POST",    "PATCH",
                                      "PUT", "DELETE", "OPTIONS", "other"};
#define N_METHODS (sizeof(methods) / sizeof(methods[0]))

/* Upper bounds in seconds; the +Inf bucket is implied. Requests served
 * from memory take well under a millisecond, so the scale starts low. */
static const double bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                0.005,  0.01,    0.025,  0.05,  0.1,
                                0.25,   0.5,     1,      2.5,   10};
#define N_BOUNDS (sizeof(bounds) / sizeof(bounds[0]))

struct histogram {
    atomic_uint_fast64_t bucket[N_BOUNDS + 1]; /* not cumulative */
    atomic_uint_fast64_t sum_ns;
};

struct svc_metrics {
    atomic_uint_fast64_t requests[N_ROUTES][N_METHODS][N_STATUSES];
    struct histogram duration[N_ROUTES];
    struct histogram search[SVC_SEARCH_KINDS];
    atomic_int_fast64_t in_flight;
    atomic_uint_fast64_t events[SVC_EVENT_OUTCOMES];
    double start_time; /* unix seconds */
};

int svc_metrics_new(struct svc_metrics **out, struct svc_error *err)
{
    struct timespec ts;
    struct svc_metrics *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return svc_error_set(err, SVC_ENOMEM, "out of memory");
    clock_gettime(CLOCK_REALTIME, &ts);
    m->start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    *out = m;
    return 0;
}

void svc_metrics_free(struct svc_metrics *m)
{
    free(m);
}

void svc_metrics_request_begin(struct svc_metrics *m)
{
    atomic_fetch_add_explicit(&m->in_flight, 1, memory_order_relaxed);
}

static void observe(struct histogram *h, double seconds)
{
    size_t b = 0;

    if (seconds < 0)
        seconds = 0;
    while (b < N_BOUNDS && seconds > bounds[b])
        b++;
    atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, (uint_fast64_t)(seconds * 1e9),
                              memory_order_relaxed);
}

static size_t method_index(const char *method)
{
    for (size_t i = 0; i + 1 < N_METHODS; i++) {
        if (strcmp(method, methods[i]) == 0)
            return i;
    }
    return N_METHODS - 1;
}

void svc_metrics_request_end(struct svc_metrics *m, int route,
                             const char *method, int status, double seconds)
{
    size_t r =
        route >= 0 && route < SVC_ROUTE_COUNT ? (size_t)route : SVC_ROUTE_COUNT;

    atomic_fetch_sub_explicit(&m->in_flight, 1, memory_order_relaxed);
    if (status >= 100 && status <= 599)
        atomic_fetch_add_explicit(
            &m->requests[r][method_index(method)][status - 100], 1,
            memory_order_relaxed);
    observe(&m->duration[r], seconds);
}

void svc_metrics_search(struct svc_metrics *m, enum svc_search_kind kind,
                        double seconds)
{
    if ((unsigned)kind < SVC_SEARCH_KINDS)
        observe(&m->search[kind], seconds);
}

void svc_metrics_events(struct svc_metrics *m, enum svc_event_outcome outcome,
                        uint64_t n)
{
    if ((unsigned)outcome < SVC_EVENT_OUTCOMES)
        atomic_fetch_add_explicit(&m->events[outcome], n, memory_order_relaxed);
}

int64_t svc_metrics_in_flight(const struct svc_metrics *m)
{
    return atomic_load_explicit(&m->in_flight, memory_order_relaxed);
}

/* ------------------------------------------------------------------ */
/* Rendering */

static const char *route_label(size_t r)
{
    return r < SVC_ROUTE_COUNT ? svc_routes[r].path : "unmatched";
}

static void header(FILE *f, const char *name, const char *type,
                   const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One histogram's series; label is `key="value"` (no escaping needed:
 * every value is one of our templates or kind names). */
static void write_histogram(FILE *f, const char *name, const char *label,
                            const struct histogram *h)
{
    uint64_t cum = 0;

    for (size_t b = 0; b <= N_BOUNDS; b++) {
        cum += atomic_load_explicit(&h->bucket[b], memory_order_relaxed);
        if (b < N_BOUNDS)
            fprintf(f, "%s_bucket{%s,le=\"%g\"} %llu\n", name, label, bounds[b],
                    (unsigned long long)cum);
        else
            fprintf(f, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, label,
                    (unsigned long long)cum);
    }
    fprintf(f, "%s_sum{%s} %.9f\n", name, label,
            (double)atomic_load_explicit(&h->sum_ns, memory_order_relaxed) /
                1e9);
    fprintf(f, "%s_count{%s} %llu\n", name, label, (unsigned long long)cum);
}

static void write_requests(FILE *f, const struct svc_metrics *m)
{
    header(f, "hoprec_http_requests_total", "counter",
           "HTTP requests answered, by route template, method and status.");
    for (size_t r = 0; r < N_ROUTES; r++) {
        for (size_t k = 0; k < N_METHODS; k++) {
            for (size_t s = 0; s < N_STATUSES; s++) {
                uint64_t v = atomic_load_explicit(&m->requests[r][k][s],
                                                  memory_order_relaxed);
                if (v == 0)
                    continue;
                fprintf(f,
                        "hoprec_http_requests_total{route=\"%s\","
                        "method=\"%s\",status=\"%zu\"} %llu\n",
                        route_label(r), methods[k], s + 100,
                        (unsigned long long)v);
            }
        }
    }

    header(f, "hoprec_http_request_duration_seconds", "histogram",
           "Time from a request's headers to its last byte queued, all "
           "statuses.");
    for (size_t r = 0; r < N_ROUTES; r++) {
        char label[128];
        snprintf(label, sizeof(label), "route=\"%s\"", route_label(r));
        write_histogram(f, "hoprec_http_request_duration_seconds", label,
                        &m->duration[r]);
    }

    header(f, "hoprec_http_requests_in_flight", "gauge",
           "HTTP requests being processed now.");
    fprintf(f, "hoprec_http_requests_in_flight %lld\n",
            (long long)svc_metrics_in_flight(m));
}

static void write_model(FILE *f, const struct svc_metrics *m,
                        const struct svc_metrics_model *model)
{
    static const char *const kinds[] = {"recommend", "related"};
    bool loaded = model != NULL && model->loaded;

    header(f, "hoprec_search_duration_seconds", "histogram",
           "Time of one index search, by kind.");
    for (size_t k = 0; k < SVC_SEARCH_KINDS; k++) {
        char label[64];
        snprintf(label, sizeof(label), "kind=\"%s\"", kinds[k]);
        write_histogram(f, "hoprec_search_duration_seconds", label,
                        &m->search[k]);
    }

    header(f, "hoprec_model_loaded", "gauge",
           "1 when a model generation is being served.");
    fprintf(f, "hoprec_model_loaded %d\n", loaded ? 1 : 0);
    if (!loaded)
        return;

    header(f, "hoprec_model_version", "gauge",
           "Version of the model generation being served.");
    fprintf(f, "hoprec_model_version %lld\n", (long long)model->version);
    header(f, "hoprec_model_age_seconds", "gauge",
           "Seconds since the served generation was published.");
    fprintf(f, "hoprec_model_age_seconds %.3f\n", model->age_seconds);
    header(f, "hoprec_model_users", "gauge",
           "Users in the served generation's index.");
    fprintf(f, "hoprec_model_users %lld\n", (long long)model->n_users);
    header(f, "hoprec_model_items", "gauge",
           "Items in the served generation's index.");
    fprintf(f, "hoprec_model_items %lld\n", (long long)model->n_items);
    header(f, "hoprec_search_batches_total", "counter",
           "Coalesced exact searches: batches run as one FAISS call.");
    fprintf(f, "hoprec_search_batches_total %llu\n",
            (unsigned long long)model->search_batches);
    header(f, "hoprec_search_batched_queries_total", "counter",
           "Queries answered by coalesced batches (divided by the batches: "
           "the mean batch size).");
    fprintf(f, "hoprec_search_batched_queries_total %llu\n",
            (unsigned long long)model->search_batched_queries);
}

/* The served model's smoothing diagnostics, one gauge per hop. */
static void write_hops(FILE *f, const struct svc_metrics_model *model)
{
    static const char *const names[3] = {"hoprec_model_hop_std",
                                         "hoprec_model_hop_mad",
                                         "hoprec_model_hop_dirichlet_energy"};
    static const char *const helps[3] = {
        "Standard deviation of the served embeddings after each hop.",
        "Mean average cosine distance between embeddings after each hop.",
        "Dirichlet energy of the embeddings over the graph after each hop."};

    if (model == NULL || !model->loaded || model->n_hops < 1)
        return;
    for (int k = 0; k < 3; k++) {
        const double *v = k == 0   ? model->hop_std
                          : k == 1 ? model->hop_mad
                                   : model->hop_energy;
        header(f, names[k], "gauge", helps[k]);
        for (int h = 0; h < model->n_hops && h < SVC_METRICS_MAX_HOPS; h++)
            fprintf(f, "%s{hop=\"%d\"} %.6g\n", names[k], h, v[h]);
    }
}

static void write_events(FILE *f, const struct svc_metrics *m)
{
    static const char *const outcomes[SVC_EVENT_OUTCOMES] = {
        "stored", "duplicate", "rejected"};

    header(f, "hoprec_events_total", "counter",
           "Events posted, by outcome: stored, duplicate (event_id known), "
           "rejected (invalid).");
    for (int o = 0; o < SVC_EVENT_OUTCOMES - 1; o++)
        fprintf(f, "hoprec_events_total{outcome=\"%s\"} %llu\n", outcomes[o],
                (unsigned long long)atomic_load_explicit(&m->events[o],
                                                         memory_order_relaxed));
    fprintf(f, "hoprec_events_total{outcome=\"%s\"} %llu\n",
            outcomes[SVC_EVENT_REJECTED],
            (unsigned long long)atomic_load_explicit(
                &m->events[SVC_EVENT_REJECTED], memory_order_relaxed));
    header(f, "hoprec_event_store_errors_total", "counter",
           "Batches the event store could not write (disk full, I/O "
           "errors); each was answered 503.");
    fprintf(f, "hoprec_event_store_errors_total %llu\n",
            (unsigned long long)atomic_load_explicit(
                &m->events[SVC_EVENT_STORE_ERROR], memory_order_relaxed));
}

static void write_learning(FILE *f, const struct svc_metrics_model *model)
{
    static const char *const kinds[] = {"incremental", "full"};

    if (model == NULL || !model->learning)
        return;
    header(f, "hoprec_learn_rounds_total", "counter",
           "Background training rounds finished, by kind.");
    for (int k = 0; k < 2; k++)
        fprintf(f, "hoprec_learn_rounds_total{kind=\"%s\"} %lld\n", kinds[k],
                (long long)model->rounds[k]);
    header(f, "hoprec_learn_round_failures_total", "counter",
           "Background training rounds that failed, by kind.");
    for (int k = 0; k < 2; k++)
        fprintf(f, "hoprec_learn_round_failures_total{kind=\"%s\"} %lld\n",
                kinds[k], (long long)model->failures[k]);
    header(f, "hoprec_learn_pending_events", "gauge",
           "Stored events that no training round has started on yet.");
    fprintf(f, "hoprec_learn_pending_events %lld\n",
            (long long)model->pending_events);
    header(f, "hoprec_learn_running", "gauge",
           "1 while a training round runs.");
    fprintf(f, "hoprec_learn_running %d\n", model->running ? 1 : 0);
    header(f, "hoprec_learn_last_round_seconds", "gauge",
           "Duration of the last finished training round.");
    fprintf(f, "hoprec_learn_last_round_seconds %.3f\n", model->last_seconds);
}

int svc_metrics_render(const struct svc_metrics *m,
                       const struct svc_metrics_model *model, char **out,
                       size_t *len, struct svc_error *err)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);

    if (f == NULL)
        return svc_error_set(err, SVC_ENOMEM, "out of memory");

    write_requests(f, m);
    write_model(f, m, model);
    write_hops(f, model);
    write_events(f, m);
    write_learning(f, model);
    header(f, "process_start_time_seconds", "gauge",
           "Start time of the process since the Unix epoch in seconds.");
    fprintf(f, "process_start_time_seconds %.3f\n", m->start_time);

    if (ferror(f) != 0) {
        fclose(f);
        free(buf);
        return svc_error_set(err, SVC_ENOMEM, "out of memory");
    }
    fclose(f);
    *out = buf;
    *len = size;
    return 0;
}
