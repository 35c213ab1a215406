#include <criterion/criterion.h>
#include <string.h>

#include "handlers.h"

static struct svc_ctx ctx = {.default_k = 10, .max_k = 100, .max_exclude = 3};

static const char *first_where(json_t *errors)
{
    json_t *e = json_array_get(errors, 0);
    json_t *w = json_object_get(e, "parameter");

    return json_string_value(w ? w : json_object_get(e, "pointer"));
}

Test(handlers_params, defaults_apply_when_parameters_are_absent)
{
    struct svc_rec_params p;
    json_t *errors = json_array();

    cr_assert_eq(
        svc_rec_params_parse(&ctx, NULL, NULL, NULL, NULL, 0, &p, errors), 0);
    cr_assert_eq(p.k, 10);
    cr_assert_eq(p.offset, 0);
    cr_assert(p.exclude_seen);
    cr_assert_eq(p.n_exclude, 0);
    cr_assert_eq(json_array_size(errors), 0);
    svc_rec_params_clear(&p);
    json_decref(errors);
}

Test(handlers_params, k_and_offset_are_bounded)
{
    const char *bad_k[] = {"0",   "101",   "-1", "",
                           "1e2", "12abc", " 5", "99999999999999999999"};
    struct svc_rec_params p;

    for (size_t i = 0; i < sizeof(bad_k) / sizeof(bad_k[0]); i++) {
        json_t *errors = json_array();
        cr_assert_eq(svc_rec_params_parse(&ctx, bad_k[i], NULL, NULL, NULL, 0,
                                          &p, errors),
                     SVC_EINVAL, "k=%s", bad_k[i]);
        cr_assert_str_eq(first_where(errors), "k");
        svc_rec_params_clear(&p);
        json_decref(errors);
    }

    json_t *errors = json_array();
    cr_assert_eq(
        svc_rec_params_parse(&ctx, "100", "0", NULL, NULL, 0, &p, errors), 0);
    cr_assert_eq(p.k, 100);
    svc_rec_params_clear(&p);
    cr_assert_eq(
        svc_rec_params_parse(&ctx, "50", "51", NULL, NULL, 0, &p, errors),
        SVC_EINVAL, "k + offset over max_k");
    cr_assert_str_eq(first_where(errors), "offset");
    svc_rec_params_clear(&p);
    json_decref(errors);
}

Test(handlers_params, every_bad_parameter_is_reported)
{
    struct svc_rec_params p;
    json_t *errors = json_array();

    cr_assert_eq(
        svc_rec_params_parse(&ctx, "x", "-3", "maybe", NULL, 0, &p, errors),
        SVC_EINVAL);
    cr_assert_eq(json_array_size(errors), 3);
    svc_rec_params_clear(&p);
    json_decref(errors);
}

Test(handlers_params, bools_accept_true_false_one_zero)
{
    bool b = false;

    cr_assert_eq(svc_param_bool("TRUE", "b", &b, NULL), 0);
    cr_assert(b);
    cr_assert_eq(svc_param_bool("0", "b", &b, NULL), 0);
    cr_assert_not(b);
    cr_assert_eq(svc_param_bool("1", "b", &b, NULL), 0);
    cr_assert(b);
    cr_assert_eq(svc_param_bool("false", "b", &b, NULL), 0);
    cr_assert_not(b);

    json_t *errors = json_array();
    cr_assert_eq(svc_param_bool("yes", "b", &b, errors), SVC_EINVAL);
    cr_assert_eq(json_array_size(errors), 1);
    json_decref(errors);
}

Test(handlers_params, exclude_lists_split_decode_and_repeat)
{
    const char *raws[] = {"a%2Cb,c+d", ",e,"};
    struct svc_rec_params p;
    json_t *errors = json_array();

    cr_assert_eq(
        svc_rec_params_parse(&ctx, NULL, NULL, "false", raws, 2, &p, errors),
        0);
    cr_assert_eq(p.n_exclude, 3);
    cr_assert_str_eq(p.exclude[0], "a,b");
    cr_assert_str_eq(p.exclude[1], "c d");
    cr_assert_str_eq(p.exclude[2], "e");
    cr_assert_not(p.exclude_seen);
    svc_rec_params_clear(&p);
    json_decref(errors);
}

Test(handlers_params, exclude_lists_are_limited_and_checked)
{
    const char *too_many[] = {"a,b,c,d"};
    const char *bad[] = {"ok,%ZZ"};
    struct svc_rec_params p;
    json_t *errors = json_array();

    cr_assert_eq(
        svc_rec_params_parse(&ctx, NULL, NULL, NULL, too_many, 1, &p, errors),
        SVC_EINVAL);
    cr_assert_str_eq(first_where(errors), "exclude");
    svc_rec_params_clear(&p);
    json_array_clear(errors);

    cr_assert_eq(
        svc_rec_params_parse(&ctx, NULL, NULL, NULL, bad, 1, &p, errors),
        SVC_EINVAL);
    cr_assert_eq(json_array_size(errors), 1);
    svc_rec_params_clear(&p);
    json_decref(errors);
}

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, 0, &jerr);

    cr_assert_not_null(v, "%s: %s", text, jerr.text);
    return v;
}

Test(handlers_params, item_patches_take_hidden_and_categories)
{
    json_t *errors = json_array();
    bool set, hidden;
    json_t *ok = parse("{\"hidden\": true, \"categories\": [\"phones\"]}");
    json_t *bad = parse("{\"hidden\": \"yes\", \"categories\": [1], "
                        "\"price\": 3}");
    json_t *empty = parse("{}");

    cr_assert_eq(svc_item_patch_validate(ok, &set, &hidden, errors), 0);
    cr_assert(set);
    cr_assert(hidden);
    cr_assert_eq(svc_item_patch_validate(bad, &set, &hidden, errors), 3);
    cr_assert_eq(svc_item_patch_validate(empty, &set, &hidden, errors), 1);
    cr_assert_not(set);
    json_decref(ok);
    json_decref(bad);
    json_decref(empty);
    json_decref(errors);
}
