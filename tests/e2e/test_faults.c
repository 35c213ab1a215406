/*
 * Fault injection against the real parts:
 *
 * - a full disk under the event store. Unprivileged and without a small
 *   file system, the test lowers the server process's RLIMIT_FSIZE with
 *   prlimit(2) (SIGXFSZ ignored, inherited through exec): every write at
 *   an offset past the limit then fails with EFBIG, which SQLite reports
 *   as an I/O error, as it would ENOSPC. Raising the limit again is
 *   "space returns".
 * - corrupted and truncated snapshots given to `hoprec serve`, and to
 *   svc_model_load() while a good generation is served.
 * - SIGKILL of `hoprec train --out DIR` at random moments: DIR must be
 *   the old complete snapshot or the new complete one.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gnn_snapshot.h"
#include "gnn_store.h"
#include "model.h"
#include "server_proc.h"

static char dir[64];

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&t, NULL);
}

static void make_dir(void)
{
    strcpy(dir, "/tmp/hoprec-faults-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];

    if (dir[0] == '\0')
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* Run the hoprec binary with argv[1..] (NULL-ended), stdout and stderr to
 * log (may be NULL: discarded); returns the child's pid. */
static pid_t spawn_hoprec(const char *const *args, const char *log)
{
    const char *bin = getenv("HOPREC_BIN");
    char *argv[32];
    int n = 0;
    pid_t pid;

    cr_assert_not_null(bin, "HOPREC_BIN must name the hoprec binary");
    argv[n++] = (char *)bin;
    for (; args[n - 1] != NULL && n < 31; n++)
        argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int fd =
            open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);

        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(bin, argv);
        _exit(127);
    }
    return pid;
}

static int run_hoprec(const char *const *args, const char *log)
{
    int status;
    pid_t pid = spawn_hoprec(args, log);

    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ------------------------------------------------------------------ */
/* The event store on a full disk */

static struct server_proc srv;

static int post_event(const char *id, char *retry, size_t size)
{
    char body[256];
    struct http_resp r;
    int status;

    snprintf(body, sizeof(body),
             "{\"events\": [{\"event_id\": \"%s\", \"user_id\": \"u1\", "
             "\"item_id\": \"i1\", \"type\": \"purchase\"}]}",
             id);
    cr_assert_eq(http_request(srv.port, "POST", "/v1/events",
                              "Content-Type: application/json\r\n", body, &r),
                 0, "POST %s: no answer (the server must stay up)", id);
    status = r.status;
    if (retry != NULL && http_header(&r, "Retry-After", retry, size) == NULL)
        retry[0] = '\0';
    http_resp_free(&r);
    return status;
}

static void set_fsize(pid_t pid, rlim_t limit)
{
    struct rlimit rl = {limit, RLIM_INFINITY};

    cr_assert_eq(prlimit(pid, RLIMIT_FSIZE, &rl, NULL), 0,
                 "prlimit on the server: %s", strerror(errno));
}

struct want {
    char (*ids)[32];
    int n;
    bool *found;
    int64_t n_stored;
};

static int note_event(void *ctx, int64_t seq, const struct gnn_event *ev)
{
    struct want *w = ctx;

    w->n_stored++;
    for (int i = 0; i < w->n; i++) {
        if (strcmp(ev->event_id, w->ids[i]) == 0)
            w->found[i] = true;
    }
    return 0;
}

Test(faults, full_disk_answers_503_and_recovers, .timeout = 60)
{
    char store[96], retry[16], acked[64][32], id[32];
    int n_acked = 0, n_refused = 0;
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;

    make_dir();
    snprintf(store, sizeof(store), "%s/events.db", dir);
    const char *const args[] = {"--store", store, NULL};

    /* Ignored signals stay ignored across exec: the server gets EFBIG
     * instead of being killed by SIGXFSZ. */
    sigaction(SIGXFSZ, &ign, &old);
    cr_assert_eq(server_start(&srv, args, NULL), 0, "serve must start");
    sigaction(SIGXFSZ, &old, NULL);

    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof(id), "before-%d", i);
        cr_assert_eq(post_event(id, NULL, 0), 202);
        strcpy(acked[n_acked++], id);
    }

    /* The disk fills up: no write past the first byte of any file. */
    set_fsize(srv.pid, 1);
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof(id), "full-%d", i);
        int status = post_event(id, retry, sizeof(retry));

        cr_expect(status == 503 || status == 202,
                  "on a full disk: 503 (or a durable 202), got %d", status);
        if (status == 202) {
            strcpy(acked[n_acked++], id);
        } else {
            n_refused++;
            cr_expect(retry[0] != '\0', "a 503 must carry Retry-After");
        }
    }
    cr_expect_gt(n_refused, 0, "a full disk must refuse some events");

    struct http_resp r;
    cr_assert_eq(http_request(srv.port, "GET", "/livez", NULL, NULL, &r), 0,
                 "the server must stay up on a full disk");
    cr_expect_eq(r.status, 200);
    http_resp_free(&r);

    /* Space returns. */
    set_fsize(srv.pid, RLIM_INFINITY);
    int status = 0;
    for (int i = 0; i < 20 && status != 202; i++) {
        snprintf(id, sizeof(id), "after-%d", i);
        status = post_event(id, NULL, 0);
        if (status == 202)
            strcpy(acked[n_acked++], id);
        else
            sleep_ms(250);
    }
    cr_expect_eq(status, 202, "events must be accepted once space returns");
    cr_assert_eq(server_stop(&srv, 10), 0, "serve must exit 0");

    /* Every acknowledged event is stored, and nothing refused is. */
    bool found[64] = {false};
    struct want w = {acked, n_acked, found, 0};
    struct gnn_store *st;
    cr_assert_eq(gnn_store_open(store, &st, NULL), 0);
    cr_assert_eq(gnn_store_scan(st, 0, note_event, &w, NULL), 0);
    gnn_store_close(st);
    for (int i = 0; i < n_acked; i++)
        cr_expect(found[i], "acknowledged %s must be stored", acked[i]);
    cr_expect_eq(w.n_stored, n_acked, "stored %lld, acknowledged %d",
                 (long long)w.n_stored, n_acked);
    remove_dir();
}

/* ------------------------------------------------------------------ */
/* Corrupted and truncated snapshots */

static void write_snapshot(const char *path, float scale)
{
    struct gnn_snapshot *s;

    cr_assert_eq(gnn_snapshot_new("test", 4, 3, 6, &s, NULL), 0);
    for (int i = 0; i < 3 * 4; i++)
        s->users[i] = scale * (float)(i + 1);
    for (int i = 0; i < 6 * 4; i++) {
        s->items_source[i] = scale * (float)(i % 5);
        s->items_target[i] = scale * (float)(i % 3);
    }
    cr_assert_eq(gnn_snapshot_write(s, path, NULL), 0);
    gnn_snapshot_free(s);
}

/* Damage in the ways disks and interrupted copies do. */
enum damage { FLIP_BYTE, TRUNCATE, EMPTY_MANIFEST, DROP_FILE, N_DAMAGE };

static void damage(const char *snap, enum damage how)
{
    char path[160];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", snap,
             how == EMPTY_MANIFEST ? "manifest.json" : "users.npy");
    cr_assert_eq(stat(path, &st), 0);
    if (how == FLIP_BYTE) {
        int fd = open(path, O_RDWR);
        unsigned char c;

        cr_assert_eq(pread(fd, &c, 1, st.st_size - 1), 1);
        c ^= 0x40;
        cr_assert_eq(pwrite(fd, &c, 1, st.st_size - 1), 1);
        close(fd);
    } else if (how == TRUNCATE) {
        cr_assert_eq(truncate(path, st.st_size / 2), 0);
    } else if (how == EMPTY_MANIFEST) {
        cr_assert_eq(truncate(path, 0), 0);
    } else {
        cr_assert_eq(unlink(path), 0);
    }
}

Test(faults, serve_refuses_a_bad_snapshot_with_one_line, .timeout = 60)
{
    char snap[96], out[4096];

    make_dir();
    snprintf(snap, sizeof(snap), "%s/model", dir);
    for (int how = 0; how < N_DAMAGE; how++) {
        write_snapshot(snap, 1.0f);
        damage(snap, (enum damage)how);
        const char *const args[] = {"--snapshot", snap, NULL};
        int status = serve_expect_exit(args, out, sizeof(out));

        cr_expect_neq(status, 0, "damage %d: serve must refuse: %s", how, out);
        /* The failure is one line; other lines are routine start-up
         * logs, never a second error. */
        int about = 0, errors = 0;
        for (char *line = strtok(out, "\n"); line != NULL;
             line = strtok(NULL, "\n")) {
            if (strstr(line, "snapshot") != NULL &&
                (strstr(line, "users.npy") != NULL ||
                 strstr(line, "manifest.json") != NULL))
                about++;
            else if (strstr(line, "level=error") != NULL)
                errors++;
        }
        cr_expect_eq(about, 1,
                     "damage %d: one line naming the bad file, got %d", how,
                     about);
        cr_expect_eq(errors, 0, "damage %d: %d other error lines", how, errors);
    }
    remove_dir();
}

Test(faults, a_bad_generation_never_replaces_the_served_one, .timeout = 60)
{
    struct svc_model_config cfg = {
        .index_factory = "Flat", .search_threads = 1, .max_k = 10};
    char good[96], bad[96];
    struct svc_model *m;
    struct svc_error err;

    make_dir();
    snprintf(good, sizeof(good), "%s/good", dir);
    snprintf(bad, sizeof(bad), "%s/bad", dir);
    write_snapshot(good, 1.0f);
    cr_assert_eq(svc_model_new(&cfg, &m, NULL), 0);
    cr_assert_eq(svc_model_load(m, good, &err), 0, "%s", err.text);
    struct svc_gen *served = svc_model_acquire(m);
    cr_assert_not_null(served);
    int64_t version = svc_gen_version(served);

    for (int how = 0; how < N_DAMAGE; how++) {
        write_snapshot(bad, -2.0f);
        damage(bad, (enum damage)how);
        cr_expect_neq(svc_model_load(m, bad, &err), 0,
                      "damage %d must be refused", how);
        struct svc_gen *now = svc_model_acquire(m);
        cr_expect_eq(now, served, "damage %d replaced the generation", how);
        cr_expect_eq(svc_gen_version(now), version);
        svc_gen_release(now);
    }
    svc_gen_release(served);
    svc_model_free(m);
    remove_dir();
}

/* ------------------------------------------------------------------ */
/* SIGKILL while `hoprec train` writes its snapshot */

static bool same_users(const struct gnn_snapshot *a,
                       const struct gnn_snapshot *b)
{
    return a->n_users == b->n_users && a->dim == b->dim &&
           memcmp(a->users, b->users,
                  sizeof(float) * (size_t)a->n_users * (size_t)a->dim) == 0;
}

static struct gnn_snapshot *load_ok(const char *path)
{
    struct gnn_snapshot *s = NULL;
    struct gnn_error err = {0};

    cr_assert_eq(gnn_snapshot_load(path, &s, &err), 0,
                 "%s must be a complete snapshot: %s", path, err.text);
    return s;
}

static double now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Wait (up to limit_ms) until a ".model.tmp-PID-" folder exists in dir,
 * then delay_us more. */
static void wait_for_tmp(pid_t pid, double limit_ms, int delay_us)
{
    char prefix[64];
    double t0 = now_ms();

    snprintf(prefix, sizeof(prefix), ".model.tmp-%ld-", (long)pid);
    while (now_ms() - t0 < limit_ms) {
        DIR *d = opendir(dir);
        struct dirent *e;
        bool seen = false;

        cr_assert_not_null(d);
        while ((e = readdir(d)) != NULL && !seen)
            seen = strncmp(e->d_name, prefix, strlen(prefix)) == 0;
        closedir(d);
        if (seen)
            break;
        usleep(200);
    }
    usleep((useconds_t)delay_us);
}

Test(faults, sigkill_during_train_leaves_old_or_new_snapshot, .timeout = 120)
{
    char data[96], snap[96], ref[96];
    int kept_old = 0, got_new = 0;

    make_dir();
    snprintf(data, sizeof(data), "%s/data", dir);
    snprintf(snap, sizeof(snap), "%s/model", dir);
    snprintf(ref, sizeof(ref), "%s/ref", dir);
    const char *const gen[] = {"gen", "--out",   data,  "--users",
                               "300", "--items", "200", "--categories",
                               "5",   NULL};
    cr_assert_eq(run_hoprec(gen, NULL), 0);

    /* The old snapshot (seed 1) and what a finished run with seed 2
     * writes: training is deterministic for a seed and thread count. */
#define TRAIN(out, seed)                                                       \
    {                                                                          \
        "train", "--data", data, "--model", "mf", "--dim", "32", "--epochs",   \
            "3", "--eval-every", "0", "--threads", "1", "--seed", seed,        \
            "--out", out, NULL                                                 \
    }
    const char *const old_args[] = TRAIN(snap, "1");
    const char *const ref_args[] = TRAIN(ref, "2");
    const char *const new_args[] = TRAIN(snap, "2");
    cr_assert_eq(run_hoprec(old_args, NULL), 0);
    double t0 = now_ms();
    cr_assert_eq(run_hoprec(ref_args, NULL), 0);
    double full = now_ms() - t0;
    struct gnn_snapshot *old = load_ok(snap), *fresh = load_ok(ref);
    cr_assert(!same_users(old, fresh), "the seeds must give two models");

    srand((unsigned)getpid());
    for (int round = 0; round < 12; round++) {
        /* Odd rounds kill at a random moment of the run; even rounds
         * wait until the writer's temporary folder appears, then kill
         * within the next few milliseconds, while the files are written. */
        pid_t pid = spawn_hoprec(new_args, NULL);
        int status;

        if (round % 2 == 1)
            sleep_ms((int)(full * (double)rand() / RAND_MAX));
        else
            wait_for_tmp(pid, full * 3, rand() % 4000);
        kill(pid, SIGKILL);
        cr_assert_eq(waitpid(pid, &status, 0), pid);

        struct gnn_snapshot *now = load_ok(snap);
        bool is_old = same_users(now, old), is_new = same_users(now, fresh);
        cr_expect(is_old || is_new, "round %d: neither old nor new", round);
        kept_old += is_old;
        got_new += is_new;
        gnn_snapshot_free(now);

        /* Back to the old snapshot for the next round. */
        if (is_new)
            cr_assert_eq(run_hoprec(old_args, NULL), 0);
    }
    cr_log_info("SIGKILL rounds: %d kept the old snapshot, %d the new",
                kept_old, got_new);

    /* What the killed runs left beside the folder does not stop the next
     * write, and nothing but the snapshot and data folders remain once it
     * finished (ls lists any leftover; grep fails when there is none). */
    cr_assert_eq(run_hoprec(new_args, NULL), 0);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "ls -A '%s' | grep -Ev '^(data|model|ref)$'",
             dir);
    cr_expect_neq(system(cmd), 0, "temporary folders left beside the snapshot");
    struct gnn_snapshot *last = load_ok(snap);
    cr_expect(same_users(last, fresh));
    gnn_snapshot_free(last);
    gnn_snapshot_free(old);
    gnn_snapshot_free(fresh);
    remove_dir();
}

/* A pid that ran and is gone: a child that exited and was reaped. */
static pid_t dead_pid(void)
{
    int status;
    pid_t pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(0);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return pid;
}

Test(faults, a_write_removes_what_killed_writers_left, .timeout = 60)
{
    char data[96], snap[96], stale[128], live[128], other[128], cmd[256];

    make_dir();
    snprintf(data, sizeof(data), "%s/data", dir);
    snprintf(snap, sizeof(snap), "%s/model", dir);
    const char *const gen[] = {"gen", "--out",   data, "--users",
                               "30",  "--items", "20", "--categories",
                               "2",   NULL};
    cr_assert_eq(run_hoprec(gen, NULL), 0);

    /* What a killed writer of another snapshot in the same folder left
     * (a learner names each generation anew), one of a writer that still
     * runs (this test), and a folder that only looks similar. */
    snprintf(stale, sizeof(stale), "%s/.gen-7.tmp-%ld-Ab3xYz", dir,
             (long)dead_pid());
    snprintf(live, sizeof(live), "%s/.gen-8.tmp-%ld-Qw3rty", dir,
             (long)getpid());
    snprintf(other, sizeof(other), "%s/.gen-9.tmp-x-Ab3xYz", dir);
    cr_assert_eq(mkdir(stale, 0700), 0);
    snprintf(cmd, sizeof(cmd), "%s/users.npy", stale);
    int fd = open(cmd, O_WRONLY | O_CREAT, 0600);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(mkdir(live, 0700), 0);
    cr_assert_eq(mkdir(other, 0700), 0);

    const char *const train[] = {"train", "--data",   data, "--model",
                                 "mf",    "--epochs", "1",  "--dim",
                                 "4",     "--out",    snap, NULL};
    cr_assert_eq(run_hoprec(train, NULL), 0);
    gnn_snapshot_free(load_ok(snap));

    struct stat st;
    cr_expect_neq(stat(stale, &st), 0, "a dead writer's folder must go");
    cr_expect_eq(stat(live, &st), 0, "a running writer's folder must stay");
    cr_expect_eq(stat(other, &st), 0, "other folders must stay");
    remove_dir();
}
