/*
 * Parsing and validation of query parameters and JSON bodies. Nothing
 * here does I/O, so each rule is unit-tested on its own.
 */
#include "handlers.h"

#include <ctype.h>
#include <errno.h>
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
