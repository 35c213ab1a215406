#include "commands.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gnn_events.h"
#include "gnn_store.h"
#include "handlers.h"
#include "learn.h"
#include "log.h"
#include "loop.h"
#include "model.h"
#include "server.h"

static struct {
    char *snapshot;
    char *store;
    char *data_dir;
    char *learn_model;
    long learn_min_events;
    double learn_max_delay;
    double learn_full_interval;
    long learn_epochs;
    long learn_incremental_epochs;
    long learn_threads;
    long learn_round_batches;
    double learn_round_budget;
    long learn_holdout_users;
    char *listen;
    long threads;
    long workers;
    long connection_limit;
    long timeout;
    long max_body;
    double drain_timeout;
    char *api_keys;
    char *tls_cert;
    char *tls_key;
    long default_k;
    long max_k;
    long max_exclude;
    long max_events;
    char *index_factory;
    long search_threads;
    long ef_search;
    long nprobe;
    char *coalesce;
} o;

static struct svc_opt serve_opts[] = {
    {"snapshot", SVC_OPT_STR, &o.snapshot, NULL, "DIR",
     "model snapshot folder to serve (without it: not ready, model routes "
     "503)",
     0, 0, false},
    {"store", SVC_OPT_STR, &o.store, NULL, "FILE",
     "SQLite event store for POST /v1/events (without it: 503)", 0, 0, false},
    {"data-dir", SVC_OPT_STR, &o.data_dir, NULL, "DIR",
     "learn from stored events in the background, writing generations to "
     "DIR/snapshots (needs --store)",
     0, 0, false},
    {"learn-model", SVC_OPT_STR, &o.learn_model, "lightgcn", "NAME",
     "model the background rounds train (mf, lightgcn, gcn, ...)", 0, 0, false},
    {"learn-min-events", SVC_OPT_INT, &o.learn_min_events, "1000", "N",
     "start an incremental round once this many new events are stored", 1, 1e9,
     false},
    {"learn-max-delay", SVC_OPT_DOUBLE, &o.learn_max_delay, "300", "SECONDS",
     "...or once the oldest unlearned event is this old", 0.1, 1e7, false},
    {"learn-full-interval", SVC_OPT_DOUBLE, &o.learn_full_interval, "0",
     "SECONDS", "retrain from scratch this often; 0 = on request only", 0, 1e9,
     false},
    {"learn-epochs", SVC_OPT_INT, &o.learn_epochs, "20", "N",
     "epochs of a full round", 1, 100000, false},
    {"learn-incremental-epochs", SVC_OPT_INT, &o.learn_incremental_epochs, "3",
     "N", "epochs of an incremental (warm-started) round", 1, 100000, false},
    {"learn-threads", SVC_OPT_INT, &o.learn_threads, "1", "N",
     "threads a training round uses", 1, 1024, false},
    {"learn-round-batches", SVC_OPT_INT, &o.learn_round_batches, "40", "N",
     "most mini-batches per epoch of an incremental round: the edges of "
     "users with new events, then a sample of the rest; 0 = every edge",
     0, 1e9, false},
    {"learn-round-budget", SVC_OPT_DOUBLE, &o.learn_round_budget, "20",
     "SECONDS",
     "aim for incremental rounds this long: training gets what reading, "
     "the graph and the last write and publish leave; 0 = no limit",
     0, 1e7, false},
    {"learn-holdout-users", SVC_OPT_INT, &o.learn_holdout_users, "1000", "N",
     "users the rolling holdout scores at most (a fixed sample); 0 = all", 0,
     1e9, false},
    {"listen", SVC_OPT_STR, &o.listen, "127.0.0.1:8080", "HOST:PORT",
     "address to listen on; [V6]:PORT for IPv6, port 0 for any free port", 0, 0,
     false},
    {"threads", SVC_OPT_INT, &o.threads, "0", "N",
     "HTTP threads (epoll, one per core is enough: the requests that wait "
     "go to --workers); 0 = one per core",
     0, 1024, false},
    {"workers", SVC_OPT_INT, &o.workers, "64", "N",
     "threads that answer searches and event batches; they wait for "
     "coalesced searches and shared commits, so more of them make bigger "
     "batches",
     1, 4096, false},
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
    {"tls-cert", SVC_OPT_STR, &o.tls_cert, NULL, "FILE",
     "serve HTTPS with this PEM certificate (chain); needs --tls-key", 0, 0,
     false},
    {"tls-key", SVC_OPT_STR, &o.tls_key, NULL, "FILE",
     "PEM private key of --tls-cert", 0, 0, false},
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
    {"ef-search", SVC_OPT_INT, &o.ef_search, "64", "N",
     "HNSW indexes: candidates kept per search (recall against speed)", 1,
     100000, false},
    {"nprobe", SVC_OPT_INT, &o.nprobe, "16", "N",
     "IVF indexes: inverted lists visited per search", 1, 1000000, false},
    {"coalesce", SVC_OPT_STR, &o.coalesce, "auto", "MODE",
     "auto, on or off: batch concurrent exact searches into one FAISS call "
     "(one matrix product); auto batches when, timed at each model load, "
     "a batch costs clearly less per query than single searches (large "
     "catalogs, or distance kernels built without AVX2); approximate "
     "indexes search each query alone",
     0, 0, false},
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
    if ((o.tls_cert == NULL) != (o.tls_key == NULL))
        return svc_cli_usage_error(cmd, "--tls-cert and --tls-key go "
                                        "together");
    if (o.data_dir != NULL && o.store == NULL)
        return svc_cli_usage_error(cmd, "--data-dir needs --store FILE (the "
                                        "events to learn from)");
    if (svc_coalesce_parse(o.coalesce) < 0)
        return svc_cli_usage_error(
            cmd, "--coalesce: '%s' is not auto, on or off", o.coalesce);
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
 * round learns from it (with the same weights the learner and a replay
 * use). Items the model does not know yet are skipped; the next round adds
 * them. With learning on, the loop counts the event towards its next
 * incremental round.
 */
static struct gnn_event_weights event_weights;

static void event_to_model(void *arg, const struct gnn_event *ev)
{
    struct svc_ctx *ctx = arg;
    float w = gnn_event_weight(&event_weights, ev->type, (float)ev->value);

    if (ctx->model != NULL && w != 0.0f)
        svc_model_add_interaction(ctx->model, ev->user_id, ev->item_id, w,
                                  NULL);
    if (ctx->loop != NULL)
        svc_loop_note_events(ctx->loop, 1);
}

static void round_done(void *arg, enum svc_round_kind kind, int status,
                       double seconds, const struct svc_error *err)
{
    char text[300];

    if (status == 0) {
        svc_log_info("training round done", "kind=%s seconds=%.3f",
                     svc_round_kind_name(kind), seconds);
        return;
    }
    svc_log_error("training round failed", "kind=%s seconds=%.3f error=%s",
                  svc_round_kind_name(kind), seconds,
                  svc_log_quote(text, sizeof(text), err ? err->text : ""));
}

/* The watermark in a generation folder's name ("gen-000000000042"). */
static int64_t generation_watermark(const char *path)
{
    const char *base = strrchr(path, '/');

    base = base != NULL ? base + 1 : path;
    return strncmp(base, "gen-", 4) == 0 ? strtoll(base + 4, NULL, 10) : 0;
}

/* Log a loaded generation with how its searches run, and the timing
 * that chose it under --coalesce auto. */
static void log_search_mode(struct svc_ctx *ctx, const char *what,
                            const char *path)
{
    struct svc_gen *g = svc_model_acquire(ctx->model);
    double alone = 0, batched = 0;
    const char *mode =
        g != NULL && svc_gen_search_cost(g, &alone, &batched) ? "on" : "off";

    svc_gen_release(g);
    if (alone > 0)
        svc_log_info(what,
                     "snapshot=%s coalesce=%s alone_us=%.1f batched_us=%.1f",
                     path, mode, alone * 1e6, batched * 1e6);
    else
        svc_log_info(what, "snapshot=%s coalesce=%s", path, mode);
}

/*
 * Load what to serve: the newest generation under --data-dir when there
 * is one (what was learned before a restart), else --snapshot; then
 * replay the stored events the loaded model has not learned from.
 */
static int open_model(const struct svc_cmd *cmd, struct svc_ctx *ctx)
{
    struct svc_model_config mc = {
        .index_factory = o.index_factory,
        .search_threads = (int)o.search_threads,
        .max_k = (int)o.max_k,
        .coalesce = (enum svc_coalesce)svc_coalesce_parse(o.coalesce),
        .ef_search = (int)o.ef_search,
        .nprobe = (int)o.nprobe,
    };
    struct svc_error err;
    char *latest = NULL;
    const char *path = o.snapshot;
    int64_t watermark = 0, replayed = 0;
    int ret;

    if (o.data_dir != NULL &&
        svc_learner_latest(o.data_dir, &latest, NULL) == 0) {
        path = latest;
        watermark = generation_watermark(latest);
    }
    if (path == NULL) {
        svc_log_warn("no snapshot given; serving without a model", NULL);
        return 0;
    }
    ret = svc_ctx_model_open(ctx, &mc, path, &err);
    if (ret != 0) {
        ret =
            svc_cli_fail(cmd, "cannot serve snapshot '%s': %s", path, err.text);
        free(latest);
        return ret;
    }
    log_search_mode(ctx, "model loaded", path);
    if (ctx->store != NULL &&
        svc_learner_replay(ctx->model, ctx->store, watermark, &replayed,
                           &err) != 0)
        svc_log_warn("cannot replay stored events", "error=%s", err.text);
    else if (replayed > 0)
        svc_log_info("stored events replayed", "events=%lld after_seq=%lld",
                     (long long)replayed, (long long)watermark);
    free(latest);
    return 0;
}

/* Start the learner and the background loop (--data-dir). */
static int start_learning(const struct svc_cmd *cmd, struct svc_ctx *ctx)
{
    struct svc_learner_config lc = {
        .dir = o.data_dir,
        .model = o.learn_model,
        .dim = 64,
        .layers = 3,
        .incremental_epochs = (int)o.learn_incremental_epochs,
        .full_epochs = (int)o.learn_epochs,
        .batch = 2048,
        .lr = 0.001f,
        .threads = (int)o.learn_threads,
        .keep = 3,
        .seed = 2024,
        .round_batches = (int)o.learn_round_batches,
        .round_budget_s = o.learn_round_budget,
        .holdout_users = (int)o.learn_holdout_users,
    };
    struct svc_error err;

    if (ctx->model == NULL)
        return svc_cli_usage_error(cmd, "--data-dir needs --snapshot (or a "
                                        "generation in the folder) to start "
                                        "from");
    if (svc_learner_new(&lc, ctx->model, ctx->store, o.snapshot, &ctx->learner,
                        &err) != 0)
        return svc_cli_fail(cmd, "cannot start learning: %s", err.text);

    struct svc_loop_config loop = {
        .min_new_events = o.learn_min_events,
        .max_delay_s = o.learn_max_delay,
        .full_interval_s = o.learn_full_interval,
        .round = svc_learner_round,
        .done = round_done,
        .ctx = ctx->learner,
    };
    if (svc_loop_start(&loop, &ctx->loop, &err) != 0)
        return svc_cli_fail(cmd, "cannot start the learning loop: %s",
                            err.text);
    svc_log_info("learning in the background", "dir=%s model=%s", o.data_dir,
                 o.learn_model);
    return 0;
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
    if (sigaction(SIGTERM, &sa, NULL) != 0 ||
        sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGHUP, &sa, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/*
 * SIGHUP: read the --snapshot folder again and swap it in, so that an
 * offline-trained model goes live without a restart. Requests keep being
 * answered from the current generation while the new one is built; a
 * snapshot that cannot be served leaves the current one in place. With
 * --data-dir the learner owns the generations, so the signal is ignored.
 */
static void reload_snapshot(struct svc_ctx *ctx)
{
    struct svc_error err;
    char text[300];

    if (o.data_dir != NULL || o.snapshot == NULL || ctx->model == NULL) {
        svc_log_warn("SIGHUP ignored", "reason=%s",
                     o.data_dir != NULL ? "the learner owns the generations"
                                        : "no --snapshot to reload");
        return;
    }
    if (svc_model_load(ctx->model, o.snapshot, &err) != 0) {
        svc_log_error("snapshot reload failed; the current model stays",
                      "snapshot=%s error=%s", o.snapshot,
                      svc_log_quote(text, sizeof(text), err.text));
        return;
    }
    log_search_mode(ctx, "snapshot reloaded", o.snapshot);
}

/* Wait for SIGTERM or SIGINT, reloading on SIGHUP, then drain. Later
 * signals are ignored: the drain is bounded by --drain-timeout already. */
static void wait_and_drain(struct svc_ctx *ctx, struct svc_server *server)
{
    unsigned char sig = 0;

    for (;;) {
        if (read(signal_pipe[0], &sig, 1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (sig != SIGHUP)
            break;
        reload_snapshot(ctx);
    }
    svc_log_info("draining", "signal=%s drain_timeout_s=%g",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", o.drain_timeout);
    long left = svc_server_drain(server, o.drain_timeout);
    if (left > 0)
        svc_log_warn("drain timed out", "in_flight=%ld", left);
}

/*
 * Read a whole PEM file into a new string (*out, freed by the caller), at
 * most 1 MiB. Returns 0, or 1 after reporting.
 */
static int read_pem(const struct svc_cmd *cmd, const char *path, char **out)
{
    FILE *f = fopen(path, "r");
    size_t len;

    *out = NULL;
    if (f == NULL)
        return svc_cli_fail(cmd, "cannot read '%s': %s", path, strerror(errno));
    *out = calloc(1, (1 << 20) + 1);
    len = *out ? fread(*out, 1, 1 << 20, f) : 0;
    int bad = ferror(f) || len == 0 || !feof(f);
    fclose(f);
    if (*out == NULL || bad) {
        free(*out);
        *out = NULL;
        return svc_cli_fail(cmd,
                            "cannot read '%s' (empty, unreadable or "
                            "over 1 MiB)",
                            path);
    }
    return 0;
}

/* Wipe and free a private key's text; NULL is a no-op. */
static void free_secret(char *text)
{
    if (text == NULL)
        return;
    explicit_bzero(text, strlen(text));
    free(text);
}

static int run_serve(const struct svc_cmd *cmd, int argc, char **argv)
{
    struct svc_ctx ctx = {0};
    struct svc_server *server = NULL;
    struct svc_error err;
    char *cert = NULL, *key = NULL;
    int ret;

    if (argc > 0)
        return svc_cli_usage_error(cmd, "unexpected argument '%s'", argv[0]);
    if ((ret = check_options(cmd)) != 0)
        return ret;
    if (o.tls_cert != NULL && ((ret = read_pem(cmd, o.tls_cert, &cert)) != 0 ||
                               (ret = read_pem(cmd, o.tls_key, &key)) != 0))
        goto out;

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
    gnn_event_weights_default(&event_weights);
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

    if ((ret = open_model(cmd, &ctx)) != 0)
        goto out;
    if (o.data_dir != NULL && (ret = start_learning(cmd, &ctx)) != 0)
        goto out;

    if (catch_signals() != 0) {
        ret = svc_cli_fail(cmd, "cannot install signal handlers: %s",
                           strerror(errno));
        goto out;
    }

    struct svc_server_config sc = {
        .listen = o.listen,
        .threads = (int)o.threads,
        .workers = (int)o.workers,
        .connection_limit = (int)o.connection_limit,
        .connection_timeout_s = (int)o.timeout,
        .max_body = (size_t)o.max_body,
        .tls_cert = cert,
        .tls_key = key,
    };
    if (svc_server_start(&sc, &ctx, &server, &err) != 0) {
        ret = svc_cli_fail(cmd, "%s", err.text);
        goto out;
    }
    svc_log_info("listening",
                 "listen=%s port=%d threads=%ld workers=%ld tls=%s", o.listen,
                 svc_server_port(server), o.threads, o.workers,
                 cert != NULL ? "on" : "off");

    wait_and_drain(&ctx, server);
    svc_server_free(server);
    svc_log_info("stopped", NULL);

out:
    free(cert);
    free_secret(key);
    /* The loop waits for a running round, which publishes to the model:
     * stop it before the model goes. */
    svc_loop_stop(ctx.loop);
    svc_learner_free(ctx.learner);
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
        "(up to --drain-timeout), then exits 0. On SIGHUP it reads the "
        "--snapshot folder again and swaps the new model in without "
        "dropping a request.\n\n"
        "API keys come from --api-keys FILE and from the comma-separated "
        "lists in HOPREC_API_KEYS_READ, HOPREC_API_KEYS_INGEST and "
        "HOPREC_API_KEYS_ADMIN. With no key at all, read and ingest routes "
        "are open; admin routes answer 403 until an admin key exists.",
    .opts = serve_opts,
    .run = run_serve,
};
