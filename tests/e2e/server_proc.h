/*
 * Start and stop the real `hoprec serve` binary (path in HOPREC_BIN) on a
 * free loopback port, and check answers against openapi.json.
 */
#ifndef HOPREC_TEST_SERVER_PROC_H
#define HOPREC_TEST_SERVER_PROC_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "http_client.h"

struct server_proc {
    pid_t pid;
    int port;
    char log_path[64]; /* its stderr */
};

/*
 * Run `hoprec serve --listen 127.0.0.1:0 ARGS...` (args ends with NULL)
 * with the extra environment entries env ("NAME=value", NULL-ended; may
 * be NULL), and wait until it logs its port. Returns 0, or -1 when it
 * exited or did not start within 10 s (200 s under HOPREC_SERVE_WRAPPER,
 * see server_proc.c).
 */
int server_start(struct server_proc *s, const char *const *args,
                 const char *const *env);

/* Send SIGTERM and wait for the exit; returns the exit status, or -1 when
 * it was killed by a signal or did not stop within timeout_s (twenty
 * times that under HOPREC_SERVE_WRAPPER). A non-zero exit keeps the
 * server's log and prints its path. */
int server_stop(struct server_proc *s, double timeout_s);

/* Run `hoprec serve ARGS...` expecting it to exit by itself; returns the
 * exit status and copies its stdout and stderr into err (size bytes). */
int serve_expect_exit(const char *const *args, char *err, size_t size);

/* openapi.json from the source tree (HOPREC_SOURCE_ROOT); borrowed. */
json_t *spec_get(void);

/*
 * Check a response against the operation `method path` of the spec: the
 * status is listed, the content type is one the spec gives for it, and a
 * JSON body validates against the schema (types, required members, enums,
 * patterns of the subset the spec uses). On failure returns false with
 * the reason in why.
 */
bool spec_check(const char *method, const char *path_template,
                const struct http_resp *r, char *why, size_t size);

#endif
