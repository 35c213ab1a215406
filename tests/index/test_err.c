#include <criterion/criterion.h>

#include "idx_err.h"

Test(err, every_code_has_a_text)
{
    for (int code = IDX_OK; code >= IDX_ERANGE; code--) {
        const char *text = idx_strerror(code);
        cr_assert(text != NULL && text[0] != '\0', "code %d has no text", code);
    }
    cr_assert_str_eq(idx_strerror(42), "unknown error");
}

Test(err, set_fills_the_struct)
{
    struct idx_error err;

    cr_assert_eq(idx_error_set(&err, IDX_EFAISS, "k=%d", 3), IDX_EFAISS);
    cr_assert_str_eq(err.text, "k=3");
    cr_assert_eq(idx_error_set(NULL, IDX_EIO, "x"), IDX_EIO);
}
