#include "problem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "route.h"

static const struct {
    const char *slug;
    const char *title;
    int status;
} types[SVC_PROBLEM_COUNT] = {
    [SVC_PROBLEM_INVALID_REQUEST] = {"invalid-request", "Invalid request", 400},
    [SVC_PROBLEM_UNAUTHORIZED] = {"unauthorized", "Unauthorized", 401},
    [SVC_PROBLEM_FORBIDDEN] = {"forbidden", "Forbidden", 403},
    [SVC_PROBLEM_NOT_FOUND] = {"not-found", "Not found", 404},
    [SVC_PROBLEM_ITEM_NOT_FOUND] = {"item-not-found", "Item not found", 404},
    [SVC_PROBLEM_METHOD_NOT_ALLOWED] = {"method-not-allowed",
                                        "Method not allowed", 405},
    [SVC_PROBLEM_PAYLOAD_TOO_LARGE] = {"payload-too-large", "Payload too large",
                                       413},
    [SVC_PROBLEM_UNSUPPORTED_MEDIA] = {"unsupported-media-type",
                                       "Unsupported media type", 415},
    [SVC_PROBLEM_INTERNAL] = {"internal", "Internal server error", 500},
    [SVC_PROBLEM_NOT_IMPLEMENTED] = {"not-implemented", "Not implemented", 501},
    [SVC_PROBLEM_MODEL_UNAVAILABLE] = {"model-unavailable", "Model unavailable",
                                       503},
    [SVC_PROBLEM_EVENTS_UNAVAILABLE] = {"events-unavailable",
                                        "Event ingestion unavailable", 503},
    [SVC_PROBLEM_SHUTTING_DOWN] = {"shutting-down", "Shutting down", 503},
    [SVC_PROBLEM_OVERLOADED] = {"overloaded", "Overloaded", 503},
};

/*
 * Set key to a JSON string of text. Text that is not UTF-8 (a detail that
 * quotes a client's bytes) has every byte above 0x7f replaced by '?', so
 * that a bad byte never turns a 400 into a failure to answer at all.
 */
static int set_text(json_t *obj, const char *key, const char *text)
{
    size_t n = strlen(text);
    char *copy;
    int ret;

    if (svc_utf8_valid(text, n))
        return json_object_set_new(obj, key, json_stringn(text, n));

    copy = strdup(text);
    if (copy == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)copy[i] > 0x7f)
            copy[i] = '?';
    }
    ret = json_object_set_new(obj, key, json_stringn(copy, n));
    free(copy);
    return ret;
}

static enum svc_problem checked(enum svc_problem type)
{
    return (unsigned)type < SVC_PROBLEM_COUNT ? type : SVC_PROBLEM_INTERNAL;
}

const char *svc_problem_slug(enum svc_problem type)
{
    return types[checked(type)].slug;
}

const char *svc_problem_title(enum svc_problem type)
{
    return types[checked(type)].title;
}

int svc_problem_status(enum svc_problem type)
{
    return types[checked(type)].status;
}

enum svc_problem svc_problem_from_code(int code)
{
    switch (code) {
    case SVC_EINVAL:
        return SVC_PROBLEM_INVALID_REQUEST;
    case SVC_ENOTFOUND:
        return SVC_PROBLEM_NOT_FOUND;
    case SVC_EUNAUTHORIZED:
        return SVC_PROBLEM_UNAUTHORIZED;
    case SVC_EFORBIDDEN:
        return SVC_PROBLEM_FORBIDDEN;
    case SVC_ETOOLARGE:
        return SVC_PROBLEM_PAYLOAD_TOO_LARGE;
    case SVC_EUNAVAILABLE:
        return SVC_PROBLEM_MODEL_UNAVAILABLE;
    case SVC_ENOMEM:
    case SVC_EIO:
        return SVC_PROBLEM_OVERLOADED;
    default:
        return SVC_PROBLEM_INTERNAL;
    }
}

json_t *svc_problem_new(enum svc_problem type, const char *detail,
                        const char *instance)
{
    char uri[128];
    json_t *p;

    type = checked(type);
    snprintf(uri, sizeof(uri), "%s%s", SVC_PROBLEM_BASE, types[type].slug);
    p = json_pack("{s:s, s:s, s:i}", "type", uri, "title", types[type].title,
                  "status", types[type].status);
    if (p == NULL)
        return NULL;

    if ((detail != NULL && set_text(p, "detail", detail) != 0) ||
        (instance != NULL && set_text(p, "instance", instance) != 0)) {
        json_decref(p);
        return NULL;
    }
    return p;
}

int svc_problem_error_add(json_t *errors, const char *where, const char *detail)
{
    const char *key =
        where[0] == '/' || where[0] == '\0' ? "pointer" : "parameter";
    json_t *e = json_object();

    if (e == NULL || set_text(e, key, where) != 0 ||
        set_text(e, "detail", detail) != 0) {
        json_decref(e);
        return SVC_ENOMEM;
    }
    if (json_array_append_new(errors, e) != 0)
        return SVC_ENOMEM;
    return 0;
}

int svc_problem_error_addf(json_t *errors, const char *where, const char *fmt,
                           ...)
{
    char detail[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    return svc_problem_error_add(errors, where, detail);
}
