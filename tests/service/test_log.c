#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "log.h"

Test(log, levels_and_formats_parse)
{
    cr_assert_eq(svc_log_level_parse("debug"), SVC_LOG_DEBUG);
    cr_assert_eq(svc_log_level_parse("warn"), SVC_LOG_WARN);
    cr_assert_eq(svc_log_level_parse("loud"), -1);
    cr_assert_eq(svc_log_format_parse("json"), SVC_LOG_JSON);
    cr_assert_eq(svc_log_format_parse("xml"), -1);
}

Test(log, quote_escapes_quotes_and_control_bytes)
{
    char buf[64];

    cr_assert_str_eq(svc_log_quote(buf, sizeof(buf), "a \"b\"\n"),
                     "\"a \\\"b\\\"\\x0a\"");
}

Test(log, records_below_the_level_are_dropped, .init = cr_redirect_stderr)
{
    svc_log_setup(SVC_LOG_WARN, SVC_LOG_TEXT);

    svc_log_info("not written", NULL);
    svc_log_warn("disk nearly full", "free_bytes=%d", 10);

    fflush(stderr);
    char *out = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&out, &size);
    cr_assert_not_null(f);
    char line[512];
    FILE *err = cr_get_redirected_stderr();
    while (fgets(line, sizeof(line), err) != NULL)
        fputs(line, f);
    fclose(f);

    cr_assert_null(strstr(out, "not written"));
    cr_assert_not_null(strstr(out, "level=warn"));
    cr_assert_not_null(strstr(out, "msg=\"disk nearly full\" free_bytes=10"));
    free(out);
}

Test(log, json_lines_carry_fields_as_members, .init = cr_redirect_stderr)
{
    char q[64];

    svc_log_setup(SVC_LOG_DEBUG, SVC_LOG_JSON);
    svc_log_info("request", "path=%s status=%d",
                 svc_log_quote(q, sizeof(q), "/v1/a b"), 200);

    fflush(stderr);
    char line[1024] = "";
    cr_assert_not_null(fgets(line, sizeof(line), cr_get_redirected_stderr()));
    cr_assert_not_null(strstr(line, "\"level\":\"info\""));
    cr_assert_not_null(strstr(line, "\"msg\":\"request\""));
    cr_assert_not_null(strstr(line, "\"path\":\"/v1/a b\""));
    cr_assert_not_null(strstr(line, "\"status\":\"200\"}"));
}
