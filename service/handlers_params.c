/*
 * Parsing and validation of query parameters and JSON bodies. Nothing
 * here does I/O, so each rule is unit-tested on its own.
 */
#include "handlers.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* Query parameters */

/* Decode a raw query value into buf (size bytes) for messages; "?" when
 * it does not decode or fit. */
static const char *shown(const char *raw, char *buf, size_t size)
{
    size_t n = strlen(raw);

    if (n >= size || svc_percent_decode(raw, n, buf, true) < 0)
        return "?";
    return buf;
}

int svc_param_int(const char *raw, const char *name, long min, long max,
                  long *out, json_t *errors)
{
    char buf[64], *end;
    long v;

    if (raw == NULL)
        return 0;

    errno = 0;
    v = strtol(raw, &end, 10);
    if (raw[0] == '\0' || isspace((unsigned char)raw[0]) || *end != '\0' ||
        errno != 0 || v < min || v > max) {
        svc_problem_error_addf(errors, name,
                               "expected an integer from %ld to %ld, got "
                               "'%s'",
                               min, max, shown(raw, buf, sizeof(buf)));
        return SVC_EINVAL;
    }
    *out = v;
    return 0;
}

int svc_param_bool(const char *raw, const char *name, bool *out, json_t *errors)
{
    char buf[64];

    if (raw == NULL)
        return 0;
    if (strcasecmp(raw, "true") == 0 || strcmp(raw, "1") == 0) {
        *out = true;
        return 0;
    }
    if (strcasecmp(raw, "false") == 0 || strcmp(raw, "0") == 0) {
        *out = false;
        return 0;
    }
    svc_problem_error_addf(errors, name, "expected true or false, got '%s'",
                           shown(raw, buf, sizeof(buf)));
    return SVC_EINVAL;
}

/* Split one raw exclude value at ',' and append its decoded ids. */
static int exclude_add(const char *raw, size_t max, struct svc_rec_params *p,
                       json_t *errors, bool *bad)
{
    while (*raw != '\0') {
        size_t len = strcspn(raw, ",");
        char *id = malloc(len + 1);
        struct svc_error why;
        long n;

        if (id == NULL)
            return SVC_ENOMEM;
        n = svc_percent_decode(raw, len, id, true);
        if (len > 0 && (n < 0 || svc_id_check(id, (size_t)n, &why) != 0)) {
            if (!*bad)
                svc_problem_error_addf(errors, "exclude", "each id %s",
                                       n < 0 ? "must be percent-encoded "
                                               "correctly"
                                             : why.text);
            *bad = true;
            free(id);
        } else if (len == 0) {
            free(id);
        } else if (p->n_exclude >= max) {
            free(id);
            if (!*bad)
                svc_problem_error_addf(errors, "exclude",
                                       "at most %zu ids may be excluded", max);
            *bad = true;
        } else {
            p->exclude[p->n_exclude++] = id;
        }
        raw += len;
        if (*raw == ',')
            raw++;
    }
    return 0;
}

int svc_rec_params_parse(const struct svc_ctx *ctx, const char *k,
                         const char *offset, const char *exclude_seen,
                         const char *const *raws, size_t n_raw,
                         struct svc_rec_params *p, json_t *errors)
{
    size_t max = (size_t)ctx->max_exclude;
    bool bad = false;
    int ret = 0;

    memset(p, 0, sizeof(*p));
    p->k = ctx->default_k;
    p->exclude_seen = true;

    if (svc_param_int(k, "k", 1, ctx->max_k, &p->k, errors) != 0)
        ret = SVC_EINVAL;
    if (svc_param_int(offset, "offset", 0, ctx->max_k - 1, &p->offset,
                      errors) != 0)
        ret = SVC_EINVAL;
    if (ret == 0 && p->k + p->offset > ctx->max_k) {
        svc_problem_error_addf(errors, "offset",
                               "k + offset must be at most %d, got %ld",
                               ctx->max_k, p->k + p->offset);
        ret = SVC_EINVAL;
    }
    if (svc_param_bool(exclude_seen, "exclude_seen", &p->exclude_seen,
                       errors) != 0)
        ret = SVC_EINVAL;

    p->exclude = calloc(max > 0 ? max : 1, sizeof(*p->exclude));
    if (p->exclude == NULL)
        return SVC_ENOMEM;
    for (size_t i = 0; i < n_raw; i++) {
        if (exclude_add(raws[i], max, p, errors, &bad) != 0)
            return SVC_ENOMEM;
    }
    return bad ? SVC_EINVAL : ret;
}

void svc_rec_params_clear(struct svc_rec_params *p)
{
    for (size_t i = 0; i < p->n_exclude; i++)
        free(p->exclude[i]);
    free(p->exclude);
    memset(p, 0, sizeof(*p));
}

/* ------------------------------------------------------------------ */
/* JSON bodies */

/* Append "/" and key escaped as RFC 6901 says ('~' -> "~0", '/' -> "~1")
 * to the pointer in buf. */
static void pointer_push(char *buf, size_t size, const char *key)
{
    size_t n = strlen(buf);

    if (n + 1 < size)
        buf[n++] = '/';
    for (; *key != '\0' && n + 2 < size; key++) {
        if (*key == '~' || *key == '/') {
            buf[n++] = '~';
            buf[n++] = *key == '~' ? '0' : '1';
        } else {
            buf[n++] = *key;
        }
    }
    buf[n] = '\0';
}

/* Check member key of obj as an id; required or optional. Returns the
 * number of errors added. */
static int check_id(const json_t *obj, const char *base, const char *key,
                    bool required, json_t *errors)
{
    const json_t *v = json_object_get(obj, key);
    char where[160];
    struct svc_error why;

    snprintf(where, sizeof(where), "%s", base);
    pointer_push(where, sizeof(where), key);

    if (v == NULL) {
        if (!required)
            return 0;
        svc_problem_error_add(errors, where, "is required");
        return 1;
    }
    if (!json_is_string(v)) {
        svc_problem_error_add(errors, where, "must be a string");
        return 1;
    }
    if (svc_id_check(json_string_value(v), json_string_length(v), &why)) {
        svc_problem_error_add(errors, where, why.text);
        return 1;
    }
    return 0;
}

static bool digits(const char *s, int n)
{
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM). */
static bool rfc3339_valid(const char *s)
{
    if (strlen(s) < 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) ||
        s[7] != '-' || !digits(s + 8, 2) || (s[10] != 'T' && s[10] != 't') ||
        !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) ||
        s[16] != ':' || !digits(s + 17, 2))
        return false;

    int month = atoi(s + 5), day = atoi(s + 8), hour = atoi(s + 11);
    int min = atoi(s + 14), sec = atoi(s + 17);
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
        min > 59 || sec > 60)
        return false;

    s += 19;
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s))
            return false;
        while (isdigit((unsigned char)*s))
            s++;
    }
    if ((*s == 'Z' || *s == 'z') && s[1] == '\0')
        return true;
    return (*s == '+' || *s == '-') && digits(s + 1, 2) && s[3] == ':' &&
           digits(s + 4, 2) && s[6] == '\0' && atoi(s + 1) <= 23 &&
           atoi(s + 4) <= 59;
}

static const char *const event_types[] = {"view", "click", "cart", "purchase",
                                          "rating"};
static const char *const event_members[] = {
    "user_id",   "item_id",  "type",      "value",
    "timestamp", "event_id", "session_id"};

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s, list[i]) == 0)
            return true;
    }
    return false;
}

/* Add an error at base/key. */
static int error_at(json_t *errors, const char *base, const char *key,
                    const char *detail)
{
    char where[160];

    snprintf(where, sizeof(where), "%s", base);
    pointer_push(where, sizeof(where), key);
    svc_problem_error_add(errors, where, detail);
    return 1;
}

static int check_type_value(const json_t *ev, const char *base, json_t *errors)
{
    const json_t *type = json_object_get(ev, "type");
    const json_t *value = json_object_get(ev, "value");
    bool rating = false;
    int n = 0;

    if (type == NULL)
        n += error_at(errors, base, "type", "is required");
    else if (!json_is_string(type) ||
             !in_list(json_string_value(type), event_types, 5))
        n += error_at(errors, base, "type",
                      "must be one of view, click, cart, purchase, rating");
    else
        rating = strcmp(json_string_value(type), "rating") == 0;

    if (value == NULL && rating)
        n += error_at(errors, base, "value", "is required for ratings");
    else if (value != NULL &&
             (!json_is_number(value) || !isfinite(json_number_value(value))))
        n += error_at(errors, base, "value", "must be a number");
    return n;
}

static int check_timestamp(const json_t *ev, const char *base, json_t *errors)
{
    const json_t *ts = json_object_get(ev, "timestamp");

    if (ts == NULL)
        return 0;
    if (json_is_integer(ts) && json_integer_value(ts) >= 0)
        return 0;
    if (json_is_string(ts) && rfc3339_valid(json_string_value(ts)))
        return 0;
    return error_at(errors, base, "timestamp",
                    "must be an RFC 3339 date-time or unix seconds >= 0");
}

static int check_event(const json_t *ev, size_t index, json_t *errors)
{
    char base[48];
    const char *key;
    const json_t *v;
    int n = 0;

    snprintf(base, sizeof(base), "/events/%zu", index);
    if (!json_is_object(ev)) {
        svc_problem_error_add(errors, base, "must be an object");
        return 1;
    }
    n += check_id(ev, base, "user_id", true, errors);
    n += check_id(ev, base, "item_id", true, errors);
    n += check_type_value(ev, base, errors);
    n += check_timestamp(ev, base, errors);
    n += check_id(ev, base, "event_id", false, errors);
    n += check_id(ev, base, "session_id", false, errors);

    json_object_foreach((json_t *)ev, key, v)
    {
        if (!in_list(key, event_members, 7))
            n += error_at(errors, base, key, "is not a known member");
    }
    return n;
}

int svc_events_validate(const json_t *body, int max_events, json_t *errors)
{
    const json_t *events = json_object_get(body, "events");
    const char *key;
    const json_t *v;
    size_t n_errors_before = json_array_size(errors);

    if (!json_is_object(body)) {
        svc_problem_error_add(errors, "", "must be a JSON object");
        return 1;
    }
    if (!json_is_array(events)) {
        svc_problem_error_add(errors, "/events",
                              events == NULL ? "is required"
                                             : "must be an array");
        return 1;
    }
    if (json_array_size(events) == 0 ||
        json_array_size(events) > (size_t)max_events) {
        svc_problem_error_addf(errors, "/events",
                               "must hold 1 to %d events, got %zu", max_events,
                               json_array_size(events));
        return 1;
    }
    for (size_t i = 0; i < json_array_size(events); i++)
        check_event(json_array_get(events, i), i, errors);
    json_object_foreach((json_t *)body, key, v)
    {
        if (strcmp(key, "events") != 0)
            error_at(errors, "", key, "is not a known member");
    }
    return (int)(json_array_size(errors) - n_errors_before);
}

static int check_categories(const json_t *cats, json_t *errors)
{
    char where[48];
    struct svc_error why;
    int n = 0;

    if (!json_is_array(cats) || json_array_size(cats) > 64) {
        svc_problem_error_add(errors, "/categories",
                              "must be an array of at most 64 ids");
        return 1;
    }
    for (size_t i = 0; i < json_array_size(cats); i++) {
        const json_t *c = json_array_get(cats, i);

        snprintf(where, sizeof(where), "/categories/%zu", i);
        if (!json_is_string(c)) {
            svc_problem_error_add(errors, where, "must be a string");
            n++;
        } else if (svc_id_check(json_string_value(c), json_string_length(c),
                                &why) != 0) {
            svc_problem_error_add(errors, where, why.text);
            n++;
        }
    }
    return n;
}

int svc_item_patch_validate(const json_t *body, bool *hidden_set, bool *hidden,
                            json_t *errors)
{
    const json_t *h = json_object_get(body, "hidden");
    const json_t *cats = json_object_get(body, "categories");
    const char *key;
    const json_t *v;
    int n = 0;

    *hidden_set = false;
    if (!json_is_object(body)) {
        svc_problem_error_add(errors, "", "must be a JSON object");
        return 1;
    }
    if (h == NULL && cats == NULL) {
        svc_problem_error_add(errors, "", "give 'hidden' and/or 'categories'");
        n++;
    }
    if (h != NULL && !json_is_boolean(h)) {
        svc_problem_error_add(errors, "/hidden", "must be true or false");
        n++;
    } else if (h != NULL) {
        *hidden_set = true;
        *hidden = json_is_true(h);
    }
    if (cats != NULL)
        n += check_categories(cats, errors);

    json_object_foreach((json_t *)body, key, v)
    {
        if (strcmp(key, "hidden") != 0 && strcmp(key, "categories") != 0)
            n += error_at(errors, "", key, "is not a known member");
    }
    return n;
}
