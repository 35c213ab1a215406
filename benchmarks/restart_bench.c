/*
 * Restart cost: seconds from starting `hoprec serve` until /readyz answers
 * 200, with an empty event store and with N stored events that the served
 * snapshot has not learned (all of them are replayed into the served
 * model before the server listens).
 *
 *   restart_bench --hoprec build/hoprec --snapshot DIR [--events 1000000]
 *                 [--dir /tmp]
 *
 * The events use the snapshot's own user and item ids, so the replay does
 * the full work of an interaction the model knows.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_proc.h"
#include "gnn.h"

enum { BATCH = 10000 };

static char *read_line_n(const char *path, long n)
{
    FILE *f = fopen(path, "r");
    char line[512];
    long i = 0;

    if (f == NULL)
        return NULL;
    while (fgets(line, sizeof(line), f) != NULL && i++ < n)
        continue;
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    return strdup(line);
}

static void fill(const char *db, const char *snapshot, long n)
{
    static char users[BATCH][64], items[BATCH][64];
    static struct gnn_event ev[BATCH];
    char up[4096], ip[4096];
    struct gnn_store *s;
    struct gnn_error err = {0};

    snprintf(up, sizeof(up), "%s/users.txt", snapshot);
    snprintf(ip, sizeof(ip), "%s/items.txt", snapshot);
    if (gnn_store_open(db, &s, &err) != 0) {
        fprintf(stderr, "restart_bench: %s\n", err.text);
        exit(1);
    }

    /* A few hundred distinct ids, cycled: reading them is not measured. */
    char *u[256], *it[256];
    for (int i = 0; i < 256; i++) {
        u[i] = read_line_n(up, i * 7);
        it[i] = read_line_n(ip, i * 13);
    }
    for (long done = 0; done < n;) {
        int m = n - done < BATCH ? (int)(n - done) : BATCH;
        for (int i = 0; i < m; i++) {
            long k = done + i;
            snprintf(users[i], 64, "%s", u[k % 256]);
            snprintf(items[i], 64, "%s", it[(k * 31) % 256]);
            ev[i] = (struct gnn_event){.user_id = users[i],
                                       .item_id = items[i],
                                       .type = (enum gnn_event_type)(k % 4),
                                       .occurred_at_ms = 1767225600000 + k};
            snprintf(ev[i].event_id, sizeof(ev[i].event_id), "r%ld", k);
        }
        if (gnn_store_append(s, ev, (size_t)m, NULL, NULL, 0, NULL, NULL, NULL,
                             &err) != 0) {
            fprintf(stderr, "restart_bench: %s\n", err.text);
            exit(1);
        }
        done += m;
    }
    gnn_store_close(s);
    for (int i = 0; i < 256; i++) {
        free(u[i]);
        free(it[i]);
    }
}

static double time_to_ready(const char *hoprec, const char *snapshot,
                            const char *db)
{
    const char *extra[] = {"--snapshot", snapshot, "--store", db, NULL};
    int port = bench_free_port();
    double t0 = bench_now();
    pid_t pid = bench_serve(hoprec, port, "/readyz", NULL, extra);
    double seconds = bench_now() - t0;

    if (pid < 0) {
        fprintf(stderr, "restart_bench: the server did not start\n");
        exit(1);
    }
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return seconds;
}

int main(int argc, char **argv)
{
    const char *hoprec = NULL, *snapshot = NULL, *dir = "/tmp";
    long events = 1000000;
    char empty[4096], full[4096];

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--hoprec") == 0)
            hoprec = argv[i + 1];
        else if (strcmp(argv[i], "--snapshot") == 0)
            snapshot = argv[i + 1];
        else if (strcmp(argv[i], "--events") == 0)
            events = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--dir") == 0)
            dir = argv[i + 1];
    }
    if (hoprec == NULL || snapshot == NULL || events < 1) {
        fprintf(stderr, "usage: restart_bench --hoprec PATH --snapshot DIR "
                        "[--events N] [--dir DIR]\n");
        return 2;
    }

    snprintf(empty, sizeof(empty), "%s/restart-empty-%d.db", dir, getpid());
    snprintf(full, sizeof(full), "%s/restart-full-%d.db", dir, getpid());
    fill(empty, snapshot, 0);
    double t_fill = bench_now();
    fill(full, snapshot, events);
    t_fill = bench_now() - t_fill;

    double base = time_to_ready(hoprec, snapshot, empty);
    double with = time_to_ready(hoprec, snapshot, full);

    printf("| store | seconds to ready |\n|---|---:|\n"
           "| empty | %.2f |\n| %ld events to replay | %.2f |\n\n"
           "replay: %.2f s per million events (filling the store took "
           "%.1f s)\n",
           base, events, with, (with - base) * 1e6 / (double)events,
           t_fill);

    char cmd[8400];
    snprintf(cmd, sizeof(cmd), "rm -f '%s'* '%s'*", empty, full);
    return system(cmd) == 0 ? 0 : 1;
}
