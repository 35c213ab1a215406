#include "idx_err.h"

#include <stdarg.h>
#include <stdio.h>

const char *idx_strerror(int code)
{
    switch (code) {
    case IDX_OK:
        return "success";
    case IDX_ENOMEM:
        return "out of memory";
    case IDX_EINVAL:
        return "invalid argument";
    case IDX_EIO:
        return "input/output error";
    case IDX_EFAISS:
        return "faiss error";
    case IDX_ENOENT:
        return "not found";
    case IDX_ERANGE:
        return "value out of range";
    }
    return "unknown error";
}

int idx_error_set(struct idx_error *err, int code, const char *fmt, ...)
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

void idx_error_clear(struct idx_error *err)
{
    if (err == NULL)
        return;
    err->code = IDX_OK;
    err->text[0] = '\0';
}
