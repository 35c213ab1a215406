/*
 * Crash test: `hoprec serve` is killed with SIGKILL at random moments
 * while clients post events, then restarted on the same store, ROUNDS
 * times. Clients behave as a shop's pipeline should: a batch that got no
 * 202 is sent again, byte for byte, with the same Idempotency-Key, until
 * it is acknowledged. At the end:
 *
 *   - every acknowledged event is in the store,
 *   - no event is stored twice (the retries were recognised),
 *   - the store holds exactly the events sent, and
 *   - the server answered again after every restart.
 *
 *   crash_test --hoprec build/hoprec [--rounds 20] [--clients 8]
 *              [--snapshot DIR] [--dir /tmp] [--seed 1]
 *
 * Exits 0 when every check holds. With --snapshot the server must also be
 * ready (/readyz) after each restart, not only alive.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_proc.h"

enum { BATCH = 50, MAX_CLIENTS = 64 };

static struct {
    const char *hoprec, *snapshot, *dir;
    long rounds, clients;
    unsigned seed;
} opt = {NULL, NULL, "/tmp", 20, 8, 1};

static atomic_int port;
static atomic_bool stop_clients;
static atomic_long acknowledged, sent_batches, retries;

struct client {
    int id;
    long next_batch; /* batches are numbered per client */
    long acked;      /* batches acknowledged */
};

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

static char *batch_body(int client, long batch)
{
    size_t cap = BATCH * 150 + 32, len = 0;
    char *body = malloc(cap);

    len += (size_t)snprintf(body, cap, "{\"events\":[");
    for (int i = 0; i < BATCH; i++)
        len += (size_t)snprintf(
            body + len, cap - len,
            "%s{\"event_id\":\"c%d-b%ld-%d\",\"user_id\":\"u%d\","
            "\"item_id\":\"i%ld\",\"type\":\"purchase\"}",
            i ? "," : "", client, batch, i, client * 100 + i,
            (batch * 31 + i) % 500);
    snprintf(body + len, cap - len, "]}");
    return body;
}

/* Post one batch until it is acknowledged (or the test stops). */
static bool deliver(CURL *curl, int client, long batch)
{
    char url[64], key[64], header[96];
    char *body = batch_body(client, batch);
    bool first = true, acked = false;

    snprintf(key, sizeof(key), "c%d-b%ld", client, batch);
    snprintf(header, sizeof(header), "Idempotency-Key: %s", key);
    struct curl_slist *headers =
        curl_slist_append(NULL, "Content-Type: application/json");
    headers = curl_slist_append(headers, header);

    for (;;) {
        long status = 0;
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/events",
                 atomic_load(&port));
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        if (!first)
            atomic_fetch_add(&retries, 1);
        first = false;
        if (curl_easy_perform(curl) == CURLE_OK)
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (status == 202) {
            acked = true;
            break;
        }
        if (atomic_load(&stop_clients) && status == 0)
            break;
        usleep(20000);
    }
    curl_slist_free_all(headers);
    free(body);
    return acked;
}

static void *client_main(void *arg)
{
    struct client *c = arg;
    CURL *curl = curl_easy_init();

    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
    while (!atomic_load(&stop_clients)) {
        atomic_fetch_add(&sent_batches, 1);
        if (!deliver(curl, c->id, c->next_batch))
            break;
        c->next_batch++;
        c->acked++;
        atomic_fetch_add(&acknowledged, BATCH);
    }
    curl_easy_cleanup(curl);
    return NULL;
}

static pid_t start(const char *store, const char *log)
{
    const char *with_model[] = {"--store",   store, "--snapshot", opt.snapshot,
                                "--threads", "8",   NULL};
    const char *events_only[] = {"--store", store, "--threads", "8", NULL};

    return bench_serve(opt.hoprec, atomic_load(&port),
                       opt.snapshot ? "/readyz" : "/livez", log,
                       opt.snapshot ? with_model : events_only);
}

static long query_long(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    long n = -1;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--hoprec") == 0)
            opt.hoprec = argv[i + 1];
        else if (strcmp(argv[i], "--snapshot") == 0)
            opt.snapshot = argv[i + 1];
        else if (strcmp(argv[i], "--dir") == 0)
            opt.dir = argv[i + 1];
        else if (strcmp(argv[i], "--rounds") == 0)
            opt.rounds = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--clients") == 0)
            opt.clients = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--seed") == 0)
            opt.seed = (unsigned)atol(argv[i + 1]);
    }
    if (opt.hoprec == NULL || opt.rounds < 1 || opt.clients < 1 ||
        opt.clients > MAX_CLIENTS) {
        fprintf(stderr, "usage: crash_test --hoprec PATH [--rounds N] "
                        "[--clients 1..64] [--snapshot DIR] [--dir DIR] "
                        "[--seed S]\n");
        exit(2);
    }
}

int main(int argc, char **argv)
{
    char store[4096], log[4096];
    struct client clients[MAX_CLIENTS] = {0};
    pthread_t threads[MAX_CLIENTS];
    int restarts_ok = 0;

    parse_args(argc, argv);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    srand(opt.seed);
    snprintf(store, sizeof(store), "%s/crash-test-%d.db", opt.dir, getpid());
    snprintf(log, sizeof(log), "%s/crash-test-%d.log", opt.dir, getpid());
    atomic_store(&port, bench_free_port());

    pid_t pid = start(store, log);
    if (pid < 0) {
        fprintf(stderr, "crash_test: the server did not start (see %s)\n", log);
        return 1;
    }
    for (long c = 0; c < opt.clients; c++) {
        clients[c].id = (int)c;
        pthread_create(&threads[c], NULL, client_main, &clients[c]);
    }

    for (long r = 0; r < opt.rounds; r++) {
        usleep(100000 + (useconds_t)(rand() % 900000));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        pid = start(store, log);
        if (pid < 0) {
            fprintf(stderr, "crash_test: round %ld: no restart (see %s)\n",
                    r + 1, log);
            break;
        }
        restarts_ok++;
    }

    /* Let the clients finish the batches in flight on a live server. */
    usleep(300000);
    atomic_store(&stop_clients, true);
    for (long c = 0; c < opt.clients; c++)
        pthread_join(threads[c], NULL);
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }

    sqlite3 *db;
    sqlite3_open(store, &db);
    long stored = query_long(db, "SELECT COUNT(*) FROM events");
    long distinct = query_long(db, "SELECT COUNT(DISTINCT event_id) FROM "
                                   "events");
    sqlite3_close(db);

    long acked = atomic_load(&acknowledged);
    bool ok =
        restarts_ok == opt.rounds && stored == distinct && stored == acked;
    printf("| rounds | restarts answered | batches sent | retries | "
           "acknowledged events | stored | distinct |\n"
           "|---:|---:|---:|---:|---:|---:|---:|\n"
           "| %ld | %d | %ld | %ld | %ld | %ld | %ld |\n",
           opt.rounds, restarts_ok, atomic_load(&sent_batches),
           atomic_load(&retries), acked, stored, distinct);
    printf("\ncrash test: %s\n", ok ? "passed" : "FAILED");
    if (ok) {
        unlink(store);
        unlink(log);
    }
    curl_global_cleanup();
    return ok ? 0 : 1;
}
