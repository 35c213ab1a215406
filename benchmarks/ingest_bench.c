/*
 * Ingest benchmark: durable events per second through `hoprec serve`
 * (POST /v1/events, batches from many connections) beside a bare SQLite
 * program writing the same rows in transactions of the same size, in one
 * run on one machine, and then a check that every acknowledged event is
 * in the store.
 *
 *   ingest_bench --hoprec build/hoprec [--events 200000] [--batch 100]
 *                [--connections 16] [--server-threads 16] [--repeats 3]
 *                [--dir /tmp]
 *
 * The two sides run alternately, --repeats times each, and the medians
 * are compared, so that a shared machine's load changes hit both.
 *
 * The server gets as many HTTP threads as there are connections by
 * default: a thread waits on the commit of its batch, and only batches
 * waiting at the same time can share one.
 *
 * Prints a Markdown table with both rates and their ratio.
 */
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_proc.h"

static struct {
    const char *hoprec;
    const char *dir;
    long events, batch, connections, server_threads, repeats;
} opt = {NULL, "/tmp", 200000, 100, 16, 16, 3};

static void die(const char *what)
{
    fprintf(stderr, "ingest_bench: %s\n", what);
    exit(1);
}

/* ------------------------------------------------------------------ */
/* The rows both sides write                                          */

static const char *const types[] = {"view", "click", "cart", "purchase"};

static void event_fields(long i, char *user, char *item, const char **type)
{
    snprintf(user, 32, "u%06ld", (i * 7919) % 50000);
    snprintf(item, 32, "sku-%06ld", (i * 104729) % 20000);
    *type = types[i % 4];
}

/* ------------------------------------------------------------------ */
/* Bare SQLite                                                        */

static double bare_sqlite(const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    char user[32], item[32], id[40];
    const char *type;

    unlink(path);
    if (sqlite3_open(path, &db) != SQLITE_OK)
        die("cannot open the bare database");
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                 "CREATE TABLE events (seq INTEGER PRIMARY KEY,"
                 " event_id TEXT NOT NULL UNIQUE, user_id TEXT NOT NULL,"
                 " item_id TEXT NOT NULL, type TEXT NOT NULL, value REAL,"
                 " occurred_at INTEGER NOT NULL, received_at INTEGER NOT NULL,"
                 " session_id TEXT);"
                 "CREATE INDEX events_by_user ON events(user_id, seq);",
                 NULL, NULL, NULL);
    sqlite3_prepare_v2(db,
                       "INSERT INTO events (event_id, user_id, item_id, type,"
                       " value, occurred_at, received_at, session_id)"
                       " VALUES (?, ?, ?, ?, NULL, ?, ?, NULL)",
                       -1, &st, NULL);

    double t0 = bench_now();
    for (long i = 0; i < opt.events; i++) {
        if (i % opt.batch == 0)
            sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        event_fields(i, user, item, &type);
        snprintf(id, sizeof(id), "bare-%ld", i);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, user, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, item, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, type, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, 1767225600000 + i);
        sqlite3_bind_int64(st, 6, 1767225600000 + i);
        if (sqlite3_step(st) != SQLITE_DONE)
            die(sqlite3_errmsg(db));
        sqlite3_reset(st);
        if (i % opt.batch == opt.batch - 1 || i == opt.events - 1)
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }
    double seconds = bench_now() - t0;

    sqlite3_finalize(st);
    sqlite3_close(db);
    return (double)opt.events / seconds;
}

/* ------------------------------------------------------------------ */
/* Through the service                                                */

static int port;
static atomic_long next_batch;
static atomic_long acknowledged;
static atomic_long failures;

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

static char *batch_body(long first, long n)
{
    size_t cap = (size_t)n * 160 + 32, len = 0;
    char *body = malloc(cap), user[32], item[32];
    const char *type;

    if (body == NULL)
        die("out of memory");
    len += (size_t)snprintf(body, cap, "{\"events\":[");
    for (long i = first; i < first + n; i++) {
        event_fields(i, user, item, &type);
        len += (size_t)snprintf(body + len, cap - len,
                                "%s{\"event_id\":\"e-%ld\",\"user_id\":\"%s\","
                                "\"item_id\":\"%s\",\"type\":\"%s\","
                                "\"timestamp\":%ld}",
                                i > first ? "," : "", i, user, item, type,
                                1767225600L + i / 1000);
    }
    snprintf(body + len, cap - len, "]}");
    return body;
}

static void *client(void *arg)
{
    CURL *curl = curl_easy_init();
    struct curl_slist *headers =
        curl_slist_append(NULL, "Content-Type: application/json");
    char url[64];
    long batches = (opt.events + opt.batch - 1) / opt.batch;

    (void)arg;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/events", port);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);

    for (;;) {
        long b = atomic_fetch_add(&next_batch, 1);
        if (b >= batches)
            break;
        long first = b * opt.batch;
        long n =
            first + opt.batch > opt.events ? opt.events - first : opt.batch;
        char *body = batch_body(first, n);
        long status = 0;

        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        if (curl_easy_perform(curl) == CURLE_OK)
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (status == 202)
            atomic_fetch_add(&acknowledged, n);
        else
            atomic_fetch_add(&failures, 1);
        free(body);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return NULL;
}

static pid_t start_server(const char *store)
{
    char threads[16];

    snprintf(threads, sizeof(threads), "%ld", opt.server_threads);
    const char *extra[] = {
        "--store", store, "--max-events", "1000", "--threads", threads, NULL};
    pid_t pid = bench_serve(opt.hoprec, port, "/livez", NULL, extra);
    if (pid < 0)
        die("the server did not start");
    return pid;
}

static double through_service(const char *store)
{
    pthread_t threads[256];
    long n = opt.connections;

    unlink(store);
    port = bench_free_port();
    pid_t pid = start_server(store);

    double t0 = bench_now();
    for (long i = 0; i < n; i++)
        pthread_create(&threads[i], NULL, client, NULL);
    for (long i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
    double seconds = bench_now() - t0;

    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    return (double)atomic_load(&acknowledged) / seconds;
}

static long stored_rows(const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    long n = -1;

    if (sqlite3_open(path, &db) != SQLITE_OK)
        return -1;
    if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM events", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--hoprec") == 0)
            opt.hoprec = argv[i + 1];
        else if (strcmp(argv[i], "--dir") == 0)
            opt.dir = argv[i + 1];
        else if (strcmp(argv[i], "--events") == 0)
            opt.events = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--batch") == 0)
            opt.batch = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--connections") == 0)
            opt.connections = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--server-threads") == 0)
            opt.server_threads = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--repeats") == 0)
            opt.repeats = atol(argv[i + 1]);
        else
            die("usage: ingest_bench --hoprec PATH [--events N] [--batch B]"
                " [--connections C] [--dir DIR]");
    }
    if (opt.hoprec == NULL || opt.events < 1 || opt.batch < 1 ||
        opt.batch > 1000 || opt.connections < 1 || opt.connections > 256)
        die("usage: ingest_bench --hoprec PATH [--events N] [--batch B 1..1000]"
            " [--connections C 1..256] [--dir DIR]");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, long n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    char bare[4096], store[4096];
    double bare_rates[64], http_rates[64];
    long rows = 0, acked_total = 0;
    bool all_stored = true;

    parse_args(argc, argv);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(bare, sizeof(bare), "%s/ingest-bench-bare.db", opt.dir);
    snprintf(store, sizeof(store), "%s/ingest-bench-store.db", opt.dir);

    for (long r = 0; r < opt.repeats; r++) {
        bare_rates[r] = bare_sqlite(bare);
        atomic_store(&acknowledged, 0);
        atomic_store(&next_batch, 0);
        http_rates[r] = through_service(store);
        rows = stored_rows(store);
        acked_total += atomic_load(&acknowledged);
        all_stored &= rows == atomic_load(&acknowledged);
        fprintf(stderr, "ingest_bench: run %ld: bare %.0f/s, service %.0f/s\n",
                r + 1, bare_rates[r], http_rates[r]);
    }
    double bare_rate = median(bare_rates, opt.repeats);
    double http_rate = median(http_rates, opt.repeats);

    printf("| path | events/s (median of %ld) | note |\n|---|---:|---|\n",
           opt.repeats);
    printf("| bare SQLite, one writer, %ld rows per transaction | %.0f | "
           "WAL, synchronous=FULL |\n",
           opt.batch, bare_rate);
    printf("| hoprec POST /v1/events, %ld connections, batches of %ld | "
           "%.0f | acknowledged (202) events, %ld server threads |\n",
           opt.connections, opt.batch, http_rate, opt.server_threads);
    printf("\nratio service / bare: %.2f; acknowledged %ld, every one "
           "stored: %s; failed requests %ld\n",
           http_rate / bare_rate, acked_total, all_stored ? "yes" : "NO",
           atomic_load(&failures));

    unlink(bare);
    unlink(store);
    curl_global_cleanup();
    return all_stored && atomic_load(&failures) == 0 ? 0 : 1;
}
