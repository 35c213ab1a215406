#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "workers.h"

struct svc_server {
    struct MHD_Daemon *daemon;
    struct svc_workers *workers; /* run the handlers that wait; or NULL */
    struct svc_ctx *ctx;         /* borrowed */
    size_t max_body;
    MHD_socket quiesced; /* listen socket after drain, closed at free */
    int port;
};

/* The state of one request, from its headers to its completion. */
struct request {
    struct timespec start;
    struct svc_route_match match;
    char method[16];
    char path[128]; /* start of the raw path, for logs of unmatched ones */
    bool responded; /* a response is queued */
    bool refused;   /* pending holds a refusal for the final call */
    struct svc_response pending;
    bool too_large; /* the body went over the limit; 413 at the end */
    char *body;     /* len bytes read so far, NUL-terminated, of cap */
    size_t len, cap;
    int status;   /* answered status; 0 until then */
    size_t bytes; /* body bytes answered */
    /* A handler handed to the workers: what it needs, and its answer in
     * pending once answered is set (before the connection resumes). */
    struct svc_server *server;
    struct MHD_Connection *conn;
    const char *url, *method_arg;
    bool answered;
};

static double seconds_since(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) +
           (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* ------------------------------------------------------------------ */
/* Request access for the handlers */

const char *svc_req_query(const struct svc_req *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

struct collect {
    const char *key;
    const char **vals;
    size_t max, n;
};

static enum MHD_Result collect_value(void *cls, enum MHD_ValueKind kind,
                                     const char *key, const char *value)
{
    struct collect *c = cls;

    if (strcmp(key, c->key) == 0) {
        if (c->n < c->max)
            c->vals[c->n] = value != NULL ? value : "";
        c->n++;
    }
    return MHD_YES;
}

size_t svc_req_query_all(const struct svc_req *req, const char *key,
                         const char **vals, size_t max)
{
    struct collect c = {key, vals, max, 0};

    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, collect_value,
                              &c);
    return c.n;
}

const char *svc_req_header(const struct svc_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* ------------------------------------------------------------------ */
/* Answering */

static const char fallback_body[] =
    "{\"type\":\"" SVC_PROBLEM_BASE "internal\",\"title\":\"Internal server "
    "error\",\"status\":500}";

static struct MHD_Response *make_response(struct svc_response *res,
                                          size_t *bytes)
{
    struct MHD_Response *r;
    char *text;

    if (res->json != NULL) {
        /* Scores are floats: 9 significant digits round-trip them. */
        text = json_dumps(res->json, JSON_COMPACT | JSON_REAL_PRECISION(9));
        if (text != NULL) {
            *bytes = strlen(text);
            r = MHD_create_response_from_buffer_with_free_callback(*bytes, text,
                                                                   free);
            if (r == NULL)
                free(text);
            return r;
        }
        res->status = 500;
        res->problem = true;
    } else if (res->owned != NULL) {
        *bytes = res->owned_len;
        r = MHD_create_response_from_buffer_with_free_callback(
            *bytes, res->owned, free);
        if (r != NULL)
            res->owned = NULL; /* the response frees it */
        return r;
    } else if (res->data != NULL) {
        *bytes = res->data_len;
        return MHD_create_response_from_buffer(*bytes, (void *)res->data,
                                               MHD_RESPMEM_PERSISTENT);
    } else if (res->status < 400) {
        *bytes = 0;
        return MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    }
    /* A problem whose object could not be built. */
    res->problem = true;
    *bytes = sizeof(fallback_body) - 1;
    if (res->status == 0)
        res->status = 500;
    return MHD_create_response_from_buffer(*bytes, (void *)fallback_body,
                                           MHD_RESPMEM_PERSISTENT);
}

static void add_headers(struct svc_server *s, struct MHD_Response *r,
                        const struct svc_response *res)
{
    char num[24];
    const char *type = res->content_type;

    if (res->json != NULL || res->problem)
        type = res->problem ? "application/problem+json" : "application/json";
    if (type != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (res->allow[0] != '\0')
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, res->allow);
    if (res->retry_after > 0) {
        snprintf(num, sizeof(num), "%d", res->retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, num);
    }
    if (res->www_authenticate)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"hoprec\"");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (atomic_load_explicit(&s->ctx->draining, memory_order_relaxed))
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
}

static enum MHD_Result respond(struct svc_server *s, struct request *rq,
                               struct MHD_Connection *conn,
                               struct svc_response *res)
{
    struct MHD_Response *r = make_response(res, &rq->bytes);
    enum MHD_Result ok;

    if (r == NULL) {
        svc_response_clear(res);
        return MHD_NO; /* out of memory: drop the connection */
    }
    add_headers(s, r, res);
    rq->status = res->status;
    rq->responded = true;
    ok = MHD_queue_response(conn, (unsigned)res->status, r);
    MHD_destroy_response(r);
    svc_response_clear(res);
    return ok;
}

static enum MHD_Result respond_problem(struct svc_server *s, struct request *rq,
                                       struct MHD_Connection *conn,
                                       enum svc_problem type,
                                       const char *detail, const char *path,
                                       json_t *errors)
{
    struct svc_response res = {0};
    struct svc_req req = {.path = path};

    svc_response_problem(&res, type, detail, &req, errors);
    return respond(s, rq, conn, &res);
}

/* Whether the request announces a body (a length above 0, or chunks). */
static bool has_body(struct MHD_Connection *conn)
{
    const char *cl = MHD_lookup_connection_value(
        conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

    return (cl != NULL && strtoull(cl, NULL, 10) > 0) ||
           MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                       MHD_HTTP_HEADER_TRANSFER_ENCODING) !=
               NULL;
}

/*
 * Refuse a request before its body. With a body the refusal goes out at
 * once, so that the body is never read (the connection closes after it);
 * without one it waits for the final call, which keeps the connection
 * alive for the client's next request.
 */
static enum MHD_Result refuse(struct svc_server *s, struct request *rq,
                              struct MHD_Connection *conn,
                              struct svc_response *res)
{
    if (has_body(conn))
        return respond(s, rq, conn, res);
    rq->pending = *res;
    rq->refused = true;
    return MHD_YES;
}

static enum MHD_Result refuse_problem(struct svc_server *s, struct request *rq,
                                      struct MHD_Connection *conn,
                                      enum svc_problem type, const char *detail,
                                      const char *path, json_t *errors)
{
    struct svc_response res = {0};
    struct svc_req req = {.path = path};

    svc_response_problem(&res, type, detail, &req, errors);
    return refuse(s, rq, conn, &res);
}

/* ------------------------------------------------------------------ */
/* The request lifecycle */

/*
 * The first call for a request: route it, check its key and its declared
 * size. A refused request's body is never read (see refuse()).
 */
static enum MHD_Result begin(struct svc_server *s, struct MHD_Connection *conn,
                             const char *url, const char *method,
                             void **con_cls)
{
    struct request *rq = calloc(1, sizeof(*rq));
    struct svc_error err;
    const char *cl;
    int ret;

    if (rq == NULL)
        return MHD_NO;
    clock_gettime(CLOCK_MONOTONIC, &rq->start);
    snprintf(rq->method, sizeof(rq->method), "%s", method);
    snprintf(rq->path, sizeof(rq->path), "%s", url);
    svc_metrics_request_begin(s->ctx->metrics);
    *con_cls = rq;

    ret = svc_route_match(method, url, &rq->match, &err);
    if (ret == SVC_ENOTFOUND && rq->match.allow[0] != '\0') {
        struct svc_response res = {0};
        struct svc_req req = {.path = url};

        svc_response_problem(&res, SVC_PROBLEM_METHOD_NOT_ALLOWED, err.text,
                             &req, NULL);
        memcpy(res.allow, rq->match.allow, sizeof(res.allow));
        return refuse(s, rq, conn, &res);
    }
    if (ret == SVC_ENOTFOUND)
        return refuse_problem(s, rq, conn, SVC_PROBLEM_NOT_FOUND, err.text, url,
                              NULL);

    /* The key is checked before the path's ids, so that a client without
     * one learns nothing from the answer about what it sent. */
    struct svc_error why;
    int auth = svc_auth_check(
        s->ctx->auth,
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                    MHD_HTTP_HEADER_AUTHORIZATION),
        rq->match.route->role, &why);
    if (auth != 0) {
        struct svc_response res = {0};
        struct svc_req req = {.path = url};

        svc_response_problem(&res, svc_problem_from_code(auth), why.text, &req,
                             NULL);
        res.www_authenticate = auth == SVC_EUNAUTHORIZED;
        return refuse(s, rq, conn, &res);
    }

    if (ret != 0) {
        json_t *errors = json_array();
        if (errors != NULL)
            svc_problem_error_add(errors, rq->match.bad_param, err.text);
        return refuse_problem(s, rq, conn, SVC_PROBLEM_INVALID_REQUEST,
                              err.text, url, errors);
    }

    cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL && strtoull(cl, NULL, 10) > s->max_body) {
        char detail[96];
        snprintf(detail, sizeof(detail), "the body may be at most %zu bytes",
                 s->max_body);
        return refuse_problem(s, rq, conn, SVC_PROBLEM_PAYLOAD_TOO_LARGE,
                              detail, url, NULL);
    }
    return MHD_YES;
}

/* Append a piece of the body, or only count it once over the limit. */
static void take_body(struct svc_server *s, struct request *rq,
                      const char *data, size_t n)
{
    if (rq->too_large || n > s->max_body - rq->len) {
        rq->too_large = true;
        return;
    }
    if (rq->len + n + 1 > rq->cap) {
        size_t cap = rq->cap ? rq->cap : 1024;
        while (cap < rq->len + n + 1)
            cap *= 2;
        char *body = realloc(rq->body, cap);
        if (body == NULL) {
            rq->too_large = true; /* answered as 413: cannot hold it */
            return;
        }
        rq->body = body;
        rq->cap = cap;
    }
    memcpy(rq->body + rq->len, data, n);
    rq->len += n;
    rq->body[rq->len] = '\0';
}

/* Run the request's handler; its answer goes to *res. */
static void run_handler(struct svc_server *s, struct request *rq,
                        struct MHD_Connection *conn, const char *url,
                        const char *method, struct svc_response *res)
{
    struct svc_req req = {
        .method = method,
        .path = url,
        .match = &rq->match,
        .body = rq->body != NULL ? rq->body : "",
        .body_len = rq->len,
        .conn = conn,
    };

    svc_handlers[rq->match.route->id](s->ctx, &req, res);
}

/*
 * Handlers that wait: a coalesced search waits for its batch, an event
 * batch for the commit it shares. On the few HTTP threads they would
 * hold up every other connection of their thread, and a batch could
 * never hold more searches than there are threads. A search that runs
 * alone only computes, so it stays on the HTTP thread: a hand-over would
 * cost more than it saves.
 */
static bool handler_waits(struct svc_server *s, enum svc_route_id id)
{
    if (id == SVC_ROUTE_EVENTS)
        return true;
    return (id == SVC_ROUTE_RECOMMEND || id == SVC_ROUTE_RELATED) &&
           svc_ctx_searches_wait(s->ctx);
}

/* A worker's job: answer a suspended request, then hand it back to its
 * HTTP thread, which sends the answer. Nothing here touches rq after the
 * resume: the connection may end at once. */
static void answer_suspended(void *arg)
{
    struct request *rq = arg;
    struct MHD_Connection *conn = rq->conn;

    run_handler(rq->server, rq, conn, rq->url, rq->method_arg, &rq->pending);
    rq->answered = true;
    MHD_resume_connection(conn);
}

/* The whole request is in: run its handler, here or on a worker. */
static enum MHD_Result finish(struct svc_server *s, struct request *rq,
                              struct MHD_Connection *conn, const char *url,
                              const char *method)
{
    struct svc_response res = {0};

    if (rq->too_large) {
        char detail[96];
        snprintf(detail, sizeof(detail), "the body may be at most %zu bytes",
                 s->max_body);
        return respond_problem(s, rq, conn, SVC_PROBLEM_PAYLOAD_TOO_LARGE,
                               detail, url, NULL);
    }
    if (s->workers != NULL && handler_waits(s, rq->match.route->id)) {
        rq->server = s;
        rq->conn = conn;
        rq->url = url;
        rq->method_arg = method;
        MHD_suspend_connection(conn);
        if (svc_workers_submit(s->workers, answer_suspended, rq) != 0)
            answer_suspended(rq); /* shutting down: answer it here */
        return MHD_YES;
    }
    run_handler(s, rq, conn, url, method, &res);
    return respond(s, rq, conn, &res);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct svc_server *s = cls;
    struct request *rq = *con_cls;

    if (rq == NULL)
        return begin(s, conn, url, method, con_cls);
    if (*upload_data_size > 0) {
        if (!rq->responded && !rq->refused)
            take_body(s, rq, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rq->answered) {
        rq->answered = false;
        return respond(s, rq, conn, &rq->pending);
    }
    if (rq->responded)
        return MHD_YES;
    if (rq->refused) {
        rq->refused = false;
        return respond(s, rq, conn, &rq->pending);
    }
    return finish(s, rq, conn, url, method);
}

/* The request is over (answered, or the client left): count and log. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct svc_server *s = cls;
    struct request *rq = *con_cls;

    if (rq == NULL)
        return;
    *con_cls = NULL;

    double secs = seconds_since(&rq->start);
    const struct svc_route *route = rq->match.route;

    svc_metrics_request_end(s->ctx->metrics, route ? (int)route->id : -1,
                            rq->method, rq->status, secs);

    /* Ids stay out of the log: a matched request is logged by its route
     * template, only an unmatched path (a probe, a typo) as it came. */
    if (svc_log_enabled(SVC_LOG_INFO)) {
        char path[160];

        svc_log_quote(path, sizeof(path), route ? route->path : rq->path);
        svc_log_info(
            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "request"
                                                       : "request ended early",
            "method=%s %s=%s status=%d bytes=%zu duration_ms=%.3f", rq->method,
            route ? "route" : "path", path, rq->status, rq->bytes, secs * 1e3);
    }
    svc_response_clear(&rq->pending);
    free(rq->body);
    free(rq);
}

/* ------------------------------------------------------------------ */
/* The daemon */

/* Leave the path and query values as they came: route.c decodes path
 * segments after splitting them, so that "%2F" inside an id survives. */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
    return strlen(s);
}

__attribute__((format(printf, 2, 0))) static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[256], quoted[300];
    size_t n;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    svc_log_warn("libmicrohttpd reported a problem", "text=%s",
                 svc_log_quote(quoted, sizeof(quoted), msg));
}

static int parse_port(const char *text, uint16_t *port)
{
    char *end;
    unsigned long v;

    if (*text < '0' || *text > '9')
        return -1;
    errno = 0;
    v = strtoul(text, &end, 10);
    if (errno != 0 || *end != '\0' || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

int svc_listen_parse(const char *text, struct sockaddr_storage *addr,
                     struct svc_error *err)
{
    char host[64];
    const char *colon;
    uint16_t port;

    memset(addr, 0, sizeof(*addr));
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)addr;
        size_t hl = close ? (size_t)(close - text - 1) : 0;

        if (close == NULL || close[1] != ':' || hl >= sizeof(host))
            goto bad;
        memcpy(host, text + 1, hl);
        host[hl] = '\0';
        if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1 ||
            parse_port(close + 2, &port) != 0)
            goto bad;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        return 0;
    }

    struct sockaddr_in *a4 = (struct sockaddr_in *)addr;
    colon = strrchr(text, ':');
    if (colon == NULL || (size_t)(colon - text) >= sizeof(host) ||
        parse_port(colon + 1, &port) != 0)
        goto bad;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    if (host[0] == '\0')
        a4->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (strcmp(host, "localhost") == 0)
        a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
        goto bad;
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    return 0;

bad:
    return svc_error_set(err, SVC_EINVAL,
                         "expected HOST:PORT or [IPV6]:PORT with a numeric "
                         "address and a port from 0 to 65535, got '%s'",
                         text);
}

int svc_server_start(const struct svc_server_config *cfg, struct svc_ctx *ctx,
                     struct svc_server **out, struct svc_error *err)
{
    struct sockaddr_storage addr;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    struct svc_server *s;
    const union MHD_DaemonInfo *info;
    int ret = svc_listen_parse(cfg->listen, &addr, err);

    if (ret != 0)
        return ret;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL))
        return svc_error_set(err, SVC_EINVAL,
                             "TLS needs both a certificate and a key");
    if (cfg->tls_cert != NULL &&
        MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return svc_error_set(err, SVC_EINVAL,
                             "this libmicrohttpd was built without TLS");

    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return svc_error_set(err, SVC_ENOMEM, "out of memory");
    s->ctx = ctx;
    s->max_body = cfg->max_body;
    s->quiesced = MHD_INVALID_SOCKET;
    if (cfg->workers > 0 &&
        (ret = svc_workers_new(cfg->workers, &s->workers, err)) != 0) {
        free(s);
        return ret;
    }

    /* TLS, when asked for, goes through libmicrohttpd's GnuTLS support. */
    struct MHD_OptionItem tls[] = {
        {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)cfg->tls_key},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cfg->tls_cert},
        {MHD_OPTION_END, 0, NULL},
    };
    if (cfg->tls_cert != NULL) {
        flags |= MHD_USE_TLS;
    } else {
        tls[0].option = MHD_OPTION_END;
    }

    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, tls,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)cfg->threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)cfg->connection_limit, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)cfg->connection_timeout_s, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        1024u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL, MHD_OPTION_END);
    if (s->daemon == NULL) {
        svc_workers_free(s->workers);
        free(s);
        return svc_error_set(err, SVC_EIO,
                             "cannot listen on %s (address in use or not "
                             "local%s?)",
                             cfg->listen,
                             cfg->tls_cert ? ", or a certificate or key "
                                             "that GnuTLS refuses"
                                           : "");
    }
    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info != NULL ? info->port : 0;
    *out = s;
    return 0;
}

int svc_server_port(const struct svc_server *s)
{
    return s->port;
}

long svc_server_drain(struct svc_server *s, double timeout_s)
{
    struct timespec start, nap = {0, 10 * 1000 * 1000};
    int64_t left;

    atomic_store(&s->ctx->draining, true);
    if (s->quiesced == MHD_INVALID_SOCKET) {
        s->quiesced = MHD_quiesce_daemon(s->daemon);
        /* The daemon no longer accepts, but the kernel would still queue
         * new connections on the open socket until they time out. Shut it
         * down now so they are refused at once (and go to another
         * replica); it is closed only after MHD_stop_daemon, as
         * libmicrohttpd asks. */
        if (s->quiesced != MHD_INVALID_SOCKET)
            shutdown(s->quiesced, SHUT_RDWR);
    }

    clock_gettime(CLOCK_MONOTONIC, &start);
    while ((left = svc_metrics_in_flight(s->ctx->metrics)) > 0 &&
           seconds_since(&start) < timeout_s)
        nanosleep(&nap, NULL);
    return (long)left;
}

void svc_server_free(struct svc_server *s)
{
    if (s == NULL)
        return;
    /* Every suspended request is answered and resumed before the daemon
     * stops: libmicrohttpd must not be left holding a suspended one. */
    svc_workers_free(s->workers);
    MHD_stop_daemon(s->daemon);
    if (s->quiesced != MHD_INVALID_SOCKET)
        close(s->quiesced);
    free(s);
}
