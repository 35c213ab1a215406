/*
 * libFuzzer harness for the .npy reader: the input is parsed as a whole
 * file in memory (gnn_npy_parse) and read back from disk (gnn_npy_load).
 * Whatever the header claims, a parse that succeeds must describe data
 * that lies inside the input, and a load that succeeds must agree with it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "gnn_npy.h"

static char path[96];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gnn_npy_info info;
    struct gnn_npy_array a = {0};
    int parsed;

    if (path[0] == '\0') {
        char dir[64];

        fuzz_tmpdir("npy", dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/in.npy", dir);
    }

    parsed = gnn_npy_parse(data, size, "fuzz", &info, NULL) == 0;
    if (parsed) {
        if (info.data_offset > size ||
            info.data_bytes != size - info.data_offset)
            abort();
        if (info.ndim < 1 || info.ndim > GNN_NPY_MAX_DIMS)
            abort();
    }

    fuzz_write_file(path, data, size);
    if (gnn_npy_load(path, &a, NULL) == 0) {
        if (!parsed || a.info.data_bytes != info.data_bytes)
            abort();
        if (a.info.data_bytes > 0 &&
            memcmp(a.data, data + a.info.data_offset, a.info.data_bytes) != 0)
            abort();
        gnn_npy_free(&a);
    } else if (a.data != NULL) {
        abort();
    }
    return 0;
}
