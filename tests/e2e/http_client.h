/*
 * A small HTTP/1.1 client for the tests: plain sockets on the loopback,
 * one request at a time, bodies framed by Content-Length.
 */
#ifndef HOPREC_TEST_HTTP_CLIENT_H
#define HOPREC_TEST_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

struct http_resp {
    int status;      /* 0 when no answer could be read */
    char head[8192]; /* status line and headers, NUL-terminated */
    char *body;      /* body_len bytes + NUL; free with http_resp_free */
    size_t body_len;
};

/* A socket connected to 127.0.0.1:port, or -1. */
int http_connect(int port);

/*
 * Send method path with extra header lines (may be NULL; each ending in
 * "\r\n") and body (may be NULL) on fd, then read one response into r.
 * head_only: the request is HEAD (no body follows the headers). Returns 0,
 * or -1 when the connection failed or closed early.
 */
int http_exchange(int fd, const char *method, const char *path,
                  const char *headers, const char *body, bool head_only,
                  struct http_resp *r);

/* Read one response from fd into r (after a request sent by hand). */
int http_read(int fd, bool head_only, struct http_resp *r);

/* Connect, exchange with `Connection: close`, close. Returns as above. */
int http_request(int port, const char *method, const char *path,
                 const char *headers, const char *body, struct http_resp *r);

/* The value of a response header (case-insensitive) copied into buf, or
 * NULL when absent. */
const char *http_header(const struct http_resp *r, const char *name, char *buf,
                        size_t size);

/* Whether the peer has closed fd (a read would return 0). */
bool http_closed(int fd, int wait_ms);

void http_resp_free(struct http_resp *r);

#endif
