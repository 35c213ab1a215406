#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where an option's current value came from, for error messages. */
struct source {
    const char *kind;  /* "default", "config", "environment", "flag" */
    const char *where; /* file:line or variable name; may be NULL */
};

static void vreport(const struct svc_cmd *cmd, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void vreport(const struct svc_cmd *cmd, const char *fmt, va_list ap)
{
    char msg[512];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    fprintf(stderr, "hoprec %s: %s\n", cmd->name, msg);
}

int svc_cli_usage_error(const struct svc_cmd *cmd, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreport(cmd, fmt, ap);
    va_end(ap);
    return 2;
}

int svc_cli_fail(const struct svc_cmd *cmd, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreport(cmd, fmt, ap);
    va_end(ap);
    return 1;
}

static struct svc_opt *find_opt(const struct svc_cmd *cmd, const char *name,
                                size_t len)
{
    for (struct svc_opt *o = cmd->opts; o != NULL && o->name != NULL; o++) {
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    }
    return NULL;
}

static int parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

static void describe_source(char *buf, size_t size, const struct source *src)
{
    if (src->where != NULL)
        snprintf(buf, size, " (from %s %s)", src->kind, src->where);
    else if (strcmp(src->kind, "flag") == 0)
        buf[0] = '\0';
    else
        snprintf(buf, size, " (from %s)", src->kind);
}

static int out_of_range(const struct svc_cmd *cmd, const struct svc_opt *o,
                        const char *text, const char *from)
{
    if (o->type == SVC_OPT_INT)
        return svc_cli_usage_error(cmd,
                                   "--%s: expected an integer from %.0f to "
                                   "%.0f, got '%s'%s",
                                   o->name, o->min, o->max, text, from);
    return svc_cli_usage_error(cmd,
                               "--%s: expected a number from %g to %g, got "
                               "'%s'%s",
                               o->name, o->min, o->max, text, from);
}

/* Store text as o's value; returns 0 or 2 after reporting. */
static int set_value(const struct svc_cmd *cmd, struct svc_opt *o,
                     const char *text, const struct source *src)
{
    char from[300];
    char *end;

    describe_source(from, sizeof(from), src);
    errno = 0;

    switch (o->type) {
    case SVC_OPT_STR: {
        char **dest = o->dest;
        char *copy = strdup(text);
        if (copy == NULL)
            return svc_cli_usage_error(cmd, "out of memory");
        free(*dest);
        *dest = copy;
        return 0;
    }
    case SVC_OPT_INT: {
        long v = strtol(text, &end, 10);
        if (errno != 0 || end == text || *end != '\0')
            return svc_cli_usage_error(cmd,
                                       "--%s: expected an integer, got "
                                       "'%s'%s",
                                       o->name, text, from);
        if (o->min < o->max && (v < o->min || v > o->max))
            return out_of_range(cmd, o, text, from);
        *(long *)o->dest = v;
        return 0;
    }
    case SVC_OPT_DOUBLE: {
        double v = strtod(text, &end);
        if (errno != 0 || end == text || *end != '\0' || !isfinite(v))
            return svc_cli_usage_error(cmd,
                                       "--%s: expected a number, got "
                                       "'%s'%s",
                                       o->name, text, from);
        if (o->min < o->max && (v < o->min || v > o->max))
            return out_of_range(cmd, o, text, from);
        *(double *)o->dest = v;
        return 0;
    }
    case SVC_OPT_BOOL:
        if (parse_bool(text, o->dest) != 0)
            return svc_cli_usage_error(cmd,
                                       "--%s: expected true or false, got "
                                       "'%s'%s",
                                       o->name, text, from);
        return 0;
    }
    return 2;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/*
 * Apply a configuration file. Keys of other subcommands are allowed (one
 * file can serve them all), so unknown keys are skipped, but a malformed
 * line is an error.
 */
static int apply_config_file(const struct svc_cmd *cmd, const char *path,
                             bool *given)
{
    FILE *f = fopen(path, "r");
    char line[4096], where[300];
    int lineno = 0, ret = 0;

    if (f == NULL)
        return svc_cli_usage_error(cmd, "cannot read config file '%s': %s",
                                   path, strerror(errno));

    while (ret == 0 && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;

        char *eq = strchr(s, '=');
        if (eq == NULL) {
            ret = svc_cli_usage_error(cmd, "%s:%d: expected 'name = value'",
                                      path, lineno);
            break;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        size_t vlen = strlen(value);
        if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
            value[vlen - 1] = '\0';
            value++;
        }

        struct svc_opt *o = find_opt(cmd, key, strlen(key));
        if (o == NULL || strcmp(key, "config") == 0)
            continue;
        snprintf(where, sizeof(where), "%s:%d", path, lineno);
        struct source src = {"config", where};
        ret = set_value(cmd, o, value, &src);
        given[o - cmd->opts] = true;
    }
    fclose(f);
    return ret;
}

static void env_name(char *buf, size_t size, const char *name)
{
    size_t n = (size_t)snprintf(buf, size, "HOPREC_");
    for (; *name != '\0' && n + 1 < size; name++)
        buf[n++] = *name == '-' ? '_' : (char)toupper((unsigned char)*name);
    buf[n] = '\0';
}

static int apply_environment(const struct svc_cmd *cmd, bool *given)
{
    char var[128];

    for (struct svc_opt *o = cmd->opts; o != NULL && o->name; o++) {
        env_name(var, sizeof(var), o->name);
        const char *value = getenv(var);
        if (value == NULL || strcmp(o->name, "config") == 0)
            continue;
        struct source src = {"environment", var};
        int ret = set_value(cmd, o, value, &src);
        if (ret != 0)
            return ret;
        given[o - cmd->opts] = true;
    }
    return 0;
}

static int apply_defaults(const struct svc_cmd *cmd)
{
    struct source src = {"default", NULL};

    for (struct svc_opt *o = cmd->opts; o != NULL && o->name; o++) {
        if (o->type == SVC_OPT_STR) {
            free(*(char **)o->dest);
            *(char **)o->dest = NULL;
        }
        if (o->def == NULL)
            continue;
        int ret = set_value(cmd, o, o->def, &src);
        if (ret != 0)
            return ret;
    }
    return 0;
}

/* The config file named by --config or HOPREC_CONFIG, if any. */
static const char *find_config_path(const struct svc_cmd *cmd, int argc,
                                    char **argv)
{
    const char *path = getenv("HOPREC_CONFIG");

    if (find_opt(cmd, "config", 6) == NULL)
        return NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
    }
    return path;
}

static int apply_flags(const struct svc_cmd *cmd, int argc, char **argv,
                       bool *given, int *first_arg)
{
    struct source src = {"flag", NULL};
    int i;

    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
            break;

        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        struct svc_opt *o = find_opt(cmd, name, len);
        if (o == NULL)
            return svc_cli_usage_error(cmd,
                                       "unknown option '--%.*s' (see "
                                       "'hoprec %s --help')",
                                       (int)len, name, cmd->name);

        const char *value = eq ? eq + 1 : NULL;
        if (value == NULL && o->type == SVC_OPT_BOOL)
            value = "true";
        if (value == NULL) {
            if (i + 1 >= argc)
                return svc_cli_usage_error(cmd, "--%s needs a value (%s)",
                                           o->name,
                                           o->metavar ? o->metavar : "VALUE");
            value = argv[++i];
        }
        int ret = set_value(cmd, o, value, &src);
        if (ret != 0)
            return ret;
        given[o - cmd->opts] = true;
    }
    *first_arg = i;
    return 0;
}

static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    }
    return false;
}

int svc_cli_parse(const struct svc_cmd *cmd, int argc, char **argv,
                  int *first_arg)
{
    size_t n_opts = 0;
    int ret;

    if (wants_help(argc, argv)) {
        svc_cli_print_help(cmd);
        return 1;
    }

    while (cmd->opts != NULL && cmd->opts[n_opts].name != NULL)
        n_opts++;
    bool *given = calloc(n_opts + 1, sizeof(*given));
    if (given == NULL)
        return svc_cli_usage_error(cmd, "out of memory");

    ret = apply_defaults(cmd);
    const char *config = find_config_path(cmd, argc, argv);
    if (ret == 0 && config != NULL)
        ret = apply_config_file(cmd, config, given);
    if (ret == 0)
        ret = apply_environment(cmd, given);
    if (ret == 0)
        ret = apply_flags(cmd, argc, argv, given, first_arg);

    for (size_t i = 0; ret == 0 && i < n_opts; i++) {
        const struct svc_opt *o = &cmd->opts[i];
        if (o->required && !given[i] && o->def == NULL)
            ret = svc_cli_usage_error(cmd,
                                      "missing --%s %s (see 'hoprec %s "
                                      "--help')",
                                      o->name, o->metavar ? o->metavar : "",
                                      cmd->name);
    }
    free(given);
    return ret;
}

/*
 * Print text within HELP_WIDTH columns. The first line continues after
 * `used` columns already printed; later lines start with `indent` spaces.
 * Each line of the text that fits is printed as written (so hand-made
 * tables keep their layout); a longer one is wrapped at spaces.
 */
#define HELP_WIDTH 79

static void print_words(const char *line, size_t len, int col, int indent)
{
    const char *end = line + len;
    bool line_start = true;

    while (line < end) {
        if (*line == ' ') {
            line++;
            continue;
        }
        int n = 0;
        while (line + n < end && line[n] != ' ')
            n++;
        if (!line_start && col + 1 + n > HELP_WIDTH) {
            printf("\n%*s", indent, "");
            col = indent;
            line_start = true;
        }
        if (!line_start) {
            putchar(' ');
            col++;
        }
        printf("%.*s", n, line);
        col += n;
        line += n;
        line_start = false;
    }
}

static void print_wrapped(const char *text, int used, int indent)
{
    int col = used;

    for (;;) {
        size_t len = strcspn(text, "\n");
        if (col + (int)len <= HELP_WIDTH)
            printf("%.*s", (int)len, text);
        else
            print_words(text, len, col, indent);
        putchar('\n');

        text += len;
        if (*text == '\0')
            break;
        text++;
        printf("%*s", indent, "");
        col = indent;
    }
}

static void print_option(const struct svc_opt *o)
{
    char left[64], help[512];
    int used;

    snprintf(left, sizeof(left), "  --%s%s%s", o->name, o->metavar ? " " : "",
             o->metavar ? o->metavar : "");
    if (o->def != NULL && o->def[0] != '\0')
        snprintf(help, sizeof(help), "%s [default: %s]", o->help, o->def);
    else if (o->required)
        snprintf(help, sizeof(help), "%s (required)", o->help);
    else
        snprintf(help, sizeof(help), "%s", o->help);

    /* A long flag gets its help on the next line rather than a ragged
     * column. */
    used = printf("%-28s", left);
    if (used > 28) {
        printf("\n%*s", 28, "");
        used = 28;
    }
    print_wrapped(help, used, 28);
}

void svc_cli_print_help(const struct svc_cmd *cmd)
{
    printf("Usage: hoprec %s %s\n\n", cmd->name, cmd->usage ? cmd->usage : "");
    if (cmd->description != NULL) {
        print_wrapped(cmd->description, 0, 0);
        putchar('\n');
    }

    printf("Options:\n");
    for (const struct svc_opt *o = cmd->opts; o != NULL && o->name; o++)
        print_option(o);
    printf("%-28sshow this help and exit\n", "  --help");

    printf("\n");
    print_wrapped(find_opt(cmd, "config", 6) != NULL
                      ? "Every option can also be set as HOPREC_<NAME> in "
                        "the environment (e.g. --log-level as "
                        "HOPREC_LOG_LEVEL) or as 'name = value' in the "
                        "--config file; flags win over the environment, "
                        "which wins over the file."
                      : "Every option can also be set as HOPREC_<NAME> in "
                        "the environment (e.g. --log-level as "
                        "HOPREC_LOG_LEVEL).",
                  0, 0);
}

void svc_cli_free(const struct svc_cmd *cmd)
{
    for (struct svc_opt *o = cmd->opts; o != NULL && o->name; o++) {
        if (o->type == SVC_OPT_STR) {
            free(*(char **)o->dest);
            *(char **)o->dest = NULL;
        }
    }
}
