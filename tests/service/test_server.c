/*
 * The server in-process: address parsing, start on a free port, the
 * request lifecycle over a real socket, drain and stop.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "http_client.h"
#include "server.h"

Test(server, listen_addresses_parse)
{
    struct sockaddr_storage a;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&a;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&a;

    cr_assert_eq(svc_listen_parse("127.0.0.1:8080", &a, NULL), 0);
    cr_assert_eq(a.ss_family, AF_INET);
    cr_assert_eq(ntohs(a4->sin_port), 8080);
    cr_assert_eq(ntohl(a4->sin_addr.s_addr), INADDR_LOOPBACK);

    cr_assert_eq(svc_listen_parse(":0", &a, NULL), 0);
    cr_assert_eq(ntohl(a4->sin_addr.s_addr), INADDR_ANY);

    cr_assert_eq(svc_listen_parse("[::1]:9", &a, NULL), 0);
    cr_assert_eq(a.ss_family, AF_INET6);
    cr_assert_eq(ntohs(a6->sin6_port), 9);

    const char *bad[] = {"127.0.0.1",     "127.0.0.1:",      "127.0.0.1:x",
                         "1.2.3.4:65536", "host.example:80", "[::1]80",
                         "[::1:80",       "::1:80",          ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(svc_listen_parse(bad[i], &a, NULL), SVC_EINVAL, "%s",
                     bad[i]);
}

static struct svc_ctx ctx;
static struct svc_server *srv;

static void start(void)
{
    struct svc_server_config cfg = {
        .listen = "127.0.0.1:0",
        .threads = 2,
        .connection_limit = 16,
        .connection_timeout_s = 5,
        .max_body = 1024,
    };

    cr_redirect_stderr(); /* the access log */
    memset(&ctx, 0, sizeof(ctx));
    ctx.default_k = 10;
    ctx.max_k = 100;
    cr_assert_eq(svc_auth_new(&ctx.auth, NULL), 0);
    cr_assert_eq(svc_metrics_new(&ctx.metrics, NULL), 0);
    cr_assert_eq(svc_server_start(&cfg, &ctx, &srv, NULL), 0);
    cr_assert_gt(svc_server_port(srv), 0);
}

static void stop(void)
{
    svc_server_free(srv);
    svc_metrics_free(ctx.metrics);
    svc_auth_free(ctx.auth);
}

Test(server, answers_then_drains_and_stops, .init = start, .fini = stop)
{
    struct http_resp r;

    cr_assert_eq(
        http_request(svc_server_port(srv), "GET", "/livez", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "{\"status\":\"ok\"}");
    http_resp_free(&r);

    cr_assert_eq(svc_server_drain(srv, 5), 0, "nothing left in flight");
    cr_assert(atomic_load(&ctx.draining));
    cr_assert_lt(http_connect(svc_server_port(srv)), 0,
                 "no new connections once drained");
}

Test(server, bodies_over_the_limit_are_413, .init = start, .fini = stop)
{
    char body[2048];
    struct http_resp r;

    memset(body, 'x', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    cr_assert_eq(http_request(svc_server_port(srv), "POST", "/v1/events",
                              "Content-Type: application/json\r\n", body, &r),
                 0);
    cr_assert_eq(r.status, 413);
    http_resp_free(&r);
}

Test(server, chunked_bodies_over_the_limit_are_413, .init = start, .fini = stop)
{
    char chunk[700], req[2048];
    struct http_resp r;
    int fd = http_connect(svc_server_port(srv));

    cr_assert_geq(fd, 0);
    memset(chunk, 'y', sizeof(chunk) - 1);
    chunk[sizeof(chunk) - 1] = '\0';
    /* Two chunks of 699 bytes: no Content-Length to refuse early. */
    int n = snprintf(req, sizeof(req),
                     "POST /v1/events HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n"
                     "2bb\r\n%s\r\n2bb\r\n%s\r\n0\r\n\r\n",
                     chunk, chunk);
    cr_assert_eq(write(fd, req, (size_t)n), n);
    cr_assert_eq(http_read(fd, false, &r), 0);
    cr_assert_eq(r.status, 413);
    http_resp_free(&r);
    close(fd);
}
