#include "http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

int http_connect(int port)
{
    struct sockaddr_in a = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

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

/* Read until the end of the headers; leftover body bytes go to r->body. */
static int read_head(int fd, struct http_resp *r, char *extra, size_t *n_extra)
{
    size_t used = 0;

    for (;;) {
        ssize_t k;
        char *end;

        if (used + 1 >= sizeof(r->head))
            return -1;
        k = recv(fd, r->head + used, sizeof(r->head) - 1 - used, 0);
        if (k <= 0)
            return -1;
        used += (size_t)k;
        r->head[used] = '\0';
        end = strstr(r->head, "\r\n\r\n");
        if (end != NULL) {
            size_t head_len = (size_t)(end - r->head) + 4;
            *n_extra = used - head_len;
            memcpy(extra, r->head + head_len, *n_extra);
            r->head[head_len] = '\0';
            return 0;
        }
    }
}

int http_read(int fd, bool head_only, struct http_resp *r)
{
    char extra[8192], num[32];
    size_t n_extra = 0, want;

    memset(r, 0, sizeof(*r));
    if (read_head(fd, r, extra, &n_extra) != 0)
        return -1;
    if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1)
        return -1;

    want = 0;
    if (!head_only && http_header(r, "Content-Length", num, sizeof(num)))
        want = strtoul(num, NULL, 10);
    r->body = malloc(want + 1);
    if (r->body == NULL)
        return -1;
    memcpy(r->body, extra, n_extra < want ? n_extra : want);
    r->body_len = n_extra < want ? n_extra : want;
    while (r->body_len < want) {
        ssize_t k = recv(fd, r->body + r->body_len, want - r->body_len, 0);
        if (k <= 0)
            return -1;
        r->body_len += (size_t)k;
    }
    r->body[r->body_len] = '\0';
    return 0;
}

int http_exchange(int fd, const char *method, const char *path,
                  const char *headers, const char *body, bool head_only,
                  struct http_resp *r)
{
    char req[16384];
    int n;

    memset(r, 0, sizeof(*r));
    n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s",
                 method, path, headers ? headers : "");
    if (body != NULL)
        n += snprintf(req + n, sizeof(req) - (size_t)n,
                      "Content-Length: %zu\r\n", strlen(body));
    n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
    if (n >= (int)sizeof(req) || send_all(fd, req, (size_t)n) != 0 ||
        (body != NULL && send_all(fd, body, strlen(body)) != 0))
        return -1;

    return http_read(fd, head_only, r);
}

int http_request(int port, const char *method, const char *path,
                 const char *headers, const char *body, struct http_resp *r)
{
    char all[8192];
    int fd = http_connect(port), ret;

    if (fd < 0) {
        memset(r, 0, sizeof(*r));
        return -1;
    }
    snprintf(all, sizeof(all), "%sConnection: close\r\n",
             headers ? headers : "");
    ret = http_exchange(fd, method, path, all, body,
                        strcmp(method, "HEAD") == 0, r);
    close(fd);
    return ret;
}

const char *http_header(const struct http_resp *r, const char *name, char *buf,
                        size_t size)
{
    size_t nl = strlen(name);
    const char *line = strstr(r->head, "\r\n");

    while (line != NULL && line[2] != '\r') {
        line += 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            size_t len;
            while (*v == ' ')
                v++;
            len = strcspn(v, "\r");
            if (len >= size)
                len = size - 1;
            memcpy(buf, v, len);
            buf[len] = '\0';
            return buf;
        }
        line = strstr(line, "\r\n");
    }
    return NULL;
}

bool http_closed(int fd, int wait_ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    char c;

    if (poll(&p, 1, wait_ms) <= 0)
        return false;
    return recv(fd, &c, 1, MSG_PEEK) == 0;
}

void http_resp_free(struct http_resp *r)
{
    free(r->body);
    r->body = NULL;
}
