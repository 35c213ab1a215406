#include "auth.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct key {
    enum svc_role role;
    size_t len;
    char *bytes;
};

struct svc_auth {
    struct key *keys;
    size_t n, cap;
};

static const char *const role_names[] = {"public", "read", "ingest", "admin"};

const char *svc_role_name(enum svc_role role)
{
    return (unsigned)role <= SVC_ROLE_ADMIN ? role_names[role] : "unknown";
}

static int role_parse(const char *name, enum svc_role *out)
{
    for (int r = SVC_ROLE_READ; r <= SVC_ROLE_ADMIN; r++) {
        if (strcmp(name, role_names[r]) == 0) {
            *out = (enum svc_role)r;
            return 0;
        }
    }
    return -1;
}

int svc_auth_new(struct svc_auth **out, struct svc_error *err)
{
    *out = calloc(1, sizeof(**out));
    if (*out == NULL)
        return svc_error_set(err, SVC_ENOMEM, "out of memory");
    return 0;
}

/* A memset the compiler may not drop: the key bytes are secrets. */
static void wipe(char *p, size_t n)
{
    volatile char *v = p;
    while (n-- > 0)
        *v++ = 0;
}

void svc_auth_free(struct svc_auth *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->n; i++) {
        wipe(a->keys[i].bytes, a->keys[i].len);
        free(a->keys[i].bytes);
    }
    free(a->keys);
    free(a);
}

static int key_check(const char *key, size_t len, struct svc_error *err)
{
    if (len == 0 || len > SVC_AUTH_KEY_MAX)
        return svc_error_set(err, SVC_EINVAL,
                             "a key must be 1 to %d bytes long",
                             SVC_AUTH_KEY_MAX);
    for (size_t i = 0; i < len; i++) {
        if (!isgraph((unsigned char)key[i]))
            return svc_error_set(err, SVC_EINVAL,
                                 "a key must be printable ASCII without "
                                 "spaces");
    }
    return 0;
}

static int add_n(struct svc_auth *a, enum svc_role role, const char *key,
                 size_t len, struct svc_error *err)
{
    int ret = key_check(key, len, err);

    if (ret != 0)
        return ret;
    if (role == SVC_ROLE_PUBLIC || role > SVC_ROLE_ADMIN)
        return svc_error_set(err, SVC_EINVAL, "a key needs a role");

    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 8;
        struct key *keys = realloc(a->keys, cap * sizeof(*keys));
        if (keys == NULL)
            return svc_error_set(err, SVC_ENOMEM, "out of memory");
        a->keys = keys;
        a->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return svc_error_set(err, SVC_ENOMEM, "out of memory");
    memcpy(copy, key, len);
    copy[len] = '\0';
    a->keys[a->n++] = (struct key){role, len, copy};
    return 0;
}

int svc_auth_add(struct svc_auth *a, enum svc_role role, const char *key,
                 struct svc_error *err)
{
    return add_n(a, role, key, strlen(key), err);
}

int svc_auth_load_file(struct svc_auth *a, const char *path,
                       struct svc_error *err)
{
    FILE *f = fopen(path, "r");
    char line[SVC_AUTH_KEY_MAX + 64];
    int lineno = 0, ret = 0;

    if (f == NULL)
        return svc_error_set(err, SVC_EIO, "cannot read key file '%s': %s",
                             path, strerror(errno));

    while (ret == 0 && fgets(line, sizeof(line), f) != NULL) {
        char role_name[16], *key, *end;
        enum svc_role role;
        struct svc_error why;

        lineno++;
        end = line + strlen(line);
        while (end > line && isspace((unsigned char)end[-1]))
            *--end = '\0';
        key = line;
        while (isspace((unsigned char)*key))
            key++;
        if (*key == '\0' || *key == '#')
            continue;

        size_t rl = strcspn(key, " \t");
        if (rl >= sizeof(role_name) || key[rl] == '\0') {
            ret = svc_error_set(err, SVC_EINVAL, "%s:%d: expected 'ROLE KEY'",
                                path, lineno);
            break;
        }
        memcpy(role_name, key, rl);
        role_name[rl] = '\0';
        key += rl;
        while (isspace((unsigned char)*key))
            key++;

        if (role_parse(role_name, &role) != 0)
            ret = svc_error_set(err, SVC_EINVAL,
                                "%s:%d: unknown role '%s' (read, ingest or "
                                "admin)",
                                path, lineno, role_name);
        else if (add_n(a, role, key, strlen(key), &why) != 0)
            ret = svc_error_set(err, why.code, "%s:%d: %s", path, lineno,
                                why.text);
    }
    wipe(line, sizeof(line));
    fclose(f);
    return ret;
}

int svc_auth_load_list(struct svc_auth *a, enum svc_role role, const char *list,
                       struct svc_error *err)
{
    const char *p = list;

    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        int ret = len > 0 ? add_n(a, role, p, len, err) : 0;

        if (ret != 0)
            return ret;
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

size_t svc_auth_count(const struct svc_auth *a, enum svc_role role)
{
    size_t n = 0;

    for (size_t i = 0; i < a->n; i++)
        n += a->keys[i].role == role;
    return n;
}

/*
 * Compare a candidate with a key in time that depends only on the key's
 * length, never on where the bytes first differ nor on the candidate.
 */
static bool key_equal(const struct key *k, const char *cand, size_t len)
{
    unsigned char diff = len != k->len;

    for (size_t i = 0; i < k->len; i++) {
        unsigned char c = i < len ? (unsigned char)cand[i] : 0;
        diff |= c ^ (unsigned char)k->bytes[i];
    }
    return diff == 0;
}

/* The role of a candidate key, or SVC_ROLE_PUBLIC when none matches. All
 * keys are compared, so the time does not tell which one matched. */
static enum svc_role lookup(const struct svc_auth *a, const char *cand,
                            size_t len)
{
    enum svc_role found = SVC_ROLE_PUBLIC;

    if (len > SVC_AUTH_KEY_MAX)
        return SVC_ROLE_PUBLIC;
    for (size_t i = 0; i < a->n; i++) {
        bool eq = key_equal(&a->keys[i], cand, len);
        found = eq ? a->keys[i].role : found;
    }
    return found;
}

int svc_auth_check(const struct svc_auth *a, const char *authorization,
                   enum svc_role role, struct svc_error *err)
{
    if (role == SVC_ROLE_PUBLIC)
        return 0;
    if (role == SVC_ROLE_ADMIN && svc_auth_count(a, SVC_ROLE_ADMIN) == 0)
        return svc_error_set(err, SVC_EFORBIDDEN,
                             "admin routes are closed: no admin key is "
                             "configured");
    if (a->n == 0)
        return 0; /* open mode for read and ingest */

    if (authorization == NULL)
        return svc_error_set(err, SVC_EUNAUTHORIZED,
                             "this route needs an API key: send "
                             "'Authorization: Bearer <key>'");
    if (strncasecmp(authorization, "Bearer ", 7) != 0)
        return svc_error_set(err, SVC_EUNAUTHORIZED,
                             "the Authorization header must use the Bearer "
                             "scheme");

    const char *cand = authorization + 7;
    while (*cand == ' ')
        cand++;
    enum svc_role have = lookup(a, cand, strlen(cand));

    if (have == SVC_ROLE_PUBLIC)
        return svc_error_set(err, SVC_EUNAUTHORIZED, "unknown API key");
    if (have != role && have != SVC_ROLE_ADMIN)
        return svc_error_set(err, SVC_EFORBIDDEN,
                             "a %s key cannot use this route; it needs a "
                             "%s key",
                             svc_role_name(have), svc_role_name(role));
    return 0;
}
