/*
 * libFuzzer harness for request-line parsing: the route matcher
 * (svc_route_match, percent-decoding and id checks of path parameters)
 * and the query parameters of the recommendation route
 * (svc_rec_params_parse, svc_param_int, svc_param_bool), plus the PATCH
 * item body validation.
 *
 * Input: one byte, then a request target "path?query". The byte's low two
 * bits pick the method; with bit 2 set, the rest is a PATCH body instead.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "route.h"

#define MAX_EXCLUDE 8

static const char *const methods[] = {"GET", "HEAD", "POST", "PATCH"};

static void check_match(const char *method, const char *path)
{
    struct svc_route_match m;
    int ret = svc_route_match(method, path, &m, NULL);

    if (ret == 0 || ret == SVC_EINVAL) {
        if (m.route == NULL || m.n_params > SVC_ROUTE_MAX_PARAMS)
            abort();
    }
    if (ret != 0)
        return;
    for (size_t i = 0; i < m.n_params; i++) {
        size_t n = strlen(m.params[i]);

        /* A matched parameter passed the id check: it must hold. */
        if (svc_id_check(m.params[i], n, NULL) != 0)
            abort();
    }
}

static void check_decode(const char *raw, size_t n)
{
    char *out = malloc(n + 1);
    long len;

    if (out == NULL)
        abort();
    len = svc_percent_decode(raw, n, out, true);
    if (len > (long)n || (len >= 0 && out[len] != '\0'))
        abort();
    if (len >= 0)
        (void)svc_utf8_valid(out, (size_t)len);
    free(out);
}

static void check_query(char *query)
{
    static const struct svc_ctx ctx = {
        .default_k = 10, .max_k = 100, .max_exclude = 4};
    const char *k = NULL, *offset = NULL, *seen = NULL;
    const char *excl[MAX_EXCLUDE];
    size_t n_excl = 0;
    struct svc_rec_params p;
    char *save = NULL;

    for (char *kv = strtok_r(query, "&", &save); kv != NULL;
         kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        const char *val = "";

        check_decode(kv, strlen(kv));
        if (eq != NULL) {
            *eq = '\0';
            val = eq + 1;
        }
        if (strcmp(kv, "k") == 0)
            k = val;
        else if (strcmp(kv, "offset") == 0)
            offset = val;
        else if (strcmp(kv, "exclude_seen") == 0)
            seen = val;
        else if (strcmp(kv, "exclude") == 0 && n_excl < MAX_EXCLUDE)
            excl[n_excl++] = val;

        long v = 0;
        bool b = false;
        json_t *errors = json_array();
        if (svc_param_int(val, "v", -5, 5, &v, errors) == 0 &&
            (v < -5 || v > 5))
            abort();
        svc_param_bool(val, "b", &b, errors);
        json_decref(errors);
    }

    json_t *errors = json_array();
    memset(&p, 0, sizeof(p));
    int ret =
        svc_rec_params_parse(&ctx, k, offset, seen, excl, n_excl, &p, errors);
    if (ret == 0) {
        if (p.k < 1 || p.offset < 0 || p.k + p.offset > ctx.max_k ||
            p.n_exclude > (size_t)ctx.max_exclude)
            abort();
        if (json_array_size(errors) != 0)
            abort();
    } else if (ret == SVC_EINVAL && json_array_size(errors) == 0) {
        abort();
    }
    svc_rec_params_clear(&p);
    json_decref(errors);
}

static void check_patch(const char *text, size_t n)
{
    json_t *body = json_loadb(text, n, JSON_REJECT_DUPLICATES, NULL);
    json_t *errors = json_array();
    bool set = false, hidden = false;

    if (body != NULL) {
        int bad = svc_item_patch_validate(body, &set, &hidden, errors);

        if (bad < 0 || (bad > 0) != (json_array_size(errors) > 0))
            abort();
        json_decref(body);
    }
    json_decref(errors);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 4096)
        return 0;

    char *text = malloc(size);
    if (text == NULL)
        abort();
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';

    if (data[0] & 4) {
        check_patch(text, size - 1);
    } else {
        char *q = strchr(text, '?');

        if (q != NULL)
            *q++ = '\0';
        check_match(methods[data[0] & 3], text);
        if (q != NULL)
            check_query(q);
    }
    free(text);
    return 0;
}
