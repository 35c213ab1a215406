/*
 * Command-line interface: subcommands, their options and --help.
 *
 * Each subcommand declares a table of options. An option's value comes
 * from, in increasing priority: its default, the configuration file
 * (--config FILE or HOPREC_CONFIG; lines `name = value`, `#` comments),
 * the environment (HOPREC_<NAME>, upper case, '-' as '_'), the flag
 * (--name VALUE or --name=VALUE). A bad name or value is reported in one
 * line and the command exits with status 2.
 */
#ifndef SVC_CLI_H
#define SVC_CLI_H

#include <stdbool.h>
#include <stddef.h>

enum svc_opt_type {
    SVC_OPT_STR,    /* dest is char **, owned by the parser */
    SVC_OPT_INT,    /* dest is long * */
    SVC_OPT_DOUBLE, /* dest is double * */
    SVC_OPT_BOOL,   /* dest is bool *; a flag without value means true */
};

struct svc_opt {
    const char *name; /* long flag without dashes, e.g. "layers" */
    enum svc_opt_type type;
    void *dest;          /* where the parsed value is stored */
    const char *def;     /* default as text; NULL means unset/required */
    const char *metavar; /* placeholder in --help, e.g. "N" */
    const char *help;    /* one line */
    double min, max;     /* for numbers: allowed range when min < max */
    bool required;       /* must be given by some source */
};

struct svc_cmd {
    const char *name;        /* "train" */
    const char *summary;     /* one line for `hoprec --help` */
    const char *usage;       /* e.g. "--data DIR --model NAME [options]" */
    const char *description; /* paragraph(s) for `hoprec NAME --help` */
    struct svc_opt *opts;    /* terminated by an entry with name NULL */
    int (*run)(const struct svc_cmd *cmd, int argc, char **argv);
};

/*
 * Fill every option of cmd from its sources. On success returns 0 and
 * sets *first_arg to the index in argv of the first positional argument.
 * Returns 1 when --help was printed, and 2 after printing one line about a
 * usage error to stderr.
 */
int svc_cli_parse(const struct svc_cmd *cmd, int argc, char **argv,
                  int *first_arg);

/* Print cmd's --help to stdout. */
void svc_cli_print_help(const struct svc_cmd *cmd);

/*
 * Print cmd's options as a Markdown table for the configuration
 * reference: flag, environment variable, file key, default, meaning.
 */
void svc_cli_print_reference(const struct svc_cmd *cmd);

/* Free the strings the parser stored in cmd's SVC_OPT_STR options. */
void svc_cli_free(const struct svc_cmd *cmd);

/* Print "hoprec CMD: MESSAGE" to stderr and return 2 (a usage error). */
int svc_cli_usage_error(const struct svc_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Print "hoprec CMD: MESSAGE" to stderr and return 1 (a run failure). */
int svc_cli_fail(const struct svc_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
