#include "commands.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gnn_store.h"
#include "handlers.h"
#include "log.h"
#include "model.h"
#include "server.h"

static struct {
    char *snapshot;
    char *store;
    char *listen;
    long threads;
    long connection_limit;
    long timeout;
    long max_body;
    double drain_timeout;
    char *api_keys;
    long default_k;
    long max_k;
    long max_exclude;
    long max_events;
    char *index_factory;
    long search_threads;
    bool coalesce;
} o;

static struct svc_opt serve_opts[] = {
    {"snapshot", SVC_OPT_STR, &o.snapshot, NULL, "DIR",
     "model snapshot folder to serve (without it: not ready, model routes "
     "503)",
     0, 0, false},
    {"store", SVC_OPT_STR, &o.store, NULL, "FILE",
     "SQLite event store for POST /v1/events (without it: 503)", 0, 0, false},
    {"listen", SVC_OPT_STR, &o.listen, "127.0.0.1:8080", "HOST:PORT",
     "address to listen on; [V6]:PORT for IPv6, port 0 for any free port", 0, 0,
     false},
    {"threads", SVC_OPT_INT, &o.threads, "0", "N",
     "HTTP worker threads; 0 = one per core", 0, 1024, false},
    {"connection-limit", SVC_OPT_INT, &o.connection_limit, "1024", "N",
     "open connections at most; more are refused", 1, 1000000, false},
    {"timeout", SVC_OPT_INT, &o.timeout, "30", "SECONDS",
     "close a connection idle (or stalled mid-request) this long", 1, 3600,
     false},
    {"max-body", SVC_OPT_INT, &o.max_body, "1048576", "BYTES",
     "largest request body; larger ones get 413", 1024, 268435456, false},
    {"drain-timeout", SVC_OPT_DOUBLE, &o.drain_timeout, "10", "SECONDS",
     "on SIGTERM/SIGINT, wait this long for requests in flight", 0, 3600,
     false},
    {"api-keys", SVC_OPT_STR, &o.api_keys, NULL, "FILE",
     "API keys, one 'ROLE KEY' per line (roles: read, ingest, admin)", 0, 0,
     false},
    {"default-k", SVC_OPT_INT, &o.default_k, "10", "K",
     "items answered when a query gives no k", 1, 10000, false},
    {"max-k", SVC_OPT_INT, &o.max_k, "100", "K",
     "largest k + offset a query may ask", 1, 10000, false},
    {"max-exclude", SVC_OPT_INT, &o.max_exclude, "100", "N",
     "ids one exclude list may hold", 0, 10000, false},
    {"max-events", SVC_OPT_INT, &o.max_events, "1000", "N",
     "events one POST /v1/events batch may hold", 1, 100000, false},
    {"index-factory", SVC_OPT_STR, &o.index_factory, "Flat", "SPEC",
     "FAISS index factory string for the served indexes", 0, 0, false},
    {"search-threads", SVC_OPT_INT, &o.search_threads, "1", "N",
     "threads FAISS may use for one search", 1, 256, false},
    {"coalesce", SVC_OPT_BOOL, &o.coalesce, "false", NULL,
     "batch concurrent searches into one FAISS call", 0, 0, false},
    SVC_COMMON_OPTS,
    {NULL, 0, NULL, NULL, NULL, NULL, 0, 0, false},
};

/* Keys from --api-keys and from HOPREC_API_KEYS_{READ,INGEST,ADMIN}
 * (comma-separated lists, handy for container secrets). */
static int load_keys(const struct svc_cmd *cmd, struct svc_auth *auth)
{
    static const struct {
        const char *var;
        enum svc_role role;
    } vars[] = {
        {"HOPREC_API_KEYS_READ", SVC_ROLE_READ},
        {"HOPREC_API_KEYS_INGEST", SVC_ROLE_INGEST},
        {"HOPREC_API_KEYS_ADMIN", SVC_ROLE_ADMIN},
    };
    struct svc_error err;

    if (o.api_keys != NULL && svc_auth_load_file(auth, o.api_keys, &err))
        return svc_cli_usage_error(cmd, "--api-keys: %s", err.text);
    for (size_t i = 0; i < 3; i++) {
        const char *list = getenv(vars[i].var);
        if (list != NULL &&
            svc_auth_load_list(auth, vars[i].role, list, &err) != 0)
            return svc_cli_usage_error(cmd, "%s: %s", vars[i].var, err.text);
    }
    svc_log_info("api keys loaded", "read=%zu ingest=%zu admin=%zu",
                 svc_auth_count(auth, SVC_ROLE_READ),
                 svc_auth_count(auth, SVC_ROLE_INGEST),
                 svc_auth_count(auth, SVC_ROLE_ADMIN));
    return 0;
}

static int check_options(const struct svc_cmd *cmd)
{
    struct sockaddr_storage addr;
    struct svc_error err;

    if (svc_listen_parse(o.listen, &addr, &err) != 0)
        return svc_cli_usage_error(cmd, "--listen: %s", err.text);
    if (o.default_k > o.max_k)
        return svc_cli_usage_error(cmd,
                                   "--default-k (%ld) must not exceed "
                                   "--max-k (%ld)",
                                   o.default_k, o.max_k);
    if (o.threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        o.threads = cores > 0 ? cores : 1;
    }
    return 0;
}

/*
 * A stored event takes effect in the served model at once: the user's
 * recent items feed exclude_seen and on-the-fly embeddings until the next
 * retrain learns from it. Weights follow the event's strength; a rating
 * r (0..10) counts r - 2.5, so low ratings are negative feedback. Items
 * the model does not know yet are skipped (the next retrain adds them).
 */
static void event_to_model(void *arg, const struct gnn_event *ev)
{
    static const float weights[] = {
        [GNN_EVENT_VIEW] = 1.0f,
        [GNN_EVENT_CLICK] = 2.0f,
        [GNN_EVENT_CART] = 3.0f,
        [GNN_EVENT_PURCHASE] = 4.0f,
    };
    struct svc_ctx *ctx = arg;
    float w = ev->type == GNN_EVENT_RATING ? (float)ev->value - 2.5f
                                           : weights[ev->type];

    if (ctx->model != NULL && w != 0.0f)
        svc_model_add_interaction(ctx->model, ev->user_id, ev->item_id, w,
                                  NULL);
}

/*
 * SIGTERM and SIGINT are caught by a handler rather than blocked and
 * waited for: libraries start threads of their own before main (the BLAS
 * thread pool), and a signal delivered to one of those with the default
 * action would end the process mid-drain. The handler only writes the
 * signal number to a pipe that the main thread reads.
 */
static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    unsigned char b = (unsigned char)sig;
    int saved = errno;

    if (write(signal_pipe[1], &b, 1) < 0) {
        /* the pipe is full: a stop is already pending */
    }
    errno = saved;
}

static int catch_signals(void)
{
    struct sigaction sa;

    if (pipe(signal_pipe) != 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/* Wait for SIGTERM or SIGINT, then drain. Later signals are ignored: the
 * drain is bounded by --drain-timeout already. */
static void wait_and_drain(struct svc_server *server)
{
    unsigned char sig = 0;

    while (read(signal_pipe[0], &sig, 1) < 0 && errno == EINTR)
        ;
    svc_log_info("draining", "signal=%s drain_timeout_s=%g",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", o.drain_timeout);
    long left = svc_server_drain(server, o.drain_timeout);
    if (left > 0)
        svc_log_warn("drain timed out", "in_flight=%ld", left);
}

static int run_serve(const struct svc_cmd *cmd, int argc, char **argv)
{
    struct svc_ctx ctx = {0};
    struct svc_server *server = NULL;
    struct svc_error err;
    int ret;

    if (argc > 0)
        return svc_cli_usage_error(cmd, "unexpected argument '%s'", argv[0]);
    if ((ret = check_options(cmd)) != 0)
        return ret;

    ctx.default_k = (int)o.default_k;
    ctx.max_k = (int)o.max_k;
    ctx.max_exclude = (int)o.max_exclude;
    ctx.max_events = (int)o.max_events;
    if (svc_auth_new(&ctx.auth, &err) != 0 ||
        svc_metrics_new(&ctx.metrics, &err) != 0) {
        ret = svc_cli_fail(cmd, "%s", err.text);
        goto out;
    }
    if ((ret = load_keys(cmd, ctx.auth)) != 0)
        goto out;
    ctx.on_event = event_to_model;
    ctx.on_event_arg = &ctx;

    if (o.store != NULL) {
        struct gnn_error gerr;
        if (gnn_store_open(o.store, &ctx.store, &gerr) != 0) {
            ret = svc_cli_fail(cmd, "cannot open event store: %s", gerr.text);
            goto out;
        }
        svc_log_info("event store opened", "store=%s", o.store);
    }

    if (o.snapshot != NULL) {
        struct svc_model_config mc = {
            .index_factory = o.index_factory,
            .search_threads = (int)o.search_threads,
            .max_k = (int)o.max_k,
            .coalesce = o.coalesce,
        };
        if (svc_ctx_model_open(&ctx, &mc, o.snapshot, &err) != 0) {
            ret = svc_cli_fail(cmd, "cannot serve snapshot '%s': %s",
                               o.snapshot, err.text);
            goto out;
        }
        svc_log_info("model loaded", "snapshot=%s", o.snapshot);
    } else {
        svc_log_warn("no snapshot given; serving without a model", NULL);
    }

    if (catch_signals() != 0) {
        ret = svc_cli_fail(cmd, "cannot install signal handlers: %s",
                           strerror(errno));
        goto out;
    }

    struct svc_server_config sc = {
        .listen = o.listen,
        .threads = (int)o.threads,
        .connection_limit = (int)o.connection_limit,
        .connection_timeout_s = (int)o.timeout,
        .max_body = (size_t)o.max_body,
    };
    if (svc_server_start(&sc, &ctx, &server, &err) != 0) {
        ret = svc_cli_fail(cmd, "%s", err.text);
        goto out;
    }
    svc_log_info("listening", "listen=%s port=%d threads=%ld", o.listen,
                 svc_server_port(server), o.threads);

    wait_and_drain(server);
    svc_server_free(server);
    svc_log_info("stopped", NULL);

out:
    svc_ctx_model_close(&ctx);
    gnn_store_close(ctx.store);
    svc_metrics_free(ctx.metrics);
    svc_auth_free(ctx.auth);
    for (int i = 0; i < 2; i++) {
        if (signal_pipe[i] >= 0)
            close(signal_pipe[i]);
        signal_pipe[i] = -1;
    }
    return ret;
}

struct svc_cmd svc_cmd_serve = {
    .name = "serve",
    .summary = "serve recommendations over HTTP",
    .usage = "[--snapshot DIR] [--listen HOST:PORT] [options]",
    .description =
        "Serves the HTTP API of openapi.yaml from a model snapshot. Stops "
        "accepting on SIGTERM or SIGINT, finishes the requests in flight "
        "(up to --drain-timeout), then exits 0.\n\n"
        "API keys come from --api-keys FILE and from the comma-separated "
        "lists in HOPREC_API_KEYS_READ, HOPREC_API_KEYS_INGEST and "
        "HOPREC_API_KEYS_ADMIN. With no key at all, read and ingest routes "
        "are open; admin routes answer 403 until an admin key exists.",
    .opts = serve_opts,
    .run = run_serve,
};
