#include "server_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ------------------------------------------------------------------ */
/* The process */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/*
 * HOPREC_SERVE_WRAPPER: words (split at spaces) run in front of the binary
 * for every `serve` process, e.g. "valgrind --quiet --error-exitcode=99
 * --leak-check=full"; the wrapper must exec the server in its own process,
 * as valgrind does, because the tests signal and limit that pid. The
 * words are parsed once and kept until exit.
 */
#define MAX_WRAPPER_WORDS 32

static size_t wrapper_words(char ***words)
{
    static char *copy, *list[MAX_WRAPPER_WORDS];
    static size_t n;
    static bool parsed;
    const char *w = getenv("HOPREC_SERVE_WRAPPER");
    char *save = NULL;

    *words = list;
    if (parsed)
        return n;
    parsed = true;
    if (w == NULL || w[0] == '\0' || (copy = strdup(w)) == NULL)
        return 0;
    for (char *t = strtok_r(copy, " ", &save);
         t != NULL && n < MAX_WRAPPER_WORDS; t = strtok_r(NULL, " ", &save))
        list[n++] = t;
    return n;
}

/* How much longer to wait for the server to start and to stop: memcheck
 * slows it down some twentyfold. */
static int slowdown(void)
{
    char **words;

    return wrapper_words(&words) > 0 ? 20 : 1;
}

/* argv for [wrapper...] `hoprec serve` + args; the caller frees the array
 * only. */
static char **serve_argv(const char *const *args, bool listen)
{
    size_t n = 0;
    char **argv, **words;
    size_t n_words = wrapper_words(&words);

    while (args != NULL && args[n] != NULL)
        n++;
    argv = calloc(n_words + n + 5, sizeof(*argv));
    if (argv == NULL)
        return NULL;
    const char *bin = getenv("HOPREC_BIN");
    size_t k = 0;
    for (size_t i = 0; i < n_words; i++)
        argv[k++] = words[i];
    argv[k++] = (char *)(bin != NULL ? bin : "hoprec");
    argv[k++] = "serve";
    if (listen) {
        argv[k++] = "--listen";
        argv[k++] = "127.0.0.1:0";
    }
    for (size_t i = 0; i < n; i++)
        argv[k++] = (char *)args[i];
    return argv;
}

static pid_t spawn(char **argv, const char *const *env, const char *log_path)
{
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    /* Keys from the test runner's environment must not leak in. */
    unsetenv("HOPREC_API_KEYS_READ");
    unsetenv("HOPREC_API_KEYS_INGEST");
    unsetenv("HOPREC_API_KEYS_ADMIN");
    unsetenv("HOPREC_API_KEYS");
    for (size_t i = 0; env != NULL && env[i] != NULL; i++)
        putenv((char *)env[i]);
    execvp(argv[0], argv);
    _exit(127);
}

/* The port from the "listening" log line, or 0 while there is none. */
static int logged_port(const char *log_path)
{
    char line[1024];
    int port = 0;
    FILE *f = fopen(log_path, "r");

    if (f == NULL)
        return 0;
    while (port == 0 && fgets(line, sizeof(line), f) != NULL) {
        const char *p = strstr(line, "msg=\"listening\"");
        if (p != NULL && (p = strstr(p, " port=")) != NULL)
            port = atoi(p + 6);
    }
    fclose(f);
    return port;
}

int server_start(struct server_proc *s, const char *const *args,
                 const char *const *env)
{
    char **argv = serve_argv(args, true);
    int status;

    if (argv == NULL)
        return -1;
    snprintf(s->log_path, sizeof(s->log_path), "/tmp/hoprec-e2e-%d-XXXXXX",
             (int)getpid());
    int fd = mkstemp(s->log_path);
    if (fd < 0) {
        free(argv);
        return -1;
    }
    close(fd);
    s->port = 0;
    s->pid = spawn(argv, env, s->log_path);
    free(argv);
    if (s->pid < 0)
        return -1;

    for (int i = 0; i < 1000 * slowdown() && s->port == 0; i++) {
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = -1;
            return -1;
        }
        s->port = logged_port(s->log_path);
        if (s->port == 0)
            sleep_ms(10);
    }
    if (s->port == 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &status, 0);
        s->pid = -1;
        return -1;
    }
    return 0;
}

int server_stop(struct server_proc *s, double timeout_s)
{
    int status = 0;

    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    for (int i = 0; i < (int)(timeout_s * 100) * slowdown(); i++) {
        pid_t got = waitpid(s->pid, &status, WNOHANG);
        if (got == s->pid) {
            int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;

            s->pid = -1;
            /* A failed exit (or a wrapper's report) keeps the log. */
            if (code == 0)
                unlink(s->log_path);
            else
                fprintf(stderr, "server log kept: %s\n", s->log_path);
            return code;
        }
        sleep_ms(10);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &status, 0);
    s->pid = -1;
    return -1;
}

int serve_expect_exit(const char *const *args, char *err, size_t size)
{
    char path[] = "/tmp/hoprec-e2e-exit-XXXXXX";
    char **argv = serve_argv(args, false);
    int fd = mkstemp(path), status = -1;

    if (argv == NULL || fd < 0) {
        free(argv);
        return -1;
    }
    close(fd);
    pid_t pid = spawn(argv, NULL, path);
    free(argv);
    for (int i = 0, n = 1000 * slowdown(); i < n; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
        sleep_ms(10);
        if (i == n - 1) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
        }
    }
    FILE *f = fopen(path, "r");
    size_t n = f != NULL ? fread(err, 1, size - 1, f) : 0;
    err[n] = '\0';
    if (f != NULL)
        fclose(f);
    unlink(path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ------------------------------------------------------------------ */
/* The spec */

json_t *spec_get(void)
{
    static json_t *spec;
    char path[4096];
    json_error_t jerr;
    const char *root = getenv("HOPREC_SOURCE_ROOT");

    if (spec != NULL)
        return spec;
    snprintf(path, sizeof(path), "%s/openapi.json", root ? root : ".");
    spec = json_load_file(path, 0, &jerr);
    return spec;
}

/* Follow "$ref": "#/components/..." (one level at a time). */
static json_t *deref(json_t *node)
{
    json_t *ref;

    while ((ref = json_object_get(node, "$ref")) != NULL) {
        char pointer[256];
        const char *r = json_string_value(ref);
        if (r == NULL || strncmp(r, "#/", 2) != 0)
            return NULL;
        snprintf(pointer, sizeof(pointer), "%s", r + 1);
        node = spec_get();
        for (char *tok = strtok(pointer, "/"); tok && node;
             tok = strtok(NULL, "/"))
            node = json_object_get(node, tok);
    }
    return node;
}

static bool fail(char *why, size_t size, const char *at, const char *what)
{
    snprintf(why, size, "%s: %s", at[0] ? at : "(root)", what);
    return false;
}

static bool type_ok(const char *type, json_t *v)
{
    if (strcmp(type, "object") == 0)
        return json_is_object(v);
    if (strcmp(type, "array") == 0)
        return json_is_array(v);
    if (strcmp(type, "string") == 0)
        return json_is_string(v);
    if (strcmp(type, "integer") == 0)
        return json_is_integer(v);
    if (strcmp(type, "number") == 0)
        return json_is_number(v);
    if (strcmp(type, "boolean") == 0)
        return json_is_boolean(v);
    if (strcmp(type, "null") == 0)
        return json_is_null(v);
    return true;
}

static bool validate(json_t *schema, json_t *v, const char *at, char *why,
                     size_t size);

static bool validate_object(json_t *schema, json_t *v, const char *at,
                            char *why, size_t size)
{
    json_t *req = json_object_get(schema, "required");
    json_t *props = json_object_get(schema, "properties");
    json_t *extra = json_object_get(schema, "additionalProperties");
    const char *key;
    json_t *member;
    size_t i;
    json_t *name;
    char sub[256];

    json_array_foreach(req, i, name)
    {
        if (json_object_get(v, json_string_value(name)) == NULL) {
            snprintf(sub, sizeof(sub), "missing required '%s'",
                     json_string_value(name));
            return fail(why, size, at, sub);
        }
    }
    json_object_foreach(v, key, member)
    {
        json_t *ps = json_object_get(props, key);
        snprintf(sub, sizeof(sub), "%s/%s", at, key);
        if (ps == NULL && json_is_false(extra))
            return fail(why, size, sub, "not allowed");
        if (ps != NULL && !validate(ps, member, sub, why, size))
            return false;
    }
    return true;
}

static bool validate_scalar(json_t *schema, json_t *v, const char *at,
                            char *why, size_t size)
{
    json_t *pattern = json_object_get(schema, "pattern");
    json_t *min = json_object_get(schema, "minimum");
    json_t *max = json_object_get(schema, "maximum");
    json_t *minlen = json_object_get(schema, "minLength");
    json_t *maxlen = json_object_get(schema, "maxLength");

    if (json_is_number(v) && min &&
        json_number_value(v) < json_number_value(min))
        return fail(why, size, at, "below minimum");
    if (json_is_number(v) && max &&
        json_number_value(v) > json_number_value(max))
        return fail(why, size, at, "above maximum");
    if (!json_is_string(v))
        return true;
    if (minlen && json_string_length(v) < (size_t)json_integer_value(minlen))
        return fail(why, size, at, "shorter than minLength");
    if (maxlen && json_string_length(v) > (size_t)json_integer_value(maxlen))
        return fail(why, size, at, "longer than maxLength");
    if (pattern != NULL) {
        regex_t re;
        bool ok = regcomp(&re, json_string_value(pattern),
                          REG_EXTENDED | REG_NOSUB) == 0 &&
                  regexec(&re, json_string_value(v), 0, NULL, 0) == 0;
        regfree(&re);
        if (!ok)
            return fail(why, size, at, "does not match its pattern");
    }
    return true;
}

static bool validate(json_t *schema, json_t *v, const char *at, char *why,
                     size_t size)
{
    json_t *type, *en, *one, *items, *c;

    schema = deref(schema);
    if (schema == NULL)
        return fail(why, size, at, "unresolvable $ref in the spec");

    if ((one = json_object_get(schema, "oneOf")) != NULL) {
        size_t i, matched = 0;
        json_t *alt;
        char ignored[256];
        json_array_foreach(one, i, alt)
        {
            matched += validate(alt, v, at, ignored, sizeof(ignored));
        }
        if (matched != 1)
            return fail(why, size, at, "matches no oneOf alternative");
        return true;
    }
    type = json_object_get(schema, "type");
    if (json_is_string(type) && !type_ok(json_string_value(type), v)) {
        char sub[64];
        snprintf(sub, sizeof(sub), "is not of type %s",
                 json_string_value(type));
        return fail(why, size, at, sub);
    }
    if ((en = json_object_get(schema, "enum")) != NULL) {
        size_t i;
        json_t *e;
        bool found = false;
        json_array_foreach(en, i, e)
        {
            found = found || json_equal(e, v);
        }
        if (!found)
            return fail(why, size, at, "is not one of its enum values");
    }
    if ((c = json_object_get(schema, "const")) != NULL && !json_equal(c, v))
        return fail(why, size, at, "is not its const value");
    if (json_is_object(v) && !validate_object(schema, v, at, why, size))
        return false;
    if (json_is_array(v) && (items = json_object_get(schema, "items"))) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            char sub[256];
            snprintf(sub, sizeof(sub), "%s/%zu", at, i);
            if (!validate(items, e, sub, why, size))
                return false;
        }
    }
    return validate_scalar(schema, v, at, why, size);
}

bool spec_check(const char *method, const char *path_template,
                const struct http_resp *r, char *why, size_t size)
{
    char lower[16], status[8], type[128];
    json_t *op, *resp, *content, *media;

    for (size_t i = 0; i < sizeof(lower) - 1 && method[i]; i++)
        lower[i] = (char)(method[i] | 0x20), lower[i + 1] = '\0';
    json_t *item =
        json_object_get(json_object_get(spec_get(), "paths"), path_template);
    op = json_object_get(item, lower);
    if (op == NULL && r->status == 405) {
        /* A method the path lacks: its 405 is documented on the others. */
        const char *m;
        json_t *other;
        json_object_foreach(item, m, other)
        {
            if (json_object_get(json_object_get(other, "responses"), "405"))
                op = other;
        }
    }
    if (op == NULL)
        return fail(why, size, path_template, "no such operation");

    snprintf(status, sizeof(status), "%d", r->status);
    resp = deref(json_object_get(json_object_get(op, "responses"), status));
    if (resp == NULL)
        return fail(why, size, status, "status not in the spec");

    content = json_object_get(resp, "content");
    if (content == NULL)
        return true;
    if (http_header(r, "Content-Type", type, sizeof(type)) == NULL)
        return fail(why, size, status, "no Content-Type");
    type[strcspn(type, ";")] = '\0';
    media = json_object_get(content, type);
    if (media == NULL)
        return fail(why, size, type, "content type not in the spec");
    if (strstr(type, "json") == NULL)
        return true;

    json_error_t jerr;
    json_t *body = json_loadb(r->body, r->body_len, 0, &jerr);
    if (body == NULL)
        return fail(why, size, status, "body is not JSON");
    bool ok = validate(json_object_get(media, "schema"), body, "", why, size);
    json_decref(body);
    return ok;
}
