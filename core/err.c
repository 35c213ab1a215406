#include "gnn_err.h"

#include <stdarg.h>
#include <stdio.h>

const char *gnn_strerror(int code)
{
    switch (code) {
    case GNN_OK:
        return "success";
    case GNN_ENOMEM:
        return "out of memory";
    case GNN_EINVAL:
        return "invalid argument";
    case GNN_EIO:
        return "input/output error";
    case GNN_EFORMAT:
        return "malformed input";
    case GNN_ERANGE:
        return "value out of range";
    case GNN_ENOENT:
        return "not found";
    case GNN_ENOTSUP:
        return "not supported";
    case GNN_ECANCELED:
        return "canceled";
    case GNN_EEXIST:
        return "already exists";
    }
    return "unknown error";
}

int gnn_error_set(struct gnn_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return code;

    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof(err->text), fmt, ap);
    va_end(ap);
    return code;
}

void gnn_error_clear(struct gnn_error *err)
{
    if (err == NULL)
        return;
    err->code = GNN_OK;
    err->text[0] = '\0';
}
