#include <criterion/criterion.h>
#include <string.h>

#include "gnn.h"

Test(err, every_code_has_a_distinct_text)
{
    const char *seen[16];
    int n = 0;

    for (int code = GNN_OK; code >= GNN_EEXIST; code--) {
        const char *text = gnn_strerror(code);
        cr_assert(text != NULL && text[0] != '\0', "code %d has no text", code);
        for (int i = 0; i < n; i++)
            cr_assert_str_neq(text, seen[i], "code %d repeats a text", code);
        seen[n++] = text;
    }
    cr_assert_str_eq(gnn_strerror(-999), "unknown error");
}

Test(err, set_fills_the_struct_and_returns_the_code)
{
    struct gnn_error err;

    int ret = gnn_error_set(&err, GNN_EFORMAT, "line %d: bad id '%s'", 7, "x");

    cr_assert_eq(ret, GNN_EFORMAT);
    cr_assert_eq(err.code, GNN_EFORMAT);
    cr_assert_str_eq(err.text, "line 7: bad id 'x'");
}

Test(err, set_and_clear_accept_null)
{
    cr_assert_eq(gnn_error_set(NULL, GNN_EIO, "ignored"), GNN_EIO);
    gnn_error_clear(NULL);
}

Test(err, long_texts_are_cut_not_overflowed)
{
    struct gnn_error err;
    char big[1000];

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    gnn_error_set(&err, GNN_EINVAL, "%s", big);

    cr_assert_eq(strlen(err.text), GNN_ERROR_TEXT - 1);
    gnn_error_clear(&err);
    cr_assert_eq(err.code, GNN_OK);
    cr_assert_str_empty(err.text);
}
