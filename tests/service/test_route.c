#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "route.h"

static int match(const char *method, const char *path,
                 struct svc_route_match *m)
{
    return svc_route_match(method, path, m, NULL);
}

Test(route, every_route_matches_its_own_template)
{
    struct svc_route_match m;

    for (size_t i = 0; i < SVC_ROUTE_COUNT; i++) {
        char path[128];
        const char *t = svc_routes[i].path;
        size_t n = 0;

        /* Put "x" in place of each {param}. */
        for (; *t != '\0'; t++) {
            if (*t == '{') {
                path[n++] = 'x';
                t = strchr(t, '}');
            } else {
                path[n++] = *t;
            }
        }
        path[n] = '\0';
        cr_assert_eq(match(svc_routes[i].method, path, &m), 0, "%s", path);
        cr_assert_eq(m.route, &svc_routes[i], "%s", path);
        cr_assert_eq(svc_routes[i].id, (enum svc_route_id)i);
    }
}

Test(route, path_parameters_are_percent_decoded_after_splitting)
{
    struct svc_route_match m;

    cr_assert_eq(match("GET", "/v1/users/a%2Fb%20c/recommendations", &m), 0);
    cr_assert_eq(m.route->id, SVC_ROUTE_RECOMMEND);
    cr_assert_eq(m.n_params, 1);
    cr_assert_str_eq(m.params[0], "a/b c");

    cr_assert_eq(match("PATCH", "/v1/items/%C3%A9t%C3%A9", &m), 0);
    cr_assert_str_eq(m.params[0], "\xc3\xa9t\xc3\xa9");
}

Test(route, unknown_paths_are_not_found_without_allow)
{
    struct svc_route_match m;
    const char *paths[] = {"/",
                           "/v1",
                           "/v1/users//recommendations",
                           "/v1/users/u1/recommendations/",
                           "/v1/model/",
                           "/v1/items/a/b/related",
                           "/metricsx",
                           ""};

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        cr_assert_eq(match("GET", paths[i], &m), SVC_ENOTFOUND, "%s", paths[i]);
        cr_assert_str_eq(m.allow, "", "%s", paths[i]);
        cr_assert_null(m.route);
    }
}

Test(route, wrong_method_lists_the_allowed_ones)
{
    struct svc_route_match m;

    cr_assert_eq(match("DELETE", "/v1/model", &m), SVC_ENOTFOUND);
    cr_assert_str_eq(m.allow, "GET, HEAD");

    cr_assert_eq(match("GET", "/v1/items/i1", &m), SVC_ENOTFOUND);
    cr_assert_str_eq(m.allow, "PATCH");

    cr_assert_eq(match("GET", "/v1/events", &m), SVC_ENOTFOUND);
    cr_assert_str_eq(m.allow, "POST");
}

Test(route, head_matches_get_routes)
{
    struct svc_route_match m;

    cr_assert_eq(match("HEAD", "/livez", &m), 0);
    cr_assert_eq(m.route->id, SVC_ROUTE_LIVEZ);
    cr_assert_eq(match("HEAD", "/v1/events", &m), SVC_ENOTFOUND);
}

Test(route, bad_ids_are_invalid_and_named)
{
    struct svc_route_match m;
    struct svc_error err;
    char long_id[600];
    char path[700];

    cr_assert_eq(
        svc_route_match("GET", "/v1/users/%zz/recommendations", &m, &err),
        SVC_EINVAL);
    cr_assert_str_eq(m.bad_param, "user_id");
    cr_assert(strstr(err.text, "percent") != NULL, "%s", err.text);

    cr_assert_eq(match("GET", "/v1/items/%00/related", &m), SVC_EINVAL);
    cr_assert_str_eq(m.bad_param, "item_id");
    cr_assert_eq(match("GET", "/v1/items/%FF/related", &m), SVC_EINVAL);
    cr_assert_eq(match("GET", "/v1/items/a%0Ab/related", &m), SVC_EINVAL);

    memset(long_id, 'a', 257);
    long_id[257] = '\0';
    snprintf(path, sizeof(path), "/v1/items/%s", long_id);
    cr_assert_eq(match("PATCH", path, &m), SVC_EINVAL);
    long_id[256] = '\0';
    snprintf(path, sizeof(path), "/v1/items/%s", long_id);
    cr_assert_eq(match("PATCH", path, &m), 0);
    cr_assert_eq(strlen(m.params[0]), 256);
}

Test(route, percent_decode_handles_plus_and_bad_escapes)
{
    char out[32];

    cr_assert_eq(svc_percent_decode("a+b%2C", 6, out, true), 4);
    cr_assert_str_eq(out, "a b,");
    cr_assert_eq(svc_percent_decode("a+b", 3, out, false), 3);
    cr_assert_str_eq(out, "a+b");
    cr_assert_eq(svc_percent_decode("%4", 2, out, false), -1);
    cr_assert_eq(svc_percent_decode("%g1", 3, out, false), -1);
    cr_assert_eq(svc_percent_decode("%00", 3, out, false), -1);
    cr_assert_eq(svc_percent_decode("%41%62", 6, out, false), 2);
    cr_assert_str_eq(out, "Ab");
}

Test(route, utf8_validation_rejects_malformed_sequences)
{
    cr_assert(svc_utf8_valid("plain", 5));
    cr_assert(svc_utf8_valid("\xe2\x82\xac", 3));         /* euro sign */
    cr_assert(svc_utf8_valid("\xf0\x9f\x98\x80", 4));     /* emoji */
    cr_assert_not(svc_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    cr_assert_not(svc_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    cr_assert_not(svc_utf8_valid("\xe2\x82", 2));         /* cut short */
    cr_assert_not(svc_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    cr_assert_not(svc_utf8_valid("\x80", 1));
}
