#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"
#include "route.h"

static char *render(struct svc_metrics *m, const struct svc_metrics_model *mm)
{
    char *text;
    size_t len;

    cr_assert_eq(svc_metrics_render(m, mm, &text, &len, NULL), 0);
    cr_assert_eq(strlen(text), len);
    return text;
}

Test(metrics, requests_are_counted_by_route_template_method_and_status)
{
    struct svc_metrics *m;

    cr_assert_eq(svc_metrics_new(&m, NULL), 0);
    for (int i = 0; i < 3; i++) {
        svc_metrics_request_begin(m);
        svc_metrics_request_end(m, SVC_ROUTE_RECOMMEND, "GET", 200, 0.002);
    }
    svc_metrics_request_begin(m);
    svc_metrics_request_end(m, -1, "BREW", 404, 0.0001);

    char *text = render(m, NULL);
    cr_assert(strstr(text, "hoprec_http_requests_total{route=\"/v1/users/"
                           "{user_id}/recommendations\",method=\"GET\","
                           "status=\"200\"} 3\n") != NULL,
              "%s", text);
    cr_assert(strstr(text, "hoprec_http_requests_total{route=\"unmatched\","
                           "method=\"other\",status=\"404\"} 1\n") != NULL);
    cr_assert(strstr(text, "hoprec_http_requests_in_flight 0\n") != NULL);
    cr_assert(strstr(text, "hoprec_model_loaded 0\n") != NULL);
    cr_assert_null(strstr(text, "hoprec_model_version"));
    free(text);
    svc_metrics_free(m);
}

Test(metrics, histogram_buckets_are_cumulative)
{
    struct svc_metrics *m;

    cr_assert_eq(svc_metrics_new(&m, NULL), 0);
    svc_metrics_request_begin(m);
    svc_metrics_request_end(m, SVC_ROUTE_LIVEZ, "GET", 200, 0.0003);
    svc_metrics_request_begin(m);
    svc_metrics_request_end(m, SVC_ROUTE_LIVEZ, "GET", 503, 3.0);

    char *text = render(m, NULL);
    const char *p = "hoprec_http_request_duration_seconds_bucket{route="
                    "\"/livez\",";
    char line[256];

    snprintf(line, sizeof(line), "%sle=\"0.0005\"} 1\n", p);
    cr_assert(strstr(text, line) != NULL, "%s", line);
    snprintf(line, sizeof(line), "%sle=\"2.5\"} 1\n", p);
    cr_assert(strstr(text, line) != NULL, "%s", line);
    snprintf(line, sizeof(line), "%sle=\"10\"} 2\n", p);
    cr_assert(strstr(text, line) != NULL, "%s", line);
    snprintf(line, sizeof(line), "%sle=\"+Inf\"} 2\n", p);
    cr_assert(strstr(text, line) != NULL, "%s", line);
    cr_assert(strstr(text, "hoprec_http_request_duration_seconds_count{"
                           "route=\"/livez\"} 2\n") != NULL);
    free(text);
    svc_metrics_free(m);
}

Test(metrics, in_flight_follows_begin_and_end)
{
    struct svc_metrics *m;

    cr_assert_eq(svc_metrics_new(&m, NULL), 0);
    svc_metrics_request_begin(m);
    svc_metrics_request_begin(m);
    cr_assert_eq(svc_metrics_in_flight(m), 2);
    svc_metrics_request_end(m, SVC_ROUTE_MODEL, "GET", 200, 0.1);
    cr_assert_eq(svc_metrics_in_flight(m), 1);
    svc_metrics_free(m);
    svc_metrics_free(NULL);
}

Test(metrics, model_gauges_appear_once_loaded)
{
    struct svc_metrics *m;
    struct svc_metrics_model mm = {.loaded = true,
                                   .version = 7,
                                   .age_seconds = 12.5,
                                   .n_users = 943,
                                   .n_items = 1682};

    cr_assert_eq(svc_metrics_new(&m, NULL), 0);
    svc_metrics_search(m, SVC_SEARCH_RELATED, 0.0002);
    char *text = render(m, &mm);
    cr_assert(strstr(text, "hoprec_model_loaded 1\n") != NULL);
    cr_assert(strstr(text, "hoprec_model_version 7\n") != NULL);
    cr_assert(strstr(text, "hoprec_model_age_seconds 12.500\n") != NULL);
    cr_assert(strstr(text, "hoprec_model_users 943\n") != NULL);
    cr_assert(strstr(text, "hoprec_model_items 1682\n") != NULL);
    cr_assert(strstr(text, "hoprec_search_duration_seconds_count{kind="
                           "\"related\"} 1\n") != NULL);
    cr_assert(strstr(text, "process_start_time_seconds ") != NULL);
    free(text);
    svc_metrics_free(m);
}

/* promtool (Debian package prometheus) lints the exposition when it is
 * installed; the test is skipped otherwise. */
Test(metrics, promtool_accepts_the_exposition)
{
    struct svc_metrics *m;
    struct svc_metrics_model mm = {.loaded = true,
                                   .version = 1,
                                   .age_seconds = 3,
                                   .n_users = 10,
                                   .n_items = 20,
                                   .learning = true,
                                   .rounds = {4, 1},
                                   .failures = {1, 0},
                                   .pending_events = 17,
                                   .running = true,
                                   .last_seconds = 2.5,
                                   .n_hops = 2,
                                   .hop_std = {0.9, 0.5},
                                   .hop_mad = {0.99, 0.7},
                                   .hop_energy = {1.5, 0.25}};
    char path[] = "/tmp/hoprec-test-metrics-XXXXXX", cmd[256];

    if (system("command -v promtool >/dev/null 2>&1") != 0)
        cr_skip_test("promtool is not installed");

    cr_assert_eq(svc_metrics_new(&m, NULL), 0);
    svc_metrics_request_begin(m);
    svc_metrics_request_end(m, SVC_ROUTE_RELATED, "GET", 200, 0.01);
    svc_metrics_search(m, SVC_SEARCH_RECOMMEND, 0.001);
    char *text = render(m, &mm);
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);

    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 1>&2", path);
    cr_assert_eq(system(cmd), 0, "promtool check metrics failed");
    unlink(path);
    free(text);
    svc_metrics_free(m);
}

Test(metrics, learning_figures_appear_when_learning)
{
    struct svc_metrics *m;
    struct svc_metrics_model mm = {.learning = true,
                                   .rounds = {3, 1},
                                   .failures = {1, 0},
                                   .pending_events = 42,
                                   .running = true,
                                   .last_seconds = 1.25};

    cr_assert_eq(svc_metrics_new(&m, NULL), 0);
    char *text = render(m, &mm);
    cr_assert(strstr(text, "hoprec_learn_rounds_total{kind=\"incremental\"} "
                           "3\n") != NULL,
              "%s", text);
    cr_assert(strstr(text, "hoprec_learn_round_failures_total{kind="
                           "\"incremental\"} 1\n") != NULL);
    cr_assert(strstr(text, "hoprec_learn_pending_events 42\n") != NULL);
    cr_assert(strstr(text, "hoprec_learn_running 1\n") != NULL);
    cr_assert(strstr(text, "hoprec_model_loaded 0\n") != NULL);
    free(text);

    mm.learning = false;
    text = render(m, &mm);
    cr_assert_null(strstr(text, "hoprec_learn_"));
    free(text);
    svc_metrics_free(m);
}

Test(metrics, events_are_counted_by_outcome)
{
    struct svc_metrics *m;

    cr_assert_eq(svc_metrics_new(&m, NULL), 0);
    svc_metrics_events(m, SVC_EVENT_STORED, 100);
    svc_metrics_events(m, SVC_EVENT_DUPLICATE, 3);
    svc_metrics_events(m, SVC_EVENT_REJECTED, 2);
    svc_metrics_events(m, SVC_EVENT_STORE_ERROR, 1);
    svc_metrics_events(m, SVC_EVENT_OUTCOMES, 9); /* ignored */

    char *text = render(m, NULL);
    cr_assert_not_null(
        strstr(text, "hoprec_events_total{outcome=\"stored\"} 100\n"), "%s",
        text);
    cr_assert_not_null(
        strstr(text, "hoprec_events_total{outcome=\"duplicate\"} 3\n"));
    cr_assert_not_null(
        strstr(text, "hoprec_events_total{outcome=\"rejected\"} 2\n"));
    cr_assert_not_null(strstr(text, "hoprec_event_store_errors_total 1\n"));
    free(text);
    svc_metrics_free(m);
}

Test(metrics, smoothing_diagnostics_appear_per_hop)
{
    struct svc_metrics *m;
    struct svc_metrics_model mm = {.loaded = true,
                                   .version = 2,
                                   .n_hops = 3,
                                   .hop_std = {1.0, 0.8, 0.6},
                                   .hop_mad = {0.9, 0.7, 0.5},
                                   .hop_energy = {2, 1, 0.5}};

    cr_assert_eq(svc_metrics_new(&m, NULL), 0);
    char *text = render(m, &mm);
    cr_assert_not_null(strstr(text, "hoprec_model_hop_std{hop=\"2\"} 0.6\n"),
                       "%s", text);
    cr_assert_not_null(strstr(text, "hoprec_model_hop_mad{hop=\"0\"} 0.9\n"));
    cr_assert_not_null(
        strstr(text, "hoprec_model_hop_dirichlet_energy{hop=\"1\"} 1\n"));
    free(text);

    mm.n_hops = 0;
    text = render(m, &mm);
    cr_assert_null(strstr(text, "hoprec_model_hop_std"),
                   "no diagnostics, no series");
    free(text);
    svc_metrics_free(m);
}
