/*
 * API keys and their roles.
 *
 * A request carries `Authorization: Bearer <key>`. Each configured key
 * has one role; a route asks for one role, and a key passes when its role
 * is that role or admin (admin may do everything). Keys are compared in
 * constant time against every configured key and are never logged.
 *
 * Open mode: with no key configured at all, the read and ingest routes
 * take requests without a key (a trusted network, a demo). Admin routes
 * are never open: without an admin key they answer 403 to everyone.
 */
#ifndef SVC_AUTH_H
#define SVC_AUTH_H

#include <stddef.h>

#include "err.h"

enum svc_role {
    SVC_ROLE_PUBLIC, /* routes only: no key needed, ever */
    SVC_ROLE_READ,   /* recommendations, related items, model info */
    SVC_ROLE_INGEST, /* events and item metadata */
    SVC_ROLE_ADMIN,  /* retraining; also passes every other route */
};

#define SVC_AUTH_KEY_MAX 512 /* bytes of one key */

struct svc_auth;

/* "read", "ingest" or "admin"; "public" for SVC_ROLE_PUBLIC. */
const char *svc_role_name(enum svc_role role);

/* An empty key set (open mode); free with svc_auth_free. */
int svc_auth_new(struct svc_auth **out, struct svc_error *err);

/* Free a key set, wiping the keys first; a NULL a is a no-op. */
void svc_auth_free(struct svc_auth *a);

/*
 * Add a key (1 to SVC_AUTH_KEY_MAX printable ASCII bytes, no spaces) with
 * a role other than SVC_ROLE_PUBLIC. SVC_EINVAL on a bad key, SVC_ENOMEM.
 */
int svc_auth_add(struct svc_auth *a, enum svc_role role, const char *key,
                 struct svc_error *err);

/*
 * Add the keys of a file: one `ROLE KEY` per line, ROLE one of read,
 * ingest, admin; blank lines and lines starting with '#' are skipped.
 * SVC_EIO when the file cannot be read, SVC_EINVAL naming the line (never
 * the key) when a line is malformed.
 */
int svc_auth_load_file(struct svc_auth *a, const char *path,
                       struct svc_error *err);

/*
 * Add the keys of a comma-separated list (the value of an environment
 * variable such as HOPREC_API_KEYS_READ), all with one role. Empty
 * entries are skipped. Errors as for svc_auth_add.
 */
int svc_auth_load_list(struct svc_auth *a, enum svc_role role, const char *list,
                       struct svc_error *err);

/* How many keys of a role are configured. */
size_t svc_auth_count(const struct svc_auth *a, enum svc_role role);

/*
 * Decide whether a request with this Authorization header (NULL when
 * absent) may use a route that needs role. Returns 0 when it may;
 * SVC_EUNAUTHORIZED when a key is needed and is missing, malformed or
 * unknown; SVC_EFORBIDDEN when the key is known but its role does not
 * allow the route, or when the route is admin and no admin key exists.
 */
int svc_auth_check(const struct svc_auth *a, const char *authorization,
                   enum svc_role role, struct svc_error *err);

#endif
