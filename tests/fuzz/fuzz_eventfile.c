/*
 * libFuzzer harness for the event-file loaders (CSV/TSV `user,item,
 * type_or_rating,timestamp`): the input becomes a file on disk, read once
 * by gnn_events_scan (streaming) and once by gnn_events_load (ids mapped,
 * weighted, aggregated). Both must agree on whether the file is valid and
 * on how many event lines it holds.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "gnn_events.h"

static char path[96];

static int count_row(void *ctx, const struct gnn_event_row *row)
{
    int64_t *n = ctx;

    if (row->user_len == 0 || row->item_len == 0 || row->line < 1)
        abort();
    (*n)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gnn_event_set set = {0};
    int64_t rows = 0;
    int scanned, loaded;

    if (path[0] == '\0') {
        char dir[64];

        fuzz_tmpdir("eventfile", dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/events.csv", dir);
    }
    fuzz_write_file(path, data, size);

    scanned = gnn_events_scan(path, count_row, &rows, NULL);
    loaded = gnn_events_load(path, NULL, &set, NULL);
    if ((scanned == 0) != (loaded == 0))
        abort();
    if (loaded == 0) {
        if (set.n_events != rows)
            abort();
        for (int64_t i = 0; i < set.x.n; i++) {
            if (set.x.user[i] < 0 || set.x.user[i] >= set.x.n_users ||
                set.x.item[i] < 0 || set.x.item[i] >= set.x.n_items)
                abort();
        }
    }
    gnn_event_set_free(&set);
    return 0;
}
