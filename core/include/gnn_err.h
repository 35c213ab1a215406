/*
 * Errors of the learning core.
 *
 * Every fallible gnn_ function returns 0 on success or a negative GNN_E*
 * code, and fills the caller's struct gnn_error (which may be NULL) with
 * the code and one line of text saying what failed and where. The core
 * never logs: the caller decides what to do with the text.
 */
#ifndef GNN_ERR_H
#define GNN_ERR_H

#include <stddef.h>

enum gnn_errcode {
    GNN_OK = 0,
    GNN_ENOMEM = -1,    /* an allocation failed */
    GNN_EINVAL = -2,    /* a bad argument or setting */
    GNN_EIO = -3,       /* reading or writing a file failed */
    GNN_EFORMAT = -4,   /* a file's content is malformed */
    GNN_ERANGE = -5,    /* a number or id out of its allowed range */
    GNN_ENOENT = -6,    /* a file or entity does not exist */
    GNN_ENOTSUP = -7,   /* the operation is not supported by this model */
    GNN_ECANCELED = -8, /* the caller asked to stop */
    GNN_EEXIST = -9,    /* a unique key is taken already */
};

#define GNN_ERROR_TEXT 256

struct gnn_error {
    int code;                  /* one of enum gnn_errcode */
    char text[GNN_ERROR_TEXT]; /* what failed and where; empty when OK */
};

/* Short fixed description of a code ("out of memory"); never NULL. */
const char *gnn_strerror(int code);

/*
 * Record an error in err (ignored when err is NULL) and return code, so
 * that a failure can be reported as `return gnn_error_set(err, ...)`.
 */
int gnn_error_set(struct gnn_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reset err to GNN_OK with empty text; err may be NULL. */
void gnn_error_clear(struct gnn_error *err);

#endif
