/*
 * The routes of the HTTP API (openapi.yaml is the contract; each route's
 * operation is an operationId there) and the matching of a request's
 * method and raw path against them.
 *
 * Paths are matched segment by segment on the raw (still percent-encoded)
 * path, so that an id holding "%2F" stays one segment; path parameters
 * are then percent-decoded and checked as ids: 1 to SVC_ID_MAX bytes of
 * UTF-8 without control characters.
 */
#ifndef SVC_ROUTE_H
#define SVC_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "auth.h"
#include "err.h"

#define SVC_ID_MAX           256 /* bytes of an id once decoded */
#define SVC_ROUTE_MAX_PARAMS 2

enum svc_route_id {
    SVC_ROUTE_RECOMMEND,
    SVC_ROUTE_RELATED,
    SVC_ROUTE_PATCH_ITEM,
    SVC_ROUTE_EVENTS,
    SVC_ROUTE_MODEL,
    SVC_ROUTE_RETRAIN,
    SVC_ROUTE_LIVEZ,
    SVC_ROUTE_READYZ,
    SVC_ROUTE_HEALTHZ,
    SVC_ROUTE_METRICS,
    SVC_ROUTE_OPENAPI,
    SVC_ROUTE_COUNT
};

struct svc_route {
    enum svc_route_id id;
    const char *method;    /* "GET", "POST", "PATCH" */
    const char *path;      /* template, e.g. "/v1/items/{item_id}" */
    const char *operation; /* operationId in openapi.yaml */
    enum svc_role role;    /* the role a key needs; SVC_ROLE_PUBLIC: none */
    bool has_body;         /* takes a JSON request body */
};

/* The route table, SVC_ROUTE_COUNT entries indexed by enum svc_route_id. */
extern const struct svc_route svc_routes[SVC_ROUTE_COUNT];

struct svc_route_match {
    const struct svc_route *route; /* the matched route, or NULL */
    /* decoded path parameters in template order, pointing into buf */
    const char *params[SVC_ROUTE_MAX_PARAMS];
    size_t n_params;
    char bad_param[32]; /* on SVC_EINVAL: the parameter's name */
    char allow[64];     /* when only the method failed: "GET, HEAD" */
    char buf[SVC_ROUTE_MAX_PARAMS * (SVC_ID_MAX + 1)];
};

/*
 * Match method and path (raw, without the query) against the routes.
 * HEAD matches the GET routes. Returns 0 with m->route set; SVC_ENOTFOUND
 * when no route fits, with m->allow listing the methods the path takes
 * when some route has this path (a 405, not a 404); SVC_EINVAL when the
 * path fits but a parameter is not a valid id (m->bad_param names it).
 */
int svc_route_match(const char *method, const char *path,
                    struct svc_route_match *m, struct svc_error *err);

/*
 * Percent-decode n bytes of in into out (room for n + 1 bytes; the result
 * is NUL-terminated and never longer than the input). With plus_is_space,
 * '+' becomes ' ' (query strings). Returns the decoded length, or -1 when
 * a '%' is not followed by two hex digits or decodes to a NUL byte.
 */
long svc_percent_decode(const char *in, size_t n, char *out,
                        bool plus_is_space);

/* True when the n bytes of s are well-formed UTF-8 (no overlongs,
 * surrogates or code points past U+10FFFF). */
bool svc_utf8_valid(const char *s, size_t n);

/*
 * Check a decoded id of n bytes: 1 to SVC_ID_MAX bytes, valid UTF-8, no
 * control characters. Returns 0, or SVC_EINVAL with the reason in err.
 */
int svc_id_check(const char *s, size_t n, struct svc_error *err);

#endif
