/*
 * Bad input against the real `hoprec serve`: malformed and hostile
 * requests sent as raw bytes over loopback sockets. Each one must get a
 * 4xx answer or a closed connection (never a 5xx, a hang or a crash).
 * After each test the server must still answer /livez and a
 * recommendation, exit 0 on SIGTERM, and hold every event it acknowledged
 * with 202 in its store.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "gnn_snapshot.h"
#include "gnn_store.h"
#include "server_proc.h"

#define DIM       4
#define USERS     4
#define ITEMS     12
#define MAX_ACKED 64

static struct server_proc srv;
static char dir[64];
static char store_path[96];
static char acked[MAX_ACKED][40]; /* event ids answered with 202 */
static int n_acked;

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&t, NULL);
}

static void write_snapshot(const char *path)
{
    struct gnn_snapshot *s;
    char id[32];

    cr_assert_eq(gnn_snapshot_new("test", DIM, USERS, ITEMS, &s, NULL), 0);
    for (int u = 0; u < USERS; u++) {
        snprintf(id, sizeof(id), "u%d", u);
        cr_assert_eq(gnn_snapshot_set_user_id(s, u, id, NULL), 0);
    }
    for (int i = 0; i < USERS * DIM; i++)
        s->users[i] = sinf((float)i + 1.0f);
    for (int i = 0; i < ITEMS * DIM; i++) {
        s->items_source[i] = cosf((float)i);
        s->items_target[i] = sinf((float)i * 2.0f);
    }
    cr_assert_eq(gnn_snapshot_write(s, path, NULL), 0);
    gnn_snapshot_free(s);
}

static void setup(void)
{
    char snap[96];

    strcpy(dir, "/tmp/hoprec-bad-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(snap, sizeof(snap), "%s/model", dir);
    snprintf(store_path, sizeof(store_path), "%s/events.db", dir);
    write_snapshot(snap);
    n_acked = 0;

    /* A short idle timeout so that stalled clients are cut in the test's
     * time; small --max-body so that the oversized cases are cheap. */
    const char *const args[] = {"--snapshot", snap, "--store",    store_path,
                                "--timeout",  "2",  "--max-body", "65536",
                                "--threads",  "2",  NULL};
    cr_assert_not_null(spec_get());
    cr_assert_eq(server_start(&srv, args, NULL), 0, "serve must start");
}

/* ------------------------------------------------------------------ */
/* Sending raw requests */

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int connect_timed(int wait_s)
{
    struct timeval tv = {wait_s, 0};
    int fd = http_connect(srv.port);

    cr_assert_geq(fd, 0, "the server must accept a connection");
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

/*
 * Read the answer to what was sent on fd: its status, or 0 when the
 * server closed (or reset) the connection. A server that neither answers
 * nor closes within the socket's timeout fails the test.
 */
static int answer_of(int fd, const char *name)
{
    struct http_resp r;
    int status = 0;

    errno = 0;
    if (http_read(fd, false, &r) == 0)
        status = r.status;
    else
        cr_assert(errno != EAGAIN && errno != EWOULDBLOCK,
                  "%s: no answer and the connection stays open", name);
    http_resp_free(&r);
    return status;
}

/* Send n raw bytes (a send the server cuts short is fine) and return
 * the answer's status, 0 for a closed connection. */
static int raw(const char *name, const char *req, size_t n)
{
    int fd = connect_timed(8);
    int status;

    (void)send_all(fd, req, n);
    status = answer_of(fd, name);
    close(fd);
    return status;
}

static void expect_4xx(const char *name, const char *req, size_t n)
{
    int status = raw(name, req, n);

    cr_expect(status == 0 || (status >= 400 && status < 500),
              "%s: expected a 4xx or a closed connection, got %d", name,
              status);
}

/* For requests that are odd but legal (an id such as ".."): any answer
 * but a server error. */
static void expect_no_5xx(const char *name, const char *req, size_t n)
{
    int status = raw(name, req, n);

    cr_expect(status < 500, "%s: got %d", name, status);
}

static void get_4xx(const char *target)
{
    char req[8192];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     target);

    cr_assert_lt(n, (int)sizeof(req));
    expect_4xx(target, req, (size_t)n);
}

static void get_no_5xx(const char *target)
{
    char req[8192];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     target);

    cr_assert_lt(n, (int)sizeof(req));
    expect_no_5xx(target, req, (size_t)n);
}

/* POST body of n bytes to /v1/events; returns the status (0: closed). */
static int post_events(const char *name, const char *body, size_t n)
{
    size_t cap = n + 256;
    char *req = malloc(cap);
    int len, status;

    cr_assert_not_null(req);
    len = snprintf(req, cap,
                   "POST /v1/events HTTP/1.1\r\nHost: x\r\n"
                   "Content-Type: application/json\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                   n);
    memcpy(req + len, body, n);
    status = raw(name, req, (size_t)len + n);
    free(req);
    return status;
}

static void post_4xx(const char *name, const char *body, size_t n)
{
    int status = post_events(name, body, n);

    cr_expect(status == 0 || (status >= 400 && status < 500),
              "%s: expected a 4xx or a closed connection, got %d", name,
              status);
}

/* A valid event the server must acknowledge and keep. */
static void post_good(void)
{
    char body[256], id[40];
    struct http_resp r;

    cr_assert_lt(n_acked, MAX_ACKED);
    snprintf(id, sizeof(id), "bad-suite-%d-%d", (int)getpid(), n_acked);
    snprintf(body, sizeof(body),
             "{\"events\": [{\"event_id\": \"%s\", \"user_id\": \"u1\", "
             "\"item_id\": \"i1\", \"type\": \"click\"}]}",
             id);
    cr_assert_eq(http_request(srv.port, "POST", "/v1/events",
                              "Content-Type: application/json\r\n", body, &r),
                 0);
    cr_assert_eq(r.status, 202, "a valid event must be accepted: %d %s",
                 r.status, r.body);
    http_resp_free(&r);
    strcpy(acked[n_acked++], id);
}

/* ------------------------------------------------------------------ */
/* After every test: alive, serving, exits cleanly, nothing acked lost */

static int find_acked(void *ctx, int64_t seq, const struct gnn_event *ev)
{
    bool *found = ctx;

    for (int i = 0; i < n_acked; i++) {
        if (strcmp(ev->event_id, acked[i]) == 0)
            found[i] = true;
    }
    return 0;
}

static void check_survived(void)
{
    struct http_resp r;
    bool found[MAX_ACKED] = {false};
    struct gnn_store *st;
    char cmd[128];

    cr_assert_eq(http_request(srv.port, "GET", "/livez", NULL, NULL, &r), 0,
                 "the server must still answer after bad input");
    cr_assert_eq(r.status, 200);
    http_resp_free(&r);
    cr_assert_eq(http_request(srv.port, "GET",
                              "/v1/users/u1/recommendations?k=3", NULL, NULL,
                              &r),
                 0);
    cr_assert_eq(r.status, 200, "recommendations after bad input: %d %s",
                 r.status, r.body);
    http_resp_free(&r);
    post_good();

    cr_assert_eq(server_stop(&srv, 10), 0, "serve must exit 0 on SIGTERM");
    srv.pid = 0;

    cr_assert_eq(gnn_store_open(store_path, &st, NULL), 0);
    cr_assert_eq(gnn_store_scan(st, 0, find_acked, found, NULL), 0);
    gnn_store_close(st);
    for (int i = 0; i < n_acked; i++)
        cr_expect(found[i], "acknowledged event %s must be stored", acked[i]);

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static void teardown(void)
{
    if (srv.pid > 0)
        check_survived();
}

TestSuite(badinput, .init = setup, .fini = teardown, .timeout = 60);

/* ------------------------------------------------------------------ */
/* Bodies */

static char *repeat(const char *unit, size_t times, const char *tail)
{
    size_t u = strlen(unit), t = strlen(tail);
    char *s = malloc(u * times + t + 1);

    cr_assert_not_null(s);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * u, unit, u);
    memcpy(s + u * times, tail, t + 1);
    return s;
}

Test(badinput, malformed_json_bodies_are_4xx)
{
    static const char *const bodies[] = {
        "",
        "{",
        "{\"events\": [{\"user_id\": \"u1\"",
        "{\"events\": [{\"user_id\": \"\xff\xfe\", \"item_id\": \"i\", "
        "\"type\": \"view\"}]}",
        "{\"events\": [{\"user_id\": \"\xc0\xaf\", \"item_id\": \"i\", "
        "\"type\": \"view\"}]}",
        "{\"events\": [{\"user_id\": \"\xed\xa0\x80\", \"item_id\": \"i\", "
        "\"type\": \"view\"}]}",
        "{\"events\": [{\"user_id\": \"\\ud800\", \"item_id\": \"i\", "
        "\"type\": \"view\"}]}",
        "{\"events\": [{\"user_id\": \"a\\u0000b\", \"item_id\": \"i\", "
        "\"type\": \"view\"}]}",
        "{\"events\": \"all of them\"}",
        "{\"events\": 12}",
        "{\"events\": null}",
        "[]",
        "null",
        "\"events\"",
        "1e999999",
        "{\"events\": [], \"events\": []}",
        "{\"events\": []} trailing",
    };

    post_good();
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        post_4xx(bodies[i], bodies[i], strlen(bodies[i]));
    /* A NUL byte in the middle of the raw body. */
    static const char nul[] = "{\"events\": [{\"user_id\": \"u\0\"}]}";
    post_4xx("raw NUL", nul, sizeof(nul) - 1);
    post_good();
}

Test(badinput, deep_nesting_is_4xx)
{
    char *arrays = repeat("[", 100000, "");
    char *objects = repeat("{\"a\":", 10000, "1");
    char *events = repeat("[", 50000, "");
    char *wrapped = malloc(strlen(events) + 32);

    cr_assert_not_null(wrapped);
    sprintf(wrapped, "{\"events\": %s", events);
    post_good();
    /* 100k brackets exceed --max-body here: refused either way. */
    post_4xx("100k brackets", arrays, strlen(arrays));
    post_4xx("10k objects", objects, strlen(objects));
    post_4xx("50k brackets in events", wrapped, strlen(wrapped));
    free(arrays);
    free(objects);
    free(events);
    free(wrapped);
    post_good();
}

/*
 * Events with wrong types, huge numbers or unknown fields: the batch is
 * well-formed JSON, so the server may refuse it whole (4xx) or answer 202
 * with every event rejected; either way nothing of it is stored.
 */
Test(badinput, bad_events_are_refused_not_stored)
{
    static const char *const events[] = {
        "{\"user_id\": 5, \"item_id\": \"i\", \"type\": \"view\"}",
        "{\"user_id\": \"u\", \"item_id\": [\"i\"], \"type\": \"view\"}",
        "{\"user_id\": \"u\", \"item_id\": \"i\", \"type\": 3}",
        "{\"user_id\": \"u\", \"item_id\": \"i\", \"type\": \"buy\"}",
        "{\"user_id\": \"u\", \"item_id\": \"i\", \"type\": \"rating\", "
        "\"value\": 1e308}",
        "{\"user_id\": \"u\", \"item_id\": \"i\", \"type\": \"rating\", "
        "\"value\": \"5\"}",
        "{\"user_id\": \"u\", \"item_id\": \"i\", \"type\": \"view\", "
        "\"timestamp\": 99999999999999999999999999}",
        "{\"user_id\": \"u\", \"item_id\": \"i\", \"type\": \"view\", "
        "\"timestamp\": -1e300}",
        "{\"user_id\": \"u\", \"item_id\": \"i\", \"type\": \"view\", "
        "\"timestamp\": \"9999-99-99T99:99:99Z\"}",
        "{\"user_id\": \"\", \"item_id\": \"i\", \"type\": \"view\"}",
        "{\"user_id\": \"u\\n1\", \"item_id\": \"i\", \"type\": \"view\"}",
        "{\"user_id\": \"u\", \"item_id\": \"i\\u007f\", \"type\": \"view\"}",
        "{\"user_id\": \"u\", \"item_id\": \"i\", \"type\": \"view\", "
        "\"session_id\": \"s\\r\"}",
        "{\"user_id\": \"u\", \"item_id\": \"i\", \"type\": \"view\", "
        "\"event_id\": 7}",
        "7",
        "[]",
    };
    struct gnn_store *st;
    int64_t before = 0, after = -1;

    post_good();
    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        char body[512];
        struct http_resp r;

        snprintf(body, sizeof(body), "{\"events\": [%s]}", events[i]);
        cr_assert_eq(http_request(srv.port, "POST", "/v1/events",
                                  "Content-Type: application/json\r\n", body,
                                  &r),
                     0, "%s: no answer", body);
        cr_expect(r.status == 202 || (r.status >= 400 && r.status < 500),
                  "%s: got %d", body, r.status);
        if (r.status == 202) {
            json_t *a = json_loadb(r.body, r.body_len, 0, NULL);

            cr_expect_eq(json_integer_value(json_object_get(a, "accepted")), 0,
                         "%s: must not be accepted: %s", body, r.body);
            json_decref(a);
        }
        http_resp_free(&r);
    }
    /* An unknown top-level member next to a valid batch. */
    static const char extra[] = "{\"events\": [], \"colour\": \"red\"}";
    post_4xx("unknown top-level member", extra, strlen(extra));
    post_good();

    /* Only the two good events are in the store. */
    cr_assert_eq(gnn_store_open(store_path, &st, NULL), 0);
    cr_assert_eq(gnn_store_count(st, &after, NULL), 0);
    gnn_store_close(st);
    cr_expect_eq(after - before, n_acked, "stored %lld events, acked %d",
                 (long long)after, n_acked);
}

Test(badinput, truncated_and_oversized_bodies)
{
    static const char head[] = "POST /v1/events HTTP/1.1\r\nHost: x\r\n"
                               "Content-Type: application/json\r\n";
    char req[512];
    int fd, n;

    post_good();

    /* Fewer bytes than Content-Length, then the client stops writing. */
    n = snprintf(req, sizeof(req), "%sContent-Length: 400\r\n\r\n{\"ev", head);
    fd = connect_timed(8);
    cr_assert_eq(send_all(fd, req, (size_t)n), 0);
    shutdown(fd, SHUT_WR);
    int status = answer_of(fd, "truncated body");
    cr_expect(status == 0 || (status >= 400 && status < 500), "got %d", status);
    close(fd);

    /* A claimed length far over --max-body, with or without the bytes. */
    n = snprintf(req, sizeof(req),
                 "%sContent-Length: 100000000000\r\nConnection: close\r\n\r\n"
                 "{}",
                 head);
    expect_4xx("claimed 100 GB", req, (size_t)n);
    n = snprintf(req, sizeof(req),
                 "%sContent-Length: 99999999999999999999999999\r\n\r\n{}",
                 head);
    expect_4xx("Content-Length overflow", req, (size_t)n);
    n = snprintf(req, sizeof(req), "%sContent-Length: -5\r\n\r\n{}", head);
    expect_4xx("negative Content-Length", req, (size_t)n);
    n = snprintf(req, sizeof(req),
                 "%sContent-Length: 2\r\nContent-Length: 9\r\n\r\n{}", head);
    expect_4xx("two Content-Lengths", req, (size_t)n);

    /* An actual 1 MiB body streamed at a 64 KiB limit. */
    char *big = repeat(" ", 1 << 20, "");
    post_4xx("1 MiB body", big, strlen(big));
    free(big);

    /* Chunked with a bad chunk size, and a chunk past the limit. */
    n = snprintf(req, sizeof(req),
                 "%sTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
                 head);
    expect_4xx("bad chunk size", req, (size_t)n);
    n = snprintf(req, sizeof(req),
                 "%sTransfer-Encoding: chunked\r\n\r\n"
                 "FFFFFFFFFFFFFFFF\r\n{}\r\n",
                 head);
    expect_4xx("huge chunk", req, (size_t)n);
    post_good();
}

/* ------------------------------------------------------------------ */
/* Query parameters and paths */

Test(badinput, absurd_query_parameters_are_4xx)
{
    static const char *const queries[] = {
        "k=-1",
        "k=0",
        "k=1e30",
        "k=abc",
        "k=",
        "k=5x",
        "k=0x10",
        "k=%00",
        "k=99999999999999999999999999",
        "offset=-5",
        "offset=1e30",
        "offset=abc",
        "offset=999999999",
        "k=100&offset=1",
        "exclude_seen=maybe",
        "exclude=%FF",
        "exclude=%",
        "exclude=a%00b",
        "k=%2B5%2B",
        "k=%E2%80%8B5",
    };
    char target[512];

    for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
        snprintf(target, sizeof(target), "/v1/users/u1/recommendations?%s",
                 queries[i]);
        get_4xx(target);
    }
    get_4xx("/v1/items/i1/related?k=-3");
    get_4xx("/v1/items/i1/related?k=1e30");

    /* An exclude list far over --max-exclude. */
    char *many = repeat("x,", 2000, "y");
    char *t = malloc(strlen(many) + 64);
    cr_assert_not_null(t);
    sprintf(t, "/v1/users/u1/recommendations?exclude=%s", many);
    char *req = malloc(strlen(t) + 128);
    cr_assert_not_null(req);
    int n = sprintf(req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", t);
    expect_4xx("2001 excludes", req, (size_t)n);
    free(req);
    free(t);
    free(many);
}

Test(badinput, path_tricks_are_4xx_or_harmless)
{
    static const char *const bad[] = {
        "/v1/users/%00/recommendations",
        "/v1/users/a%00b/recommendations",
        "/v1/users/%/recommendations",
        "/v1/users/%zz/recommendations",
        "/v1/users/%C0%AF/recommendations",
        "/v1/users/%ED%A0%80/recommendations",
        "/v1/users/%F4%90%80%80/recommendations",
        "/v1/users/%FF/recommendations",
        "/v1/users/%0A/recommendations",
        "/v1/users//recommendations",
        "/v1/users/u1/../../livez/recommendations",
        "/../../etc/passwd",
        "/v1/items/%2e%2e/related/extra",
        "//livez",
        "/livez/",
        "/v1//users/u1/recommendations",
        "*",
        "v1/users/u1/recommendations",
    };
    /* Legal ids that only look like tricks. */
    static const char *const odd[] = {
        "/v1/users/..%2F..%2Fetc%2Fpasswd/recommendations",
        "/v1/users/%2e%2e/recommendations",
        "/v1/users/../recommendations",
        "/v1/users/a%2Fb/recommendations",
        "/v1/users/a%252Fb/recommendations",
        "/v1/users/%25252e/recommendations",
        "/v1/items/%E2%82%AC/related",
        "/livez?%00=%00",
        "http://127.0.0.1/livez",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        get_4xx(bad[i]);
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
        get_no_5xx(odd[i]);

    /* Raw bytes the request line should never hold. */
    static const char ctl[] = "GET /v1/users/\xff\xfe/recommendations "
                              "HTTP/1.1\r\nHost: x\r\n\r\n";
    expect_4xx("raw 0xff in path", ctl, sizeof(ctl) - 1);
    static const char nul[] = "GET /v1/users/a\0b/recommendations "
                              "HTTP/1.1\r\nHost: x\r\n\r\n";
    expect_4xx("raw NUL in path", nul, sizeof(nul) - 1);

    /* Overlong ids and paths: over SVC_ID_MAX, and far over any limit. */
    char *id = repeat("a", 300, "/recommendations");
    char *t = malloc(strlen(id) + 16);
    cr_assert_not_null(t);
    sprintf(t, "/v1/users/%s", id);
    get_4xx(t);
    free(t);
    free(id);
    char *huge = repeat("/a", 100000, "");
    char *req = malloc(strlen(huge) + 64);
    cr_assert_not_null(req);
    int n = sprintf(req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", huge);
    expect_4xx("200 KB path", req, (size_t)n);
    free(req);
    free(huge);
}

/* ------------------------------------------------------------------ */
/* Request line and headers */

Test(badinput, header_abuse_is_4xx)
{
    /* libmicrohttpd (at its default, tolerant protocol discipline)
     * accepts the malformed header lines, and with no keys configured a
     * garbage bearer token is ignored: these must not fail the server. */
    static const char *const tolerated[] = {
        ("GET /v1/users/u1/recommendations HTTP/1.1\r\nHost: x\r\n"
         "Authorization: Bearer \xff\xfe\r\n\r\n"),
        "GET /livez HTTP/1.1\r\n: empty name\r\n\r\n",
        "GET /livez HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
        "GET /livez HTTP/1.1\r\nHo st: x\r\n\r\n",
        "GET /livez HTTP/1.1\nHost: x\nConnection: close\n\n",
    };
    static const char *const reqs[] = {
        "GET /livez\r\n\r\n",
        "GET /livez HTTP/1.1\r\nno colon here\r\n\r\n",
        "GET  /livez  HTTP/1.1\r\nHost: x\r\n\r\n",
        "\r\n\r\n\r\n",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        ("POST /v1/events HTTP/1.1\r\nHost: x\r\n"
         "Content-Type: application/json\r\nContent-Length: 2\r\n"
         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    };

    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        char name[32];

        snprintf(name, sizeof(name), "request %zu", i);
        expect_4xx(name, reqs[i], strlen(reqs[i]));
    }
    for (size_t i = 0; i < sizeof(tolerated) / sizeof(tolerated[0]); i++)
        expect_no_5xx(tolerated[i], tolerated[i], strlen(tolerated[i]));

    /* One 200 KB header value. */
    char *v = repeat("v", 200000, "\r\n\r\n");
    char *req = malloc(strlen(v) + 64);
    cr_assert_not_null(req);
    int n = sprintf(req, "GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: %s", v);
    expect_4xx("200 KB header", req, (size_t)n);
    free(v);
    free(req);

    /* Twenty thousand small headers. */
    char *many = repeat("X-A: b\r\n", 20000, "\r\n");
    req = malloc(strlen(many) + 64);
    cr_assert_not_null(req);
    n = sprintf(req, "GET /livez HTTP/1.1\r\nHost: x\r\n%s", many);
    expect_4xx("20k headers", req, (size_t)n);
    free(many);
    free(req);

    /* A huge bearer token: refused, and never echoed back. */
    char *tok = repeat("k", 6000, "\r\n\r\n");
    req = malloc(strlen(tok) + 128);
    cr_assert_not_null(req);
    n = sprintf(req,
                "GET /v1/users/u1/recommendations HTTP/1.1\r\nHost: x\r\n"
                "Authorization: Bearer %s",
                tok);
    expect_no_5xx("6 KB token", req, (size_t)n);
    free(tok);
    free(req);
}

/* ------------------------------------------------------------------ */
/* Slow and idle clients */

/* Send req one byte at a time, pause_ms between bytes, while another
 * client checks that the server keeps answering. */
static int trickle(const char *req, int pause_ms)
{
    int fd = connect_timed(8);
    size_t n = strlen(req);

    for (size_t i = 0; i < n; i++) {
        if (send_all(fd, req + i, 1) != 0)
            break;
        if (i % 40 == 0) {
            struct http_resp r;

            cr_assert_eq(
                http_request(srv.port, "GET", "/livez", NULL, NULL, &r), 0,
                "others must be served during a slow client");
            cr_assert_eq(r.status, 200);
            http_resp_free(&r);
        }
        sleep_ms(pause_ms);
    }
    int status = answer_of(fd, "trickled request");
    close(fd);
    return status;
}

Test(badinput, slow_clients_neither_block_nor_crash)
{
    char req[512];
    int status;

    /* Headers at 5 ms a byte: slow but within --timeout, so served. */
    status = trickle("GET /v1/users/u1/recommendations?k=2 HTTP/1.1\r\n"
                     "Host: x\r\nConnection: close\r\n\r\n",
                     5);
    cr_expect(status == 200 || status == 0, "slow headers: got %d", status);

    /* A body trickled the same way. */
    static const char body[] =
        "{\"events\": [{\"event_id\": \"slow-1\", \"user_id\": \"u2\", "
        "\"item_id\": \"i2\", \"type\": \"view\"}]}";
    snprintf(req, sizeof(req),
             "POST /v1/events HTTP/1.1\r\nHost: x\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n%s",
             strlen(body), body);
    status = trickle(req, 3);
    cr_expect(status == 202 || status == 0, "slow body: got %d", status);
    if (status == 202)
        strcpy(acked[n_acked++], "slow-1");

    /* A client that stops mid-headers, and one mid-body: both are cut
     * after the idle timeout (2 s here) rather than held for ever. */
    static const char *const stalls[] = {
        "GET /livez HTTP/1.1\r\nHost: x\r\nX-Half: ",
        "POST /v1/events HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    };
    for (size_t i = 0; i < 2; i++) {
        int fd = connect_timed(8);

        cr_assert_eq(send_all(fd, stalls[i], strlen(stalls[i])), 0);
        status = answer_of(fd, stalls[i]);
        cr_expect(status == 0 || (status >= 400 && status < 500),
                  "stalled client %zu: got %d", i, status);
        close(fd);
    }
    post_good();
}

Test(badinput, idle_connections_do_not_starve_others)
{
    enum { IDLE = 300 };
    int fds[IDLE];

    post_good();
    for (int i = 0; i < IDLE; i++) {
        fds[i] = http_connect(srv.port);
        cr_assert_geq(fds[i], 0, "connection %d refused", i);
        if (i % 2 == 1) /* half of them send a partial request line */
            (void)send_all(fds[i], "GET /liv", 8);
    }
    for (int i = 0; i < 20; i++) {
        struct http_resp r;

        cr_assert_eq(http_request(srv.port, "GET",
                                  "/v1/users/u2/recommendations?k=3", NULL,
                                  NULL, &r),
                     0, "request %d among idle connections: no answer", i);
        cr_assert_eq(r.status, 200);
        http_resp_free(&r);
    }
    post_good();
    for (int i = 0; i < IDLE; i++)
        close(fds[i]);
}

/*
 * An HTTP version the server does not speak is answered by libmicrohttpd
 * itself, before hoprec sees the request, with 505 HTTP Version Not
 * Supported (RFC 9110, 15.6.6): the one 5xx a client can provoke, and it
 * never reaches hoprec's handlers or metrics.
 */
Test(badinput, unknown_http_versions_are_505_or_4xx)
{
    static const char *const reqs[] = {
        "GET /livez HTTP/2.0\r\nHost: x\r\n\r\n",
        "GET /livez HTTP/9.9\r\nHost: x\r\n\r\n",
        "GET /livez HTTP/1.1111111111\r\nHost: x\r\n\r\n",
        "GET /livez HTTX/1.1\r\nHost: x\r\n\r\n",
    };

    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        int status = raw(reqs[i], reqs[i], strlen(reqs[i]));

        cr_expect(status == 0 || status == 505 ||
                      (status >= 400 && status < 500),
                  "%s: got %d", reqs[i], status);
    }
}

/* A media type that merely starts with "application/json" is not JSON. */
Test(badinput, json_lookalike_media_types_are_415)
{
    static const char body[] =
        "{\"events\": [{\"user_id\": \"u1\", \"item_id\": \"i1\", "
        "\"type\": \"view\"}]}";
    static const char *const types[] = {
        "Content-Type: application/jsonx\r\n",
        "Content-Type: application/json-seq\r\n",
        "Content-Type: application/json5\r\n",
    };

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        struct http_resp r;

        cr_assert_eq(
            http_request(srv.port, "POST", "/v1/events", types[i], body, &r),
            0);
        cr_expect_eq(r.status, 415, "media type %zu: got %d", i, r.status);
        http_resp_free(&r);
    }
}
