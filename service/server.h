/*
 * The HTTP server: a libmicrohttpd daemon with an epoll thread pool that
 * routes each request, checks its key, reads its body within a limit,
 * calls the route's handler, writes the answer, and then records the
 * request in the metrics and the access log.
 *
 * Shutdown is in two steps: svc_server_drain() stops accepting, makes
 * /readyz answer 503 and waits for the requests in flight; then
 * svc_server_free() stops the threads and closes what is left.
 */
#ifndef SVC_SERVER_H
#define SVC_SERVER_H

#include <stddef.h>
#include <sys/socket.h>

#include "err.h"
#include "handlers.h"

struct svc_server_config {
    const char *listen;       /* "HOST:PORT", "[V6]:PORT"; port 0 = any */
    int threads;              /* pool threads, >= 1 */
    int workers;              /* threads for handlers that wait; 0: none,
                                 they run on the pool threads */
    int connection_limit;     /* open connections at most */
    int connection_timeout_s; /* idle seconds before a close */
    size_t max_body;          /* request body bytes at most */
    const char *tls_cert;     /* PEM certificate chain, or NULL for plain
                                 HTTP; kept until svc_server_free */
    const char *tls_key;      /* PEM private key, with tls_cert */
};

struct svc_server;

/*
 * Bind and start serving with ctx (borrowed; it must outlive the server).
 * SVC_EINVAL for a bad listen address or a TLS key without certificate,
 * SVC_EIO when the daemon cannot start (port taken, a certificate or key
 * GnuTLS rejects, ...). Free with svc_server_free.
 */
int svc_server_start(const struct svc_server_config *cfg, struct svc_ctx *ctx,
                     struct svc_server **out, struct svc_error *err);

/* The port the server listens on (useful with port 0). */
int svc_server_port(const struct svc_server *s);

/*
 * Stop accepting connections, mark the context as draining (answers then
 * carry `Connection: close`) and wait until no request is in flight or
 * timeout_s has passed. Returns the number of requests still in flight.
 */
long svc_server_drain(struct svc_server *s, double timeout_s);

/* Stop the daemon, close every connection and free s; NULL is a no-op. */
void svc_server_free(struct svc_server *s);

/*
 * Parse "HOST:PORT" or "[V6]:PORT" (HOST may be empty for all IPv4
 * addresses) into addr. Returns 0 or SVC_EINVAL.
 */
int svc_listen_parse(const char *text, struct sockaddr_storage *addr,
                     struct svc_error *err);

#endif
