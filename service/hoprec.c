#include "commands.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

struct svc_common svc_common;

static struct svc_cmd *const commands[] = {
    &svc_cmd_version,
    &svc_cmd_serve,
    &svc_cmd_train,
    &svc_cmd_eval,
    &svc_cmd_gen,
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_main_help(void)
{
    printf("hoprec: recommendations from a high-order graph neural network, "
           "served over HTTP.\n\n"
           "Usage: hoprec COMMAND [options]\n\nCommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        printf("  %-10s %s\n", commands[i]->name, commands[i]->summary);
    printf("\nRun 'hoprec COMMAND --help' for the options of a command.\n");
}

static int setup_logging(const struct svc_cmd *cmd)
{
    int level = svc_log_level_parse(svc_common.log_level);
    int format = svc_log_format_parse(svc_common.log_format);

    if (level < 0)
        return svc_cli_usage_error(cmd,
                                   "--log-level: expected debug, info, warn "
                                   "or error, got '%s'",
                                   svc_common.log_level);
    if (format < 0)
        return svc_cli_usage_error(cmd,
                                   "--log-format: expected text or json, "
                                   "got '%s'",
                                   svc_common.log_format);
    svc_log_setup(level, format);
    return 0;
}

static int run_command(struct svc_cmd *cmd, int argc, char **argv)
{
    int first_arg = argc;
    int ret = svc_cli_parse(cmd, argc, argv, &first_arg);

    if (ret == 1) {
        svc_cli_free(cmd); /* --help was printed */
        return 0;
    }
    if (ret == 0)
        ret = setup_logging(cmd);
    if (ret == 0)
        ret = cmd->run(cmd, argc - first_arg, argv + first_arg);

    svc_cli_free(cmd);
    return ret;
}

int svc_main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        print_main_help();
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0)
        return svc_main(2, (char *[]){argv[0], "version", NULL});

    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(argv[1], commands[i]->name) == 0)
            return run_command(commands[i], argc - 1, argv + 1);
    }
    fprintf(stderr, "hoprec: unknown command '%s' (see 'hoprec --help')\n",
            argv[1]);
    return 2;
}
