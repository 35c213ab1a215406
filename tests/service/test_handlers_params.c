#include <criterion/criterion.h>
#include <string.h>

#include "handlers.h"

static struct svc_ctx ctx = {
    .default_k = 10, .max_k = 100, .max_exclude = 3, .max_events = 4};

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

/* Validate body; expect the given JSON pointers, in order. */
static void expect_event_errors(const char *body, const char *const *ptrs,
                                size_t n)
{
    json_t *v = parse(body), *errors = json_array();
    int found = svc_events_validate(v, ctx.max_events, errors);

    cr_assert_eq((size_t)found, n, "%s: %s", body,
                 json_dumps(errors, JSON_COMPACT));
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(json_string_value(json_object_get(
                             json_array_get(errors, i), "pointer")),
                         ptrs[i]);
    json_decref(v);
    json_decref(errors);
}

Test(handlers_params, valid_event_batches_pass)
{
    expect_event_errors(
        "{\"events\": [{\"user_id\": \"u1\", \"item_id\": \"i1\", "
        "\"type\": \"view\"}, {\"user_id\": \"u1\", \"item_id\": \"i2\", "
        "\"type\": \"rating\", \"value\": 4.5, \"timestamp\": "
        "\"2026-12-03T10:00:00.5+01:00\", \"event_id\": \"e-2\", "
        "\"session_id\": \"s\"}, {\"user_id\": \"u2\", \"item_id\": \"i1\", "
        "\"type\": \"purchase\", \"timestamp\": 1764756000}]}",
        NULL, 0);
}

Test(handlers_params, bad_events_get_one_pointer_each)
{
    const char *ptrs[] = {"/events/0/item_id", "/events/1/value",
                          "/events/2/type", "/events/2/timestamp",
                          "/events/3/col~1or"};

    expect_event_errors(
        "{\"events\": [{\"user_id\": \"u1\", \"type\": \"view\"}, "
        "{\"user_id\": \"u1\", \"item_id\": \"i\", \"type\": \"rating\"}, "
        "{\"user_id\": \"u\", \"item_id\": \"i\", \"type\": \"like\", "
        "\"timestamp\": \"yesterday\"}, {\"user_id\": \"u\", \"item_id\": "
        "\"i\", \"type\": \"cart\", \"col/or\": 1}]}",
        ptrs, 5);
}

Test(handlers_params, batch_shape_is_checked)
{
    const char *events[] = {"/events"};
    const char *root[] = {""};
    const char *id[] = {"/events/0/user_id"};

    expect_event_errors("{\"events\": []}", events, 1);
    expect_event_errors("{\"events\": {}}", events, 1);
    expect_event_errors("{}", events, 1);
    expect_event_errors("[1]", root, 1);
    expect_event_errors("{\"events\": [{}, {}, {}, {}, {}]}", events, 1);
    expect_event_errors("{\"events\": [{\"user_id\": \"\", \"item_id\": "
                        "\"i\", \"type\": \"view\"}]}",
                        id, 1);
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
