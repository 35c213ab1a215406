#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"

static struct svc_auth *auth_with(const char *read, const char *admin)
{
    struct svc_auth *a;

    cr_assert_eq(svc_auth_new(&a, NULL), 0);
    if (read != NULL)
        cr_assert_eq(svc_auth_add(a, SVC_ROLE_READ, read, NULL), 0);
    if (admin != NULL)
        cr_assert_eq(svc_auth_add(a, SVC_ROLE_ADMIN, admin, NULL), 0);
    return a;
}

Test(auth, open_mode_lets_read_and_ingest_through_but_not_admin)
{
    struct svc_auth *a = auth_with(NULL, NULL);

    cr_assert_eq(svc_auth_check(a, NULL, SVC_ROLE_READ, NULL), 0);
    cr_assert_eq(svc_auth_check(a, NULL, SVC_ROLE_INGEST, NULL), 0);
    cr_assert_eq(svc_auth_check(a, "Bearer anything", SVC_ROLE_ADMIN, NULL),
                 SVC_EFORBIDDEN);
    svc_auth_free(a);
}

Test(auth, keys_are_checked_by_role)
{
    struct svc_auth *a = auth_with("r3ad-key", "adm1n-key");

    cr_assert_eq(svc_auth_check(a, "Bearer r3ad-key", SVC_ROLE_READ, NULL), 0);
    cr_assert_eq(svc_auth_check(a, "bearer r3ad-key", SVC_ROLE_READ, NULL), 0);
    cr_assert_eq(svc_auth_check(a, "Bearer r3ad-key", SVC_ROLE_INGEST, NULL),
                 SVC_EFORBIDDEN);
    cr_assert_eq(svc_auth_check(a, "Bearer r3ad-key", SVC_ROLE_ADMIN, NULL),
                 SVC_EFORBIDDEN);
    cr_assert_eq(svc_auth_check(a, "Bearer adm1n-key", SVC_ROLE_ADMIN, NULL),
                 0);
    cr_assert_eq(svc_auth_check(a, "Bearer adm1n-key", SVC_ROLE_READ, NULL), 0,
                 "admin passes every route");
    cr_assert_eq(svc_auth_check(a, NULL, SVC_ROLE_PUBLIC, NULL), 0);
    svc_auth_free(a);
}

Test(auth, missing_malformed_and_unknown_keys_are_unauthorized)
{
    struct svc_auth *a = auth_with("r3ad-key", NULL);
    struct svc_error err;

    cr_assert_eq(svc_auth_check(a, NULL, SVC_ROLE_READ, &err),
                 SVC_EUNAUTHORIZED);
    cr_assert_eq(svc_auth_check(a, "Basic cjNhZC1rZXk=", SVC_ROLE_READ, NULL),
                 SVC_EUNAUTHORIZED);
    cr_assert_eq(svc_auth_check(a, "Bearer r3ad-ke", SVC_ROLE_READ, NULL),
                 SVC_EUNAUTHORIZED);
    cr_assert_eq(svc_auth_check(a, "Bearer r3ad-key2", SVC_ROLE_READ, &err),
                 SVC_EUNAUTHORIZED);
    cr_assert_null(strstr(err.text, "r3ad"), "the key is never echoed");
    cr_assert_eq(svc_auth_check(a, "Bearer ", SVC_ROLE_READ, NULL),
                 SVC_EUNAUTHORIZED);
    svc_auth_free(a);
}

Test(auth, admin_routes_stay_closed_with_only_read_keys)
{
    struct svc_auth *a = auth_with("r3ad-key", NULL);

    cr_assert_eq(svc_auth_check(a, "Bearer r3ad-key", SVC_ROLE_ADMIN, NULL),
                 SVC_EFORBIDDEN);
    svc_auth_free(a);
}

static char *write_file(const char *text)
{
    static char path[] = "/tmp/hoprec-test-auth-XXXXXX";
    int fd = mkstemp(path);

    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

Test(auth, key_file_lines_give_roles)
{
    struct svc_auth *a;
    char *path = write_file("# keys\n\nread  k-read-1\ningest k-ing\n"
                            "admin\tk-adm  \nread k-read-2\n");

    cr_assert_eq(svc_auth_new(&a, NULL), 0);
    cr_assert_eq(svc_auth_load_file(a, path, NULL), 0);
    cr_assert_eq(svc_auth_count(a, SVC_ROLE_READ), 2);
    cr_assert_eq(svc_auth_count(a, SVC_ROLE_INGEST), 1);
    cr_assert_eq(svc_auth_count(a, SVC_ROLE_ADMIN), 1);
    cr_assert_eq(svc_auth_check(a, "Bearer k-adm", SVC_ROLE_ADMIN, NULL), 0);
    cr_assert_eq(svc_auth_check(a, "Bearer k-read-2", SVC_ROLE_READ, NULL), 0);
    svc_auth_free(a);
    unlink(path);
}

Test(auth, bad_key_file_names_the_line_not_the_key)
{
    struct svc_auth *a;
    struct svc_error err;
    char *path = write_file("read ok-key\nroot s3cret-key\n");

    cr_assert_eq(svc_auth_new(&a, NULL), 0);
    cr_assert_eq(svc_auth_load_file(a, path, &err), SVC_EINVAL);
    cr_assert(strstr(err.text, ":2:") != NULL, "%s", err.text);
    cr_assert_null(strstr(err.text, "s3cret"));
    svc_auth_free(a);
    unlink(path);

    cr_assert_eq(svc_auth_new(&a, NULL), 0);
    cr_assert_eq(svc_auth_load_file(a, "/nonexistent/keys", &err), SVC_EIO);
    svc_auth_free(a);
}

Test(auth, key_lists_split_at_commas)
{
    struct svc_auth *a;

    cr_assert_eq(svc_auth_new(&a, NULL), 0);
    cr_assert_eq(svc_auth_load_list(a, SVC_ROLE_INGEST, "a1,,b2,", NULL), 0);
    cr_assert_eq(svc_auth_count(a, SVC_ROLE_INGEST), 2);
    cr_assert_eq(svc_auth_load_list(a, SVC_ROLE_READ, "has space", NULL),
                 SVC_EINVAL);
    cr_assert_eq(svc_auth_add(a, SVC_ROLE_PUBLIC, "x", NULL), SVC_EINVAL);
    svc_auth_free(a);
    svc_auth_free(NULL);
}
