#include "err.h"

#include <stdarg.h>
#include <stdio.h>

static const struct {
    int code;
    int status;
    const char *text;
} codes[] = {
    {SVC_OK, 200, "success"},
    {SVC_ENOMEM, 503, "out of memory"},
    {SVC_EINVAL, 400, "invalid request"},
    {SVC_ENOTFOUND, 404, "not found"},
    {SVC_EUNAVAILABLE, 503, "service unavailable"},
    {SVC_EIO, 503, "storage error"},
    {SVC_EINTERNAL, 500, "internal error"},
    {SVC_ECONFLICT, 409, "conflict"},
    {SVC_EUNAUTHORIZED, 401, "unauthorized"},
    {SVC_EFORBIDDEN, 403, "forbidden"},
    {SVC_ETOOLARGE, 413, "request too large"},
};

#define N_CODES (sizeof(codes) / sizeof(codes[0]))

const char *svc_strerror(int code)
{
    for (size_t i = 0; i < N_CODES; i++) {
        if (codes[i].code == code)
            return codes[i].text;
    }
    return "unknown error";
}

int svc_error_http_status(int code)
{
    for (size_t i = 0; i < N_CODES; i++) {
        if (codes[i].code == code)
            return codes[i].status;
    }
    return 500;
}

int svc_error_set(struct svc_error *err, int code, const char *fmt, ...)
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

void svc_error_clear(struct svc_error *err)
{
    if (err == NULL)
        return;
    err->code = SVC_OK;
    err->text[0] = '\0';
}
