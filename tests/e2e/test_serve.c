/*
 * End-to-end tests of `hoprec serve`: the real binary on a loopback port,
 * real sockets, every answer checked against openapi.json.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "server_proc.h"

static struct server_proc srv;

static void start(const char *const *args, const char *const *env)
{
    cr_assert_not_null(spec_get(), "openapi.json must load");
    cr_assert_eq(server_start(&srv, args, env), 0,
                 "hoprec serve must start and log its port");
}

static void stop(void)
{
    if (srv.pid > 0)
        cr_assert_eq(server_stop(&srv, 10), 0, "serve must exit 0");
}

/* A request whose answer must have status and agree with the spec. */
static void call(const char *method, const char *path, const char *tmpl,
                 const char *headers, const char *body, int status,
                 struct http_resp *r)
{
    char why[256];

    cr_assert_eq(http_request(srv.port, method, path, headers, body, r), 0,
                 "%s %s: no answer", method, path);
    cr_assert_eq(r->status, status, "%s %s: got %d: %s", method, path,
                 r->status, r->body);
    cr_assert(spec_check(method, tmpl, r, why, sizeof(why)),
              "%s %s (%d) disagrees with openapi.json: %s", method, path,
              r->status, why);
}

static json_t *body_json(const struct http_resp *r)
{
    json_t *v = json_loadb(r->body, r->body_len, 0, NULL);

    cr_assert_not_null(v, "body is JSON: %s", r->body);
    return v;
}

static void expect_problem(const struct http_resp *r, const char *slug)
{
    char type[64], want[128];
    json_t *p = body_json(r);

    cr_assert_not_null(http_header(r, "Content-Type", type, sizeof(type)));
    cr_assert_str_eq(type, "application/problem+json");
    snprintf(want, sizeof(want), "https://hoprec.dev/problems/%s", slug);
    cr_assert_str_eq(json_string_value(json_object_get(p, "type")), want);
    cr_assert_eq(json_integer_value(json_object_get(p, "status")), r->status);
    cr_assert_not_null(json_object_get(p, "title"));
    cr_assert_not_null(json_object_get(p, "instance"));
    json_decref(p);
}

/* ------------------------------------------------------------------ */
/* Health, metrics, contract */

Test(serve, livez_is_ok_and_readyz_waits_for_a_model, .fini = stop)
{
    struct http_resp r;

    start(NULL, NULL);
    call("GET", "/livez", "/livez", NULL, NULL, 200, &r);
    http_resp_free(&r);

    call("GET", "/readyz", "/readyz", NULL, NULL, 503, &r);
    expect_problem(&r, "model-unavailable");
    http_resp_free(&r);
    call("GET", "/healthz", "/healthz", NULL, NULL, 503, &r);
    http_resp_free(&r);
}

Test(serve, head_answers_like_get_without_a_body, .fini = stop)
{
    struct http_resp r;

    start(NULL, NULL);
    cr_assert_eq(http_request(srv.port, "HEAD", "/livez", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, 0);
    http_resp_free(&r);
}

Test(serve, openapi_json_is_the_committed_file, .fini = stop)
{
    struct http_resp r;
    char *text = json_dumps(spec_get(), JSON_SORT_KEYS);

    start(NULL, NULL);
    call("GET", "/openapi.json", "/openapi.json", NULL, NULL, 200, &r);
    json_t *served = body_json(&r);
    cr_assert(json_equal(served, spec_get()));
    json_decref(served);
    free(text);
    http_resp_free(&r);
}

Test(serve, metrics_count_requests_by_template_not_by_id, .fini = stop)
{
    const char *want = "hoprec_http_requests_total{route=\"/v1/users/"
                       "{user_id}/recommendations\",method=\"GET\","
                       "status=\"503\"} 1\n";
    struct timespec nap = {0, 20 * 1000 * 1000};
    struct http_resp r = {0};

    start(NULL, NULL);
    call("GET", "/v1/users/secret-user-42/recommendations",
         "/v1/users/{user_id}/recommendations", NULL, NULL, 503, &r);
    http_resp_free(&r);

    /* A request is counted when it completes, just after its last byte
     * went out, so the scrape may briefly run ahead of it. */
    for (int i = 0; i < 100; i++) {
        http_resp_free(&r);
        call("GET", "/metrics", "/metrics", NULL, NULL, 200, &r);
        if (strstr(r.body, want) != NULL)
            break;
        nanosleep(&nap, NULL);
    }
    cr_assert(strstr(r.body, want) != NULL, "%s", r.body);
    cr_assert_null(strstr(r.body, "secret-user-42"));
    const char *inflight = strstr(r.body, "\nhoprec_http_requests_in_flight ");
    cr_assert_not_null(inflight);
    cr_assert_geq(atoi(inflight + 32), 1, "the scrape itself is in flight");

    if (system("command -v promtool >/dev/null 2>&1") == 0) {
        char path[] = "/tmp/hoprec-e2e-metrics-XXXXXX", cmd[128];
        int fd = mkstemp(path);
        cr_assert_eq(write(fd, r.body, r.body_len), (ssize_t)r.body_len);
        close(fd);
        snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 1>&2", path);
        cr_assert_eq(system(cmd), 0, "promtool check metrics");
        unlink(path);
    }
    http_resp_free(&r);
}

/* ------------------------------------------------------------------ */
/* Routing errors */

Test(serve, unknown_routes_are_404_problems, .fini = stop)
{
    struct http_resp r;

    start(NULL, NULL);
    cr_assert_eq(http_request(srv.port, "GET", "/v2/nothing", NULL, NULL, &r),
                 0);
    cr_assert_eq(r.status, 404);
    expect_problem(&r, "not-found");
    http_resp_free(&r);
}

Test(serve, wrong_methods_are_405_with_allow, .fini = stop)
{
    struct http_resp r;
    char allow[64];

    start(NULL, NULL);
    call("DELETE", "/v1/model", "/v1/model", NULL, NULL, 405, &r);
    expect_problem(&r, "method-not-allowed");
    cr_assert_str_eq(http_header(&r, "Allow", allow, sizeof(allow)),
                     "GET, HEAD");
    http_resp_free(&r);

    cr_assert_eq(http_request(srv.port, "GET", "/v1/events", NULL, NULL, &r),
                 0);
    cr_assert_eq(r.status, 405);
    cr_assert_str_eq(http_header(&r, "Allow", allow, sizeof(allow)), "POST");
    http_resp_free(&r);
}

Test(serve, bad_ids_and_parameters_are_400_with_errors, .fini = stop)
{
    struct http_resp r;

    start(NULL, NULL);
    call("GET", "/v1/users/%FF/recommendations",
         "/v1/users/{user_id}/recommendations", NULL, NULL, 400, &r);
    expect_problem(&r, "invalid-request");
    json_t *p = body_json(&r);
    cr_assert_str_eq(
        json_string_value(json_object_get(
            json_array_get(json_object_get(p, "errors"), 0), "parameter")),
        "user_id");
    json_decref(p);
    http_resp_free(&r);

    call("GET", "/v1/users/u1/recommendations?k=0&exclude_seen=maybe",
         "/v1/users/{user_id}/recommendations", NULL, NULL, 400, &r);
    p = body_json(&r);
    cr_assert_eq(json_array_size(json_object_get(p, "errors")), 2);
    json_decref(p);
    http_resp_free(&r);

    call("GET", "/v1/items/i1/related?k=1000", "/v1/items/{item_id}/related",
         NULL, NULL, 400, &r);
    http_resp_free(&r);
}

Test(serve, keep_alive_survives_a_refusal_without_body, .fini = stop)
{
    struct http_resp r;
    int fd;

    start(NULL, NULL);
    fd = http_connect(srv.port);
    cr_assert_geq(fd, 0);
    cr_assert_eq(http_exchange(fd, "GET", "/nope", NULL, NULL, false, &r), 0);
    cr_assert_eq(r.status, 404);
    http_resp_free(&r);
    cr_assert_eq(http_exchange(fd, "GET", "/livez", NULL, NULL, false, &r), 0,
                 "the connection stays usable");
    cr_assert_eq(r.status, 200);
    http_resp_free(&r);
    close(fd);
}

/* ------------------------------------------------------------------ */
/* Keys */

static const char *const keyed_env[] = {"HOPREC_API_KEYS_READ=r-key-1",
                                        "HOPREC_API_KEYS_INGEST=i-key-1",
                                        "HOPREC_API_KEYS_ADMIN=a-key-1", NULL};

Test(serve, missing_or_unknown_keys_are_401_with_a_challenge, .fini = stop)
{
    struct http_resp r;
    char challenge[64];

    start(NULL, keyed_env);
    call("GET", "/v1/model", "/v1/model", NULL, NULL, 401, &r);
    expect_problem(&r, "unauthorized");
    cr_assert_not_null(
        http_header(&r, "WWW-Authenticate", challenge, sizeof(challenge)));
    cr_assert(strncmp(challenge, "Bearer", 6) == 0);
    http_resp_free(&r);

    call("GET", "/v1/model", "/v1/model", "Authorization: Bearer nope\r\n",
         NULL, 401, &r);
    http_resp_free(&r);

    /* public routes need no key */
    call("GET", "/livez", "/livez", NULL, NULL, 200, &r);
    http_resp_free(&r);
}

Test(serve, roles_decide_what_a_key_may_do, .fini = stop)
{
    struct http_resp r;

    start(NULL, keyed_env);
    call("GET", "/v1/model", "/v1/model", "Authorization: Bearer r-key-1\r\n",
         NULL, 503, &r); /* passes the key check; no model */
    http_resp_free(&r);
    call("POST", "/v1/model/retrain", "/v1/model/retrain",
         "Authorization: Bearer r-key-1\r\n", NULL, 403, &r);
    expect_problem(&r, "forbidden");
    http_resp_free(&r);
    call("POST", "/v1/events", "/v1/events",
         "Authorization: Bearer r-key-1\r\nContent-Type: application/json\r\n",
         "{}", 403, &r);
    http_resp_free(&r);
    call("POST", "/v1/model/retrain", "/v1/model/retrain",
         "Authorization: Bearer a-key-1\r\n", NULL, 501, &r);
    expect_problem(&r, "not-implemented");
    http_resp_free(&r);
}

Test(serve, admin_routes_are_closed_without_an_admin_key, .fini = stop)
{
    struct http_resp r;

    start(NULL, NULL);
    call("POST", "/v1/model/retrain", "/v1/model/retrain",
         "Authorization: Bearer whatever\r\n", NULL, 403, &r);
    http_resp_free(&r);
    /* open mode: read routes take no key */
    call("GET", "/v1/model", "/v1/model", NULL, NULL, 503, &r);
    http_resp_free(&r);
}

/* ------------------------------------------------------------------ */
/* Events */

static const char batch[] =
    "{\"events\": [{\"user_id\": \"u1\", \"item_id\": \"i1\", \"type\": "
    "\"view\"}, {\"user_id\": \"u1\", \"item_id\": \"i2\", \"type\": "
    "\"rating\"}]}";

Test(serve, events_without_a_store_are_503_with_retry_after, .fini = stop)
{
    struct http_resp r;
    char retry[16];

    start(NULL, NULL);
    call("POST", "/v1/events", "/v1/events",
         "Content-Type: application/json\r\n", batch, 503, &r);
    expect_problem(&r, "events-unavailable");
    cr_assert_not_null(http_header(&r, "Retry-After", retry, sizeof(retry)));
    http_resp_free(&r);
}

Test(serve, events_are_stored_and_rejections_pointed_at, .fini = stop)
{
    char db[] = "/tmp/hoprec-e2e-store-XXXXXX";
    int fd = mkstemp(db);
    struct http_resp r;

    cr_assert_geq(fd, 0);
    close(fd);
    unlink(db);
    const char *const args[] = {"--store", db, "--max-body", "2048", NULL};
    start(args, NULL);

    call("POST", "/v1/events", "/v1/events",
         "Content-Type: application/json\r\n", batch, 202, &r);
    json_t *a = body_json(&r);
    cr_assert_eq(json_integer_value(json_object_get(a, "accepted")), 1);
    cr_assert_str_eq(
        json_string_value(json_object_get(
            json_array_get(json_object_get(a, "rejected"), 0), "pointer")),
        "/events/1/value");
    json_decref(a);
    http_resp_free(&r);

    call("POST", "/v1/events", "/v1/events", "Content-Type: text/plain\r\n",
         batch, 415, &r);
    http_resp_free(&r);
    call("POST", "/v1/events", "/v1/events",
         "Content-Type: application/json\r\n", "{\"events\": [", 400, &r);
    http_resp_free(&r);

    char big[4096];
    memset(big, ' ', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    call("POST", "/v1/events", "/v1/events",
         "Content-Type: application/json\r\n", big, 413, &r);
    expect_problem(&r, "payload-too-large");
    http_resp_free(&r);
    stop();
    unlink(db);
    char side[64];
    snprintf(side, sizeof(side), "%s-wal", db);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", db);
    unlink(side);
}

/* ------------------------------------------------------------------ */
/* Lifecycle and options */

Test(serve, sigterm_drains_and_exits_zero)
{
    struct http_resp r;
    int fd;

    start(NULL, NULL);
    fd = http_connect(srv.port);
    cr_assert_geq(fd, 0);
    cr_assert_eq(http_exchange(fd, "GET", "/livez", NULL, NULL, false, &r), 0);
    http_resp_free(&r);

    /* An idle keep-alive connection must not hold the exit back. */
    cr_assert_eq(server_stop(&srv, 10), 0, "exit status 0 after SIGTERM");
    cr_assert(http_closed(fd, 2000), "open connections are closed");
    close(fd);
    cr_assert_lt(http_connect(srv.port), 0, "nothing listens any more");
}

Test(serve, sigterm_waits_for_the_request_in_flight)
{
    const char head[] = "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Content-Type: application/json\r\n"
                        "Content-Length: 19\r\n\r\n{\"events\": ";
    struct timespec pause = {0, 200 * 1000 * 1000};
    struct http_resp r;
    char conn[32];
    int fd, status;

    start(NULL, NULL);
    fd = http_connect(srv.port);
    cr_assert_geq(fd, 0);
    /* Headers and half the body: the request is in flight. */
    cr_assert_eq(send(fd, head, strlen(head), 0), (ssize_t)strlen(head));
    nanosleep(&pause, NULL);

    /* A second, idle keep-alive connection, opened before the signal. */
    int idle = http_connect(srv.port);
    cr_assert_geq(idle, 0);
    cr_assert_eq(http_exchange(idle, "GET", "/readyz", NULL, NULL, false, &r),
                 0);
    http_resp_free(&r);

    kill(srv.pid, SIGTERM);
    nanosleep(&pause, NULL);
    cr_assert_eq(waitpid(srv.pid, &status, WNOHANG), 0,
                 "still running while a request is in flight");

    cr_assert_eq(http_exchange(idle, "GET", "/readyz", NULL, NULL, false, &r),
                 0);
    cr_assert_eq(r.status, 503, "not ready while draining");
    expect_problem(&r, "shutting-down");
    http_resp_free(&r);
    close(idle);

    cr_assert_eq(send(fd, "[]}        ", 8, 0), 8);
    cr_assert_eq(http_read(fd, false, &r), 0, "the request is answered");
    cr_assert_eq(r.status, 503);
    cr_assert_str_eq(http_header(&r, "Connection", conn, sizeof(conn)),
                     "close");
    http_resp_free(&r);
    close(fd);
    cr_assert_eq(server_stop(&srv, 10), 0, "then it exits 0");
}

Test(serve, bad_option_values_exit_2_with_one_line)
{
    const char *const *cases[] = {
        (const char *const[]){"--threads", "-1", NULL},
        (const char *const[]){"--listen", "nowhere", NULL},
        (const char *const[]){"--listen", "127.0.0.1:70000", NULL},
        (const char *const[]){"--max-k", "5", "--default-k", "10", NULL},
        (const char *const[]){"--api-keys", "/nonexistent/keys", NULL},
        (const char *const[]){"--bogus", NULL},
    };
    char err[1024];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_assert_eq(serve_expect_exit(cases[i], err, sizeof(err)), 2,
                     "case %zu: %s", i, err);
        cr_assert(strstr(err, "hoprec serve: ") == err, "%s", err);
        cr_assert_eq(strchr(err, '\n'), err + strlen(err) - 1, "one line: %s",
                     err);
    }
}

Test(serve, help_lists_the_options)
{
    char out[8192];
    const char *const args[] = {"--help", NULL};

    cr_assert_eq(serve_expect_exit(args, out, sizeof(out)), 0);
    cr_assert(strstr(out, "--listen") != NULL, "%s", out);
    cr_assert(strstr(out, "--api-keys") != NULL);
    cr_assert(strstr(out, "--drain-timeout") != NULL);
}

Test(serve, a_taken_port_fails_with_status_1)
{
    struct server_proc first;
    char listen[32], err[1024];

    cr_assert_eq(server_start(&first, NULL, NULL), 0);
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", first.port);
    const char *const args[] = {"--listen", listen, NULL};
    cr_assert_eq(serve_expect_exit(args, err, sizeof(err)), 1, "%s", err);
    cr_assert_eq(server_stop(&first, 10), 0);
}
