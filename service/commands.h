/*
 * The hoprec subcommands and the options they all share.
 */
#ifndef SVC_COMMANDS_H
#define SVC_COMMANDS_H

#include "cli.h"

/* Options every subcommand takes; applied by svc_main before run(). */
struct svc_common {
    char *config;     /* --config FILE */
    char *log_level;  /* --log-level debug|info|warn|error */
    char *log_format; /* --log-format text|json */
};

extern struct svc_common svc_common;

#define SVC_COMMON_OPTS                                                        \
    {"config", SVC_OPT_STR, &svc_common.config,                                \
     NULL,     "FILE",      "read options from FILE ('name = value' lines)",   \
     0,        0,           false},                                            \
        {"log-level",                                                          \
         SVC_OPT_STR,                                                          \
         &svc_common.log_level,                                                \
         "info",                                                               \
         "LEVEL",                                                              \
         "lowest log level written: debug, info, warn, error",                 \
         0,                                                                    \
         0,                                                                    \
         false},                                                               \
    {                                                                          \
        "log-format", SVC_OPT_STR, &svc_common.log_format, "text", "FORMAT",   \
            "log line format: text (key=value) or json", 0, 0, false           \
    }

extern struct svc_cmd svc_cmd_version;
extern struct svc_cmd svc_cmd_train;
extern struct svc_cmd svc_cmd_eval;
extern struct svc_cmd svc_cmd_serve;
extern struct svc_cmd svc_cmd_gen;

/* Run hoprec with its command line; returns the process exit status. */
int svc_main(int argc, char **argv);

#endif
