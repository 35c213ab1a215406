#include "commands.h"

#include <jansson.h>
#include <microhttpd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <uv.h>

#include "gnn.h"

static struct svc_opt version_opts[] = {
    SVC_COMMON_OPTS,
    {NULL, 0, NULL, NULL, NULL, NULL, 0, 0, false},
};

static int run_version(const struct svc_cmd *cmd, int argc, char **argv)
{
    if (argc > 0)
        return svc_cli_usage_error(cmd, "unexpected argument '%s'", argv[0]);

    printf("hoprec %s\n", gnn_version());
    printf("  libmicrohttpd %s\n", MHD_get_version());
    printf("  jansson %s\n", jansson_version_str());
    printf("  sqlite %s\n", sqlite3_libversion());
    printf("  libuv %s\n", uv_version_string());
    return 0;
}

struct svc_cmd svc_cmd_version = {
    .name = "version",
    .summary = "print the version of hoprec and of its libraries",
    .usage = "",
    .description = "Prints hoprec's version, then the versions of the "
                   "libraries it runs on.",
    .opts = version_opts,
    .run = run_version,
};
