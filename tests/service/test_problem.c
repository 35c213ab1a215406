#include <criterion/criterion.h>
#include <string.h>

#include "err.h"
#include "problem.h"

Test(problem, body_has_the_rfc9457_members)
{
    json_t *p = svc_problem_new(SVC_PROBLEM_INVALID_REQUEST, "k is bad",
                                "/v1/users/u/recommendations");

    cr_assert_not_null(p);
    cr_assert_str_eq(json_string_value(json_object_get(p, "type")),
                     "https://hoprec.dev/problems/invalid-request");
    cr_assert_str_eq(json_string_value(json_object_get(p, "title")),
                     "Invalid request");
    cr_assert_eq(json_integer_value(json_object_get(p, "status")), 400);
    cr_assert_str_eq(json_string_value(json_object_get(p, "detail")),
                     "k is bad");
    cr_assert_str_eq(json_string_value(json_object_get(p, "instance")),
                     "/v1/users/u/recommendations");
    json_decref(p);
}

Test(problem, every_type_has_a_distinct_slug_and_an_error_status)
{
    for (int i = 0; i < SVC_PROBLEM_COUNT; i++) {
        cr_assert_geq(svc_problem_status(i), 400);
        cr_assert_leq(svc_problem_status(i), 599);
        cr_assert_gt(strlen(svc_problem_title(i)), 0);
        for (int j = 0; j < i; j++)
            cr_assert_str_neq(svc_problem_slug(i), svc_problem_slug(j));
    }
    cr_assert_str_eq(svc_problem_slug(SVC_PROBLEM_COUNT), "internal");
}

Test(problem, optional_members_are_left_out)
{
    json_t *p = svc_problem_new(SVC_PROBLEM_NOT_FOUND, NULL, NULL);

    cr_assert_eq(json_object_size(p), 3);
    cr_assert_null(json_object_get(p, "detail"));
    json_decref(p);
}

Test(problem, errors_use_pointer_for_body_and_parameter_for_query)
{
    json_t *errors = json_array();

    cr_assert_eq(svc_problem_error_add(errors, "/events/3/type", "bad"), 0);
    cr_assert_eq(svc_problem_error_addf(errors, "k", "got %d", 0), 0);
    cr_assert_eq(svc_problem_error_add(errors, "", "not JSON"), 0);

    json_t *e0 = json_array_get(errors, 0), *e1 = json_array_get(errors, 1);
    cr_assert_str_eq(json_string_value(json_object_get(e0, "pointer")),
                     "/events/3/type");
    cr_assert_str_eq(json_string_value(json_object_get(e1, "parameter")), "k");
    cr_assert_str_eq(json_string_value(json_object_get(e1, "detail")), "got 0");
    cr_assert_str_eq(json_string_value(
                         json_object_get(json_array_get(errors, 2), "pointer")),
                     "");
    json_decref(errors);
}

Test(problem, non_utf8_detail_is_masked_not_dropped)
{
    json_t *p = svc_problem_new(SVC_PROBLEM_INVALID_REQUEST, "got '\xff\xfe'",
                                "/x\xc0");

    cr_assert_not_null(p);
    cr_assert_str_eq(json_string_value(json_object_get(p, "detail")),
                     "got '\?\?'");
    cr_assert_str_eq(json_string_value(json_object_get(p, "instance")), "/x?");
    json_decref(p);
}

Test(problem, lower_layer_codes_map_to_types)
{
    cr_assert_eq(svc_problem_from_code(SVC_EINVAL),
                 SVC_PROBLEM_INVALID_REQUEST);
    cr_assert_eq(svc_problem_from_code(SVC_EUNAUTHORIZED),
                 SVC_PROBLEM_UNAUTHORIZED);
    cr_assert_eq(svc_problem_from_code(SVC_EFORBIDDEN), SVC_PROBLEM_FORBIDDEN);
    cr_assert_eq(svc_problem_from_code(SVC_EUNAVAILABLE),
                 SVC_PROBLEM_MODEL_UNAVAILABLE);
    cr_assert_eq(svc_problem_from_code(SVC_EINTERNAL), SVC_PROBLEM_INTERNAL);
    /* the problem's status agrees with the code's status */
    int codes[] = {SVC_EINVAL,     SVC_ENOTFOUND, SVC_EUNAUTHORIZED,
                   SVC_EFORBIDDEN, SVC_ETOOLARGE, SVC_EUNAVAILABLE,
                   SVC_EINTERNAL};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        cr_assert_eq(svc_problem_status(svc_problem_from_code(codes[i])),
                     svc_error_http_status(codes[i]), "code %d", codes[i]);
}
