/*
 * libFuzzer harness for POST /v1/events: the batch parser, the per-event
 * validation, the idempotency path and the store behind them, on a real
 * SQLite file in a private folder on tmpfs, where the fsync of each
 * accepted batch costs nothing and no disk fills up. The first byte picks
 * whether an Idempotency-Key is sent, so both paths are explored.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events.h"
#include "fuzz_common.h"

static struct gnn_store *store;

static void open_store(void)
{
    char dir[64];
    char path[96];
    struct gnn_error err = {0};

    fuzz_tmpdir("events", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/events.db", dir);
    if (gnn_store_open(path, &store, &err) != 0) {
        fprintf(stderr, "fuzz_events: %s\n", err.text);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct svc_ingest_config cfg = {
        .max_events = 64,
        .max_future_ms = 300000,
    };
    struct svc_ingest_reply reply;
    int64_t ms;

    if (store == NULL)
        open_store();
    if (size == 0)
        return 0;

    const char *key = (data[0] & 1) ? "fuzz-key" : NULL;
    if (svc_events_ingest(store, &cfg, (const char *)data + 1, size - 1, key,
                          &reply) == 0) {
        if (reply.status < 200 || reply.status >= 600 || reply.body == NULL)
            abort();
        json_decref(reply.body);
    }

    char text[64];
    size_t n = size - 1 < sizeof(text) - 1 ? size - 1 : sizeof(text) - 1;
    memcpy(text, data + 1, n);
    text[n] = '\0';
    svc_parse_rfc3339_ms(text, &ms);
    return 0;
}
