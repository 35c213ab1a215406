/*
 * RFC 9457 problem details: every error the HTTP API answers is an
 * application/problem+json object
 *
 *   {"type": "https://hoprec.dev/problems/invalid-request",
 *    "title": "Invalid request", "status": 400,
 *    "detail": "k: expected an integer from 1 to 100, got '0'",
 *    "instance": "/v1/users/u1/recommendations",
 *    "errors": [{"parameter": "k", "detail": "..."}]}
 *
 * Each problem type has a fixed slug, title and status; its type URI is
 * SVC_PROBLEM_BASE followed by the slug, and openapi.yaml documents every
 * one. `errors` is present only on validation problems: one entry per bad
 * value, with a JSON pointer into the body ("pointer") or the name of a
 * query parameter ("parameter").
 */
#ifndef SVC_PROBLEM_H
#define SVC_PROBLEM_H

#include <jansson.h>

#define SVC_PROBLEM_BASE "https://hoprec.dev/problems/"

enum svc_problem {
    SVC_PROBLEM_INVALID_REQUEST,    /* 400: bad parameter, body or id */
    SVC_PROBLEM_UNAUTHORIZED,       /* 401: no key, or an unknown one */
    SVC_PROBLEM_FORBIDDEN,          /* 403: the key's role is not enough */
    SVC_PROBLEM_NOT_FOUND,          /* 404: no such route */
    SVC_PROBLEM_ITEM_NOT_FOUND,     /* 404: the model knows no such item */
    SVC_PROBLEM_METHOD_NOT_ALLOWED, /* 405: route exists, method does not */
    SVC_PROBLEM_PAYLOAD_TOO_LARGE,  /* 413: body over --max-body */
    SVC_PROBLEM_UNSUPPORTED_MEDIA,  /* 415: body is not JSON */
    SVC_PROBLEM_INTERNAL,           /* 500: a bug */
    SVC_PROBLEM_NOT_IMPLEMENTED,    /* 501: feature not built yet */
    SVC_PROBLEM_MODEL_UNAVAILABLE,  /* 503: no model loaded yet */
    SVC_PROBLEM_EVENTS_UNAVAILABLE, /* 503: event store not enabled */
    SVC_PROBLEM_SHUTTING_DOWN,      /* 503: draining before exit */
    SVC_PROBLEM_OVERLOADED,         /* 503: out of memory or resources */
    SVC_PROBLEM_COUNT
};

/* The slug of a type, e.g. "invalid-request"; "internal" if out of range. */
const char *svc_problem_slug(enum svc_problem type);

/* The fixed title of a type, e.g. "Invalid request". */
const char *svc_problem_title(enum svc_problem type);

/* The HTTP status a problem of this type is answered with. */
int svc_problem_status(enum svc_problem type);

/* The problem type that reports an SVC_E* code from a lower layer. */
enum svc_problem svc_problem_from_code(int code);

/*
 * A new problem object with type, title, status, and detail and instance
 * when they are not NULL. Returns NULL only when out of memory. The
 * caller owns the reference.
 */
json_t *svc_problem_new(enum svc_problem type, const char *detail,
                        const char *instance);

/*
 * Append one validation error to errors (a JSON array): {"pointer": where,
 * "detail": detail} when where starts with '/' or is empty (a JSON pointer
 * into the body), else {"parameter": where, "detail": detail}. Returns 0
 * or SVC_ENOMEM.
 */
int svc_problem_error_add(json_t *errors, const char *where,
                          const char *detail);

/*
 * As svc_problem_error_add, with detail formatted from fmt. Details longer
 * than 255 bytes are cut.
 */
int svc_problem_error_addf(json_t *errors, const char *where, const char *fmt,
                           ...) __attribute__((format(printf, 3, 4)));

#endif
