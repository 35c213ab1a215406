/*
 * Errors of the service layer, in the shape the core and index layers
 * use: 0 or a negative SVC_E* code, with one line of text in the caller's
 * struct svc_error. svc_error_http_status() maps a code to the HTTP
 * status a handler answers with.
 */
#ifndef SVC_ERR_H
#define SVC_ERR_H

enum svc_errcode {
    SVC_OK = 0,
    SVC_ENOMEM = -1,        /* 503: out of memory */
    SVC_EINVAL = -2,        /* 400: a bad request value */
    SVC_ENOTFOUND = -3,     /* 404: no such user, item or route */
    SVC_EUNAVAILABLE = -4,  /* 503: no model yet, draining, store down */
    SVC_EIO = -5,           /* 503: storage failed; retry later */
    SVC_EINTERNAL = -6,     /* 500: a bug or a broken dependency */
    SVC_ECONFLICT = -7,     /* 409 or 422: conflicts with earlier state */
    SVC_EUNAUTHORIZED = -8, /* 401: no or unknown key */
    SVC_EFORBIDDEN = -9,    /* 403: the key's role does not allow this */
    SVC_ETOOLARGE = -10,    /* 413: body or batch over its limit */
};

#define SVC_ERROR_TEXT 256

struct svc_error {
    int code;                  /* one of enum svc_errcode */
    char text[SVC_ERROR_TEXT]; /* what failed; empty when OK */
};

/* Short fixed description of a code; never NULL. */
const char *svc_strerror(int code);

/* The HTTP status for a code (500 for unknown codes). */
int svc_error_http_status(int code);

/* Record an error in err (may be NULL) and return code. */
int svc_error_set(struct svc_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reset err to SVC_OK; err may be NULL. */
void svc_error_clear(struct svc_error *err);

#endif
