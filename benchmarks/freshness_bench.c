/*
 * Freshness under a read load: how long after a 202 from POST /v1/events
 * an event shows in that user's recommendations, first through the
 * on-the-fly user embedding (the answer's fallback turns "on_the_fly"),
 * then through a retrained generation (fallback "none": the model has a
 * row for the user).
 *
 *   freshness_bench --hoprec build/hoprec --snapshot DIR [--probes 30]
 *                   [--interval 2] [--readers 8] [--learn-epochs 1]
 *                   [--learn-threads 2] [--round-batches 40]
 *                   [--round-budget 20] [--dir /tmp] [--timeout 180]
 *
 * Each probe is a new user buying one known item; readers ask for the
 * recommendations of known users all the while. Prints p50/p95/max of
 * both delays in a Markdown table, then the median seconds of each phase
 * of the server's learning rounds (from its log).
 */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_proc.h"

enum { MAX_PROBES = 1000, MAX_IDS = 200000 };

static struct {
    const char *hoprec, *snapshot, *dir;
    long probes, readers, learn_epochs, learn_threads, round_batches;
    double interval, timeout, round_budget;
} opt = {NULL, NULL, "/tmp", 30, 8, 1, 2, 40, 2.0, 180.0, 20.0};

static int port;
static atomic_bool stop;
static atomic_long reads;
static char *users[MAX_IDS], *items[MAX_IDS];
static long n_users, n_items;

struct probe {
    char user[48];
    double posted;     /* when the 202 came; 0 = not yet */
    double fly;        /* seconds to the on-the-fly answer; <0 = not yet */
    double generation; /* seconds to a generation that knows the user */
};

static struct probe probes[MAX_PROBES];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void die(const char *what)
{
    fprintf(stderr, "freshness_bench: %s\n", what);
    exit(1);
}

static long read_ids(const char *path, char **out)
{
    FILE *f = fopen(path, "r");
    char line[512];
    long n = 0;

    if (f == NULL)
        die("cannot read the snapshot's id lists");
    while (n < MAX_IDS && fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        out[n++] = strdup(line);
    }
    fclose(f);
    return n;
}

struct body {
    char *p;
    size_t len;
};

static size_t collect(char *p, size_t size, size_t n, void *ctx)
{
    struct body *b = ctx;
    size_t add = size * n;
    char *grown = realloc(b->p, b->len + add + 1);

    if (grown == NULL)
        return 0;
    b->p = grown;
    memcpy(b->p + b->len, p, add);
    b->len += add;
    b->p[b->len] = '\0';
    return add;
}

/* The fallback of a user's answer ("" when the request failed). */
static void fallback_of(CURL *curl, const char *user, char *out, size_t size)
{
    char url[512];
    struct body b = {0};
    long status = 0;

    snprintf(url, sizeof(url),
             "http://127.0.0.1:%d/v1/users/%s/recommendations?k=10", port,
             user);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    out[0] = '\0';
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status == 200) {
        json_t *root = json_loads(b.p, 0, NULL);
        const char *f = json_string_value(json_object_get(root, "fallback"));
        snprintf(out, size, "%s", f ? f : "");
        json_decref(root);
    }
    free(b.p);
}

static void *reader(void *arg)
{
    CURL *curl = curl_easy_init();
    unsigned seed = (unsigned)(uintptr_t)arg;
    char fb[32];

    while (!atomic_load(&stop)) {
        fallback_of(curl, users[rand_r(&seed) % n_users], fb, sizeof(fb));
        atomic_fetch_add(&reads, 1);
    }
    curl_easy_cleanup(curl);
    return NULL;
}

static bool post_purchase(CURL *curl, const char *user, const char *item)
{
    char url[64], body[512];
    struct body b = {0};
    long status = 0;
    struct curl_slist *h =
        curl_slist_append(NULL, "Content-Type: application/json");

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/events", port);
    snprintf(body, sizeof(body),
             "{\"events\":[{\"user_id\":\"%s\",\"item_id\":\"%s\","
             "\"type\":\"purchase\"}]}",
             user, item);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    free(b.p);
    return status == 202;
}

/* Post one probe every interval seconds. */
static void *prober(void *arg)
{
    CURL *curl = curl_easy_init();

    (void)arg;
    for (long i = 0; i < opt.probes && !atomic_load(&stop); i++) {
        struct probe *p = &probes[i];
        snprintf(p->user, sizeof(p->user), "fresh-%d-%ld", getpid(), i);
        if (post_purchase(curl, p->user, items[(i * 7919) % n_items])) {
            pthread_mutex_lock(&lock);
            p->posted = bench_now();
            pthread_mutex_unlock(&lock);
        }
        usleep((useconds_t)(opt.interval * 1e6));
    }
    curl_easy_cleanup(curl);
    return NULL;
}

/* Watch every posted probe until both delays are known. */
static void watch(void)
{
    CURL *curl = curl_easy_init();
    double start = bench_now();
    char fb[32];

    for (;;) {
        long done = 0;
        for (long i = 0; i < opt.probes; i++) {
            struct probe *p = &probes[i];
            pthread_mutex_lock(&lock);
            double posted = p->posted;
            pthread_mutex_unlock(&lock);
            if (posted == 0 || p->generation >= 0) {
                done += p->generation >= 0;
                continue;
            }
            fallback_of(curl, p->user, fb, sizeof(fb));
            double t = bench_now() - posted;
            if (p->fly < 0 &&
                (strcmp(fb, "on_the_fly") == 0 || strcmp(fb, "none") == 0))
                p->fly = t;
            if (strcmp(fb, "none") == 0)
                p->generation = t;
        }
        if (done == opt.probes || bench_now() - start > opt.timeout)
            break;
        usleep(20000);
    }
    curl_easy_cleanup(curl);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void summary(const char *what, size_t offset)
{
    double v[MAX_PROBES];
    long n = 0, missing = 0;

    for (long i = 0; i < opt.probes; i++) {
        double t = *(const double *)((const char *)&probes[i] + offset);
        if (t >= 0)
            v[n++] = t;
        else
            missing++;
    }
    if (n == 0) {
        printf("| %s | - | - | - | %ld |\n", what, missing);
        return;
    }
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    printf("| %s | %.3f | %.3f | %.3f | %ld |\n", what, v[n / 2],
           v[(long)(0.95 * (double)(n - 1) + 0.5)], v[n - 1], missing);
}

/* The value of " key=" in a log line, or -1. */
static double log_field(const char *line, const char *key)
{
    char pat[64];
    const char *p;

    snprintf(pat, sizeof(pat), " %s=", key);
    p = strstr(line, pat);
    return p != NULL ? atof(p + strlen(pat)) : -1;
}

/* Median seconds of each phase over the rounds the server logged. */
static void phase_table(const char *log)
{
    static const char *const keys[] = {"events_s", "graph_s",    "holdout_s",
                                       "train_s",  "snapshot_s", "publish_s",
                                       "total_s",  "batches"};
    enum { N_KEYS = sizeof(keys) / sizeof(keys[0]) };
    static double v[N_KEYS][MAX_PROBES];
    long n = 0;
    char line[2048];
    FILE *f = fopen(log, "r");

    if (f == NULL)
        return;
    while (n < MAX_PROBES && fgets(line, sizeof(line), f) != NULL) {
        if (strstr(line, "learning round phases") == NULL ||
            strstr(line, "kind=incremental") == NULL)
            continue;
        for (int k = 0; k < N_KEYS; k++)
            v[k][n] = log_field(line, keys[k]);
        n++;
    }
    fclose(f);
    if (n == 0)
        return;
    printf("\nmedian of %ld incremental rounds (server log):\n\n|", n);
    for (int k = 0; k < N_KEYS; k++)
        printf(" %s |", keys[k]);
    printf("\n|");
    for (int k = 0; k < N_KEYS; k++)
        printf("---:|");
    printf("\n|");
    for (int k = 0; k < N_KEYS; k++) {
        qsort(v[k], (size_t)n, sizeof(double), cmp_double);
        printf(" %.3f |", v[k][n / 2]);
    }
    printf("\n");
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--hoprec") == 0)
            opt.hoprec = v;
        else if (strcmp(k, "--snapshot") == 0)
            opt.snapshot = v;
        else if (strcmp(k, "--dir") == 0)
            opt.dir = v;
        else if (strcmp(k, "--probes") == 0)
            opt.probes = atol(v);
        else if (strcmp(k, "--readers") == 0)
            opt.readers = atol(v);
        else if (strcmp(k, "--interval") == 0)
            opt.interval = atof(v);
        else if (strcmp(k, "--learn-epochs") == 0)
            opt.learn_epochs = atol(v);
        else if (strcmp(k, "--timeout") == 0)
            opt.timeout = atof(v);
        else if (strcmp(k, "--learn-threads") == 0)
            opt.learn_threads = atol(v);
        else if (strcmp(k, "--round-batches") == 0)
            opt.round_batches = atol(v);
        else if (strcmp(k, "--round-budget") == 0)
            opt.round_budget = atof(v);
    }
    if (opt.hoprec == NULL || opt.snapshot == NULL || opt.probes < 1 ||
        opt.probes > MAX_PROBES || opt.readers < 0 || opt.readers > 256)
        die("usage: freshness_bench --hoprec PATH --snapshot DIR [--probes "
            "1..1000] [--interval S] [--readers N] [--learn-epochs N] "
            "[--learn-threads N] [--round-batches N] [--round-budget S] "
            "[--dir DIR] [--timeout S]");
}

int main(int argc, char **argv)
{
    char path[4096], store[4096], learn[4096], log[4096], epochs[16];
    char lthreads[16], batches[16], budget[32];
    pthread_t threads[256], probe_thread;

    parse_args(argc, argv);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(path, sizeof(path), "%s/users.txt", opt.snapshot);
    n_users = read_ids(path, users);
    snprintf(path, sizeof(path), "%s/items.txt", opt.snapshot);
    n_items = read_ids(path, items);
    for (long i = 0; i < opt.probes; i++)
        probes[i].fly = probes[i].generation = -1;

    snprintf(store, sizeof(store), "%s/freshness-%d.db", opt.dir, getpid());
    snprintf(learn, sizeof(learn), "%s/freshness-%d", opt.dir, getpid());
    snprintf(log, sizeof(log), "%s/freshness-%d.log", opt.dir, getpid());
    snprintf(epochs, sizeof(epochs), "%ld", opt.learn_epochs);
    snprintf(lthreads, sizeof(lthreads), "%ld", opt.learn_threads);
    snprintf(batches, sizeof(batches), "%ld", opt.round_batches);
    snprintf(budget, sizeof(budget), "%g", opt.round_budget);
    const char *extra[] = {"--snapshot",
                           opt.snapshot,
                           "--store",
                           store,
                           "--data-dir",
                           learn,
                           "--learn-min-events",
                           "1",
                           "--learn-max-delay",
                           "1",
                           "--learn-incremental-epochs",
                           epochs,
                           "--learn-threads",
                           lthreads,
                           "--learn-round-batches",
                           batches,
                           "--learn-round-budget",
                           budget,
                           "--threads",
                           "8",
                           NULL};
    port = bench_free_port();
    pid_t pid = bench_serve(opt.hoprec, port, "/readyz", log, extra);
    if (pid < 0)
        die("the server did not start (see its log)");

    for (long i = 0; i < opt.readers; i++)
        pthread_create(&threads[i], NULL, reader, (void *)(uintptr_t)(i + 1));
    double t0 = bench_now();
    pthread_create(&probe_thread, NULL, prober, NULL);
    watch();
    atomic_store(&stop, true);
    pthread_join(probe_thread, NULL);
    for (long i = 0; i < opt.readers; i++)
        pthread_join(threads[i], NULL);
    double seconds = bench_now() - t0;

    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);

    printf("| delay after the 202 | p50 s | p95 s | max s | never seen |\n"
           "|---|---:|---:|---:|---:|\n");
    summary("on-the-fly answer (fallback on_the_fly)",
            offsetof(struct probe, fly));
    summary("retrained generation (fallback none)",
            offsetof(struct probe, generation));
    printf("\n%ld probes, one every %.1f s; %ld readers made %.0f "
           "requests/s meanwhile; %ld users, %ld items\n",
           opt.probes, opt.interval, opt.readers,
           (double)atomic_load(&reads) / seconds, n_users, n_items);
    phase_table(log);
    char cmd[12400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s' '%s'*", learn, log, store);
    if (system(cmd) != 0)
        fprintf(stderr, "freshness_bench: could not remove %s\n", learn);
    curl_global_cleanup();
    return 0;
}
