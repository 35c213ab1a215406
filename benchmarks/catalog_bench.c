/*
 * catalog_bench: large catalogs in serving. For one catalog size it
 * builds, through the index module (index/idx.h), an exact index
 * (Flat), an IVF index (IVF<lists>,Flat, nprobe swept) and an HNSW index
 * (HNSW32,Flat, efSearch swept), and prints one Markdown row per
 * setting: build seconds, index bytes (the FAISS file plus the copy of
 * the vectors the module keeps for its exact fallback), RSS growth while
 * the index lives, milliseconds per single query (one call per query,
 * OpenMP limited to one thread; wall clock and the thread's CPU time,
 * which a busy shared machine disturbs less), single-threaded queries/s,
 * queries/s of one batched call on all threads, and recall@k against the exact
 * answer.
 *
 * Embeddings (--data):
 *   clusters  (default) a mixture of Gaussian clusters with power-law
 *             sizes, the shape trained item embeddings take: items of a
 *             category sit near its centre, categories are of very
 *             uneven size, and norms vary (log-normal) as they do with
 *             popularity. Queries (users) mix one to three popular
 *             centres plus noise, as a user's taste mixes categories.
 *   normal    i.i.d. standard normal vectors and queries: no structure
 *             at all, the pessimistic case for any ANN index.
 *
 * Rows are printed as soon as they are measured, so a run stopped by a
 * time limit keeps what it got.
 */
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "idx.h"

struct opts {
    int64_t items;
    int dim, queries, timed, k, clusters, nlist;
    double spread, norm_sigma, target;
    const char *data, *dir, *nprobes, *efs, *hnsw;
    int64_t hnsw_max; /* skip HNSW above this many items */
    bool skip_ivf, skip_hnsw;
};

static struct opts o = {
    .items = 100000,
    .dim = 64,
    .queries = 1000,
    .timed = 200,
    .k = 20,
    .spread = 1.0,
    .norm_sigma = 0.3,
    .target = 0.95,
    .data = "clusters",
    .dir = "/tmp",
    .nprobes = "1,2,4,8,16,32,64,128",
    .efs = "32,64,128,256,512,1024",
    .hnsw = "HNSW32,Flat",
    .hnsw_max = INT64_MAX,
};

static float *items, *queries;
static int64_t *truth; /* queries * k exact rows */

/* ------------------------------------------------------------------ */
/* Data                                                                */

static uint64_t rng = 0x5eed5eedull;

static double uniform(void)
{
    rng += 0x9e3779b97f4a7c15ull;
    uint64_t z = rng;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) * 0x1.0p-53;
}

static float normal(void)
{
    return (float)(sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform()));
}

static void *alloc(size_t bytes)
{
    void *p = malloc(bytes);

    if (p == NULL) {
        fprintf(stderr, "catalog_bench: out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    return p;
}

/* Index of the first entry of cum[0..n) above x * cum[n - 1]. */
static int pick(const double *cum, int n, double x)
{
    double t = x * cum[n - 1];
    int lo = 0, hi = n - 1;

    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (cum[mid] > t)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static void make_normal(void)
{
    size_t ni = (size_t)o.items * o.dim, nq = (size_t)o.queries * o.dim;

    for (size_t i = 0; i < ni; i++)
        items[i] = normal();
    for (size_t i = 0; i < nq; i++)
        queries[i] = normal();
}

static void make_clusters(void)
{
    int c = o.clusters, d = o.dim;
    float *centre = alloc((size_t)c * d * sizeof(float));
    double *cum = alloc((size_t)c * sizeof(double)), acc = 0;

    for (size_t i = 0; i < (size_t)c * d; i++)
        centre[i] = normal();
    for (int r = 0; r < c; r++) { /* cluster r has weight 1 / (r + 1) */
        acc += 1.0 / (r + 1.0);
        cum[r] = acc;
    }
    for (int64_t i = 0; i < o.items; i++) {
        const float *m = centre + (size_t)pick(cum, c, uniform()) * d;
        float *v = items + (size_t)i * d;
        float scale = (float)exp(o.norm_sigma * normal());
        for (int j = 0; j < d; j++)
            v[j] = scale * (m[j] + (float)o.spread * normal());
    }
    for (int q = 0; q < o.queries; q++) {
        float *v = queries + (size_t)q * d;
        int n_taste = 1 + (uniform() < 0.5) + (uniform() < 0.25);
        memset(v, 0, (size_t)d * sizeof(float));
        for (int t = 0; t < n_taste; t++) {
            const float *m = centre + (size_t)pick(cum, c, uniform()) * d;
            float w = (float)(0.2 + uniform());
            for (int j = 0; j < d; j++)
                v[j] += w * m[j];
        }
        for (int j = 0; j < d; j++)
            v[j] += (float)o.spread * normal();
    }
    free(centre);
    free(cum);
}

/* ------------------------------------------------------------------ */
/* Measuring                                                           */

static double clock_s(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

/* Resident set size in bytes, from /proc/self/statm. */
static double rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f == NULL)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    fclose(f);
    return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

static void die(const char *what, const struct idx_error *err)
{
    fprintf(stderr, "catalog_bench: %s: %s\n", what, err->text);
    exit(1);
}

/* Bytes of the FAISS index as written by idx_save. */
static double file_bytes(const struct idx *ix)
{
    struct idx_error err;
    struct stat st;
    char path[512];

    snprintf(path, sizeof(path), "%s/catalog_bench-%d.faiss", o.dir,
             (int)getpid());
    if (idx_save(ix, path, &err) != 0)
        die("save", &err);
    double bytes = stat(path, &st) == 0 ? (double)st.st_size : 0;
    remove(path);
    return bytes;
}

/* Mean share of the exact top k found in labels (queries * k). */
static double recall(const int64_t *labels)
{
    double hit = 0;

    for (int q = 0; q < o.queries; q++) {
        const int64_t *a = labels + (size_t)q * o.k;
        const int64_t *t = truth + (size_t)q * o.k;
        for (int x = 0; x < o.k; x++)
            for (int y = 0; y < o.k; y++)
                if (a[x] == t[y] && a[x] >= 0) {
                    hit++;
                    break;
                }
    }
    return hit / ((double)o.queries * o.k);
}

struct built {
    struct idx *ix;
    double build_s, build_cpu_s, bytes, rss_growth;
};

static struct built build(const char *factory)
{
    struct idx_config cfg = {.factory = factory};
    struct idx_error err;
    struct built b;
    double rss0 = rss_bytes(), t0 = now();
    double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);

    if (idx_build(&cfg, items, o.items, o.dim, &b.ix, &err) != 0)
        die(factory, &err);
    b.build_s = now() - t0;
    b.build_cpu_s = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    b.rss_growth = rss_bytes() - rss0;
    b.bytes = file_bytes(b.ix);
    if (!idx_is_exact(b.ix)) /* the module's own copy of the vectors */
        b.bytes += (double)o.items * o.dim * sizeof(float);
    return b;
}

static void header(void)
{
    printf("| items | index | setting | build s (CPU s) | index bytes "
           "| bytes/item | RSS growth MiB | ms/query (1 thread) "
           "| CPU ms/query | queries/s (1 thread) "
           "| queries/s (batch, all threads) | recall@%d |\n",
           o.k);
    printf("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    fflush(stdout);
}

/*
 * Time single queries (the first o.timed, one call each) and one batched
 * call of all queries; print the row and return the recall.
 */
static double measure(const struct built *b, const char *name,
                      const char *setting, bool first)
{
    size_t kq = (size_t)o.queries * o.k;
    float *scores = alloc(kq * sizeof(float));
    int64_t *labels = alloc(kq * sizeof(int64_t));
    struct idx_error err;
    int timed = o.timed < o.queries ? o.timed : o.queries;

    /* One OpenMP thread: a parallel region around one query only adds
     * wake-ups, which on a busy machine cost more than the search. */
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    double t0 = now(), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    for (int q = 0; q < timed; q++)
        if (idx_search(b->ix, 1, queries + (size_t)q * o.dim, o.dim, o.k,
                       scores + (size_t)q * o.k, labels + (size_t)q * o.k,
                       &err) != 0)
            die("search", &err);
    double single = (now() - t0) / timed;
    double cpu = (clock_s(CLOCK_THREAD_CPUTIME_ID) - c0) / timed;
    omp_set_num_threads(threads);

    t0 = now();
    if (idx_search(b->ix, o.queries, queries, o.dim, o.k, scores, labels,
                   &err) != 0)
        die("batch search", &err);
    double batch = now() - t0;
    double r = truth != NULL ? recall(labels) : 1.0;

    char build_s[48], bytes[32], per_item[32], growth[32];
    if (first) {
        snprintf(build_s, sizeof(build_s), "%.1f (%.1f)", b->build_s,
                 b->build_cpu_s);
        snprintf(bytes, sizeof(bytes), "%.0f", b->bytes);
        snprintf(per_item, sizeof(per_item), "%.0f", b->bytes / o.items);
        snprintf(growth, sizeof(growth), "%.0f", b->rss_growth / 1048576.0);
    } else {
        strcpy(build_s, "");
        strcpy(bytes, "");
        strcpy(per_item, "");
        strcpy(growth, "");
    }
    printf("| %lld | %s | %s | %s | %s | %s | %s | %.3f | %.3f | %.0f | %.0f "
           "| %.3f |\n",
           (long long)o.items, name, setting, build_s, bytes, per_item, growth,
           single * 1e3, cpu * 1e3, 1.0 / single, o.queries / batch, r);
    fflush(stdout);
    if (truth == NULL) { /* the exact answer is the reference */
        truth = labels;
        labels = NULL;
    }
    free(labels);
    free(scores);
    return r;
}

/* Sweep param over the comma list values until recall >= target. */
static void sweep(const struct built *b, const char *name, const char *param,
                  const char *values)
{
    char *list = strdup(values), *save = NULL;
    struct idx_error err;
    bool first = true;

    for (char *v = strtok_r(list, ",", &save); v != NULL;
         v = strtok_r(NULL, ",", &save)) {
        char setting[64];
        if (idx_set_param(b->ix, param, atof(v), &err) != 0)
            die(param, &err);
        snprintf(setting, sizeof(setting), "%s=%s", param, v);
        if (measure(b, name, setting, first) >= o.target)
            break;
        first = false;
    }
    free(list);
}

/* ------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr, "usage: catalog_bench [--items N] [--dim D] [--data "
                    "clusters|normal]\n"
                    "  [--clusters C] [--spread S] [--norm-sigma S] [--queries "
                    "Q] [--timed T] [--k K]\n"
                    "  [--nlist L] [--nprobes LIST] [--efs LIST] [--target R]\n"
                    "  [--hnsw FACTORY] [--hnsw-max-items N] [--skip-ivf] "
                    "[--skip-hnsw]\n"
                    "  [--dir DIR]\n");
    exit(2);
}

static void parse(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"items", required_argument, NULL, 'n'},
        {"dim", required_argument, NULL, 'd'},
        {"data", required_argument, NULL, 'D'},
        {"clusters", required_argument, NULL, 'c'},
        {"spread", required_argument, NULL, 's'},
        {"norm-sigma", required_argument, NULL, 'N'},
        {"queries", required_argument, NULL, 'q'},
        {"timed", required_argument, NULL, 't'},
        {"k", required_argument, NULL, 'k'},
        {"nlist", required_argument, NULL, 'l'},
        {"nprobes", required_argument, NULL, 'p'},
        {"efs", required_argument, NULL, 'e'},
        {"target", required_argument, NULL, 'r'},
        {"hnsw", required_argument, NULL, 'h'},
        {"hnsw-max-items", required_argument, NULL, 'm'},
        {"skip-ivf", no_argument, NULL, 'I'},
        {"skip-hnsw", no_argument, NULL, 'H'},
        {"dir", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            o.items = atoll(optarg);
            break;
        case 'd':
            o.dim = atoi(optarg);
            break;
        case 'D':
            o.data = optarg;
            break;
        case 'c':
            o.clusters = atoi(optarg);
            break;
        case 's':
            o.spread = atof(optarg);
            break;
        case 'N':
            o.norm_sigma = atof(optarg);
            break;
        case 'q':
            o.queries = atoi(optarg);
            break;
        case 't':
            o.timed = atoi(optarg);
            break;
        case 'k':
            o.k = atoi(optarg);
            break;
        case 'l':
            o.nlist = atoi(optarg);
            break;
        case 'p':
            o.nprobes = optarg;
            break;
        case 'e':
            o.efs = optarg;
            break;
        case 'r':
            o.target = atof(optarg);
            break;
        case 'h':
            o.hnsw = optarg;
            break;
        case 'm':
            o.hnsw_max = atoll(optarg);
            break;
        case 'I':
            o.skip_ivf = true;
            break;
        case 'H':
            o.skip_hnsw = true;
            break;
        case 'o':
            o.dir = optarg;
            break;
        default:
            usage();
        }
    }
    if (o.items < 100 || o.dim < 1 || o.queries < 1 || o.timed < 1 || o.k < 1 ||
        o.k > 1000 ||
        (strcmp(o.data, "clusters") != 0 && strcmp(o.data, "normal") != 0))
        usage();
    if (o.clusters <= 0) /* about 500 items per cluster on average */
        o.clusters = o.items / 500 > 16 ? (int)(o.items / 500) : 16;
    if (o.nlist <= 0) { /* the power of two nearest sqrt(items) */
        double l = log2(sqrt((double)o.items));
        o.nlist = 1 << (int)(l + 0.5);
    }
}

int main(int argc, char **argv)
{
    char factory[64];

    parse(argc, argv);
    items = alloc((size_t)o.items * o.dim * sizeof(float));
    queries = alloc((size_t)o.queries * o.dim * sizeof(float));
    double t0 = now();
    if (strcmp(o.data, "normal") == 0)
        make_normal();
    else
        make_clusters();
    printf("\ncatalog_bench: %lld items, dim %d, %s", (long long)o.items, o.dim,
           o.data);
    if (strcmp(o.data, "clusters") == 0)
        printf(" (%d clusters, Zipf sizes, spread %.2f)", o.clusters, o.spread);
    printf("; %d queries, %d timed one by one; k = %d; %ld cores online; "
           "data made in %.1f s\n\n",
           o.queries, o.timed, o.k, sysconf(_SC_NPROCESSORS_ONLN), now() - t0);
    header();

    struct built b = build("Flat");
    measure(&b, "Flat", "exact", true);
    idx_free(b.ix);

    if (!o.skip_ivf) {
        snprintf(factory, sizeof(factory), "IVF%d,Flat", o.nlist);
        b = build(factory);
        sweep(&b, factory, "nprobe", o.nprobes);
        idx_free(b.ix);
    }
    if (!o.skip_hnsw && o.items <= o.hnsw_max) {
        b = build(o.hnsw);
        sweep(&b, o.hnsw, "efSearch", o.efs);
        idx_free(b.ix);
    }

    double load[1];
    if (getloadavg(load, 1) == 1)
        printf("\nload average %.2f at the end\n", load[0]);
    free(truth);
    free(items);
    free(queries);
    return 0;
}
