/*
 * libFuzzer harness for the split-file loader (gnn_split_load): the input
 * becomes a train.txt on disk. Every entry that loads must be a pair of
 * ids inside the counts the loader reports.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "gnn_data.h"

static char path[96];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gnn_interactions x;

    if (path[0] == '\0') {
        char dir[64];

        fuzz_tmpdir("split", dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/train.txt", dir);
    }
    fuzz_write_file(path, data, size);

    gnn_interactions_init(&x);
    if (gnn_split_load(path, &x, NULL) == 0) {
        for (int64_t i = 0; i < x.n; i++) {
            if (x.user[i] < 0 || x.user[i] >= x.n_users || x.item[i] < 0 ||
                x.item[i] >= x.n_items)
                abort();
        }
    }
    gnn_interactions_free(&x);
    return 0;
}
