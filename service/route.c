#include "route.h"

#include <stdio.h>
#include <string.h>

const struct svc_route svc_routes[SVC_ROUTE_COUNT] = {
    {SVC_ROUTE_RECOMMEND, "GET", "/v1/users/{user_id}/recommendations",
     "getRecommendations", SVC_ROLE_READ, false},
    {SVC_ROUTE_RELATED, "GET", "/v1/items/{item_id}/related", "getRelatedItems",
     SVC_ROLE_READ, false},
    {SVC_ROUTE_PATCH_ITEM, "PATCH", "/v1/items/{item_id}", "patchItem",
     SVC_ROLE_INGEST, true},
    {SVC_ROUTE_EVENTS, "POST", "/v1/events", "postEvents", SVC_ROLE_INGEST,
     true},
    {SVC_ROUTE_MODEL, "GET", "/v1/model", "getModel", SVC_ROLE_READ, false},
    {SVC_ROUTE_RETRAIN, "POST", "/v1/model/retrain", "retrainModel",
     SVC_ROLE_ADMIN, true},
    {SVC_ROUTE_LIVEZ, "GET", "/livez", "getLivez", SVC_ROLE_PUBLIC, false},
    {SVC_ROUTE_READYZ, "GET", "/readyz", "getReadyz", SVC_ROLE_PUBLIC, false},
    {SVC_ROUTE_HEALTHZ, "GET", "/healthz", "getHealthz", SVC_ROLE_PUBLIC,
     false},
    {SVC_ROUTE_METRICS, "GET", "/metrics", "getMetrics", SVC_ROLE_PUBLIC,
     false},
    {SVC_ROUTE_OPENAPI, "GET", "/openapi.json", "getOpenapi", SVC_ROLE_PUBLIC,
     false},
};

/* ------------------------------------------------------------------ */
/* Bytes: percent-decoding and UTF-8 */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long svc_percent_decode(const char *in, size_t n, char *out, bool plus_is_space)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        char c = in[i];

        if (c == '%') {
            int hi = i + 2 < n ? hex_value(in[i + 1]) : -1;
            int lo = i + 2 < n ? hex_value(in[i + 2]) : -1;

            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}

bool svc_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        unsigned c = p[i];
        size_t len;
        unsigned cp, min;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

int svc_id_check(const char *s, size_t n, struct svc_error *err)
{
    if (n == 0)
        return svc_error_set(err, SVC_EINVAL, "must not be empty");
    if (n > SVC_ID_MAX)
        return svc_error_set(err, SVC_EINVAL,
                             "must be at most %d bytes, got %zu", SVC_ID_MAX,
                             n);
    if (!svc_utf8_valid(s, n))
        return svc_error_set(err, SVC_EINVAL, "must be UTF-8");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return svc_error_set(err, SVC_EINVAL,
                                 "must not hold control characters");
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Matching */

/* Length of the segment that starts at s (up to '/' or the end). */
static size_t segment_len(const char *s)
{
    const char *slash = strchr(s, '/');
    return slash != NULL ? (size_t)(slash - s) : strlen(s);
}

/*
 * Whether path has the shape of template: same number of segments,
 * literal segments equal, parameter segments non-empty. Fills raw[] with
 * the parameter segments.
 */
static bool shape_matches(const char *tmpl, const char *path, const char *raw[],
                          size_t raw_len[], size_t *n)
{
    *n = 0;
    while (*tmpl == '/' && *path == '/') {
        size_t tl, pl;

        tmpl++, path++;
        tl = segment_len(tmpl);
        pl = segment_len(path);

        if (tl > 0 && tmpl[0] == '{') {
            if (pl == 0 || *n == SVC_ROUTE_MAX_PARAMS)
                return false;
            raw[*n] = path;
            raw_len[(*n)++] = pl;
        } else if (tl != pl || memcmp(tmpl, path, tl) != 0) {
            return false;
        }
        tmpl += tl;
        path += pl;
    }
    return *tmpl == '\0' && *path == '\0';
}

/* The name of the i-th parameter of a template, into buf. */
static const char *param_name(const char *tmpl, size_t i, char *buf,
                              size_t size)
{
    const char *p = tmpl;

    for (;;) {
        p = strchr(p, '{');
        if (p == NULL)
            return "";
        if (i-- == 0)
            break;
        p++;
    }
    size_t len = strcspn(p + 1, "}");
    if (len >= size)
        len = size - 1;
    memcpy(buf, p + 1, len);
    buf[len] = '\0';
    return buf;
}

static void allow_add(char *allow, size_t size, const char *method)
{
    size_t used = strlen(allow);

    if (strstr(allow, method) != NULL)
        return;
    snprintf(allow + used, size - used, "%s%s", used > 0 ? ", " : "", method);
}

static int decode_params(const struct svc_route *r, const char *raw[],
                         const size_t raw_len[], size_t n,
                         struct svc_route_match *m, struct svc_error *err)
{
    char *out = m->buf;

    for (size_t i = 0; i < n; i++) {
        char tmp[3 * SVC_ID_MAX + 1];
        struct svc_error why;
        long len = -1;

        if (raw_len[i] >= sizeof(tmp))
            svc_error_set(&why, SVC_EINVAL, "must be at most %d bytes",
                          SVC_ID_MAX);
        else if ((len = svc_percent_decode(raw[i], raw_len[i], tmp, false)) < 0)
            svc_error_set(&why, SVC_EINVAL, "has a bad percent-encoding");

        if (len < 0 || svc_id_check(tmp, (size_t)len, &why) != 0) {
            param_name(r->path, i, m->bad_param, sizeof(m->bad_param));
            return svc_error_set(err, SVC_EINVAL, "%s %s", m->bad_param,
                                 why.text);
        }
        memcpy(out, tmp, (size_t)len + 1);
        m->params[i] = out;
        out += len + 1;
    }
    m->n_params = n;
    return 0;
}

int svc_route_match(const char *method, const char *path,
                    struct svc_route_match *m, struct svc_error *err)
{
    bool head = strcmp(method, "HEAD") == 0;

    m->route = NULL;
    m->n_params = 0;
    m->bad_param[0] = '\0';
    m->allow[0] = '\0';

    for (size_t i = 0; i < SVC_ROUTE_COUNT; i++) {
        const struct svc_route *r = &svc_routes[i];
        const char *raw[SVC_ROUTE_MAX_PARAMS];
        size_t raw_len[SVC_ROUTE_MAX_PARAMS], n;

        if (!shape_matches(r->path, path, raw, raw_len, &n))
            continue;

        if (strcmp(method, r->method) == 0 ||
            (head && strcmp(r->method, "GET") == 0)) {
            m->route = r;
            return decode_params(r, raw, raw_len, n, m, err);
        }
        allow_add(m->allow, sizeof(m->allow), r->method);
        if (strcmp(r->method, "GET") == 0)
            allow_add(m->allow, sizeof(m->allow), "HEAD");
    }
    if (m->allow[0] != '\0')
        return svc_error_set(err, SVC_ENOTFOUND,
                             "%s is not allowed here; allowed: %s", method,
                             m->allow);
    return svc_error_set(err, SVC_ENOTFOUND, "no route for this path");
}
