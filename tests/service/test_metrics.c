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
    struct svc_metrics_model mm = {true, 7, 12.5, 943, 1682};

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
    struct svc_metrics_model mm = {true, 1, 3, 10, 20};
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
