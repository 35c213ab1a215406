/*
 * HTTPS through libmicrohttpd's GnuTLS support, with a certificate made
 * by openssl for the test: the API answers over TLS, plain HTTP on the
 * same port gets nothing, and bad TLS settings stop the start with one
 * clear line.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "server_proc.h"

static char dir[] = "/tmp/hoprec-test-tls-XXXXXX";
static char cert[200], key[200];

static void setup(void)
{
    char cmd[1024];

    cr_assert_not_null(mkdtemp(dir));
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt "
             "ec_paramgen_curve:prime256v1 -nodes -days 1 -subj "
             "/CN=localhost -addext subjectAltName=IP:127.0.0.1 "
             "-keyout '%s' -out '%s' 2>/dev/null",
             key, cert);
    cr_assert_eq(system(cmd), 0, "openssl could not make a certificate");
}

static void teardown(void)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(tls, .init = setup, .fini = teardown, .timeout = 60);

/* curl's exit status for a request to url, its body into out. */
static int fetch(const char *url, const char *extra, char *out, size_t size)
{
    char cmd[1024];

    snprintf(cmd, sizeof(cmd), "curl -s -m 5 %s '%s'", extra, url);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';

    /* Read to the end, so that curl never writes into a closed pipe. */
    char rest[4096];
    while (fread(rest, 1, sizeof(rest), p) > 0)
        continue;
    return WEXITSTATUS(pclose(p));
}

Test(tls, the_api_answers_over_https_only)
{
    struct server_proc s;
    char url[128], ca[256], body[4096];

    cr_assert_eq(server_start(&s,
                              (const char *[]){"--tls-cert", cert, "--tls-key",
                                               key, NULL},
                              NULL),
                 0);

    snprintf(url, sizeof(url), "https://127.0.0.1:%d/livez", s.port);
    snprintf(ca, sizeof(ca), "--cacert '%s'", cert);
    cr_assert_eq(fetch(url, ca, body, sizeof(body)), 0);
    cr_assert_not_null(strstr(body, "\"status\""), "%s", body);

    snprintf(url, sizeof(url), "https://127.0.0.1:%d/openapi.json", s.port);
    cr_assert_eq(fetch(url, ca, body, sizeof(body)), 0);
    cr_assert_not_null(strstr(body, "openapi"));

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/livez", s.port);
    cr_assert_neq(fetch(url, "", body, sizeof(body)), 0,
                  "plain HTTP must not be answered on a TLS port");
    cr_assert_eq(server_stop(&s, 10), 0);
}

Test(tls, bad_settings_stop_the_start)
{
    char err[4096];

    cr_assert_eq(serve_expect_exit((const char *[]){"--listen", "127.0.0.1:0",
                                                    "--tls-cert", cert, NULL},
                                   err, sizeof(err)),
                 2);
    cr_assert_not_null(strstr(err, "go together"), "%s", err);

    cr_assert_eq(serve_expect_exit((const char *[]){"--listen", "127.0.0.1:0",
                                                    "--tls-cert", key,
                                                    "--tls-key", cert, NULL},
                                   err, sizeof(err)),
                 1, "a key and certificate swapped must be refused");

    cr_assert_eq(
        serve_expect_exit((const char *[]){"--listen", "127.0.0.1:0",
                                           "--tls-cert", "/nonexistent.pem",
                                           "--tls-key", key, NULL},
                          err, sizeof(err)),
        1);
    cr_assert_not_null(strstr(err, "/nonexistent.pem"), "%s", err);
}
