/*
 * libFuzzer harness for the snapshot loader. A valid snapshot (with the
 * optional popularity and seen files) is written once; each input then
 * replaces one file of a copy of it, and gnn_snapshot_load reads the
 * folder. The first input byte picks the file (manifest.json or one of
 * the members) and, for a member, whether manifest.json is rewritten with
 * the member's true size and CRC-32, so that the parsers behind the
 * checksum check are reached too. A load that succeeds must hand back a
 * snapshot whose arrays agree with its sizes.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "gnn_npy.h"
#include "gnn_snapshot.h"

#define N_USERS 3
#define N_ITEMS 5
#define DIM     4

static const char *const names[] = {
    "manifest.json",        "users.npy",       "items_source.npy",
    "items_target.npy",     "users.txt",       "items.txt",
    "items_popularity.npy", "seen_indptr.npy", "seen_items.npy",
};
#define N_NAMES (sizeof(names) / sizeof(names[0]))

static char dir[64];
static char *orig[N_NAMES];
static size_t orig_len[N_NAMES];

static void path_of(size_t i, char *path, size_t size)
{
    snprintf(path, size, "%s/snap/%s", dir, names[i]);
}

static void write_valid(void)
{
    struct gnn_snapshot *s;
    char snap[96];

    if (gnn_snapshot_new("lightgcn", DIM, N_USERS, N_ITEMS, &s, NULL) != 0)
        abort();
    for (int i = 0; i < N_USERS * DIM; i++)
        s->users[i] = (float)i / 7.0f;
    for (int i = 0; i < N_ITEMS * DIM; i++) {
        s->items_source[i] = (float)i / 3.0f;
        s->items_target[i] = -(float)i / 5.0f;
    }
    s->item_popularity = calloc(N_ITEMS, sizeof(float));
    s->seen_indptr = calloc(N_USERS + 1, sizeof(int64_t));
    s->seen_items = calloc(N_USERS, sizeof(int32_t));
    if (!s->item_popularity || !s->seen_indptr || !s->seen_items)
        abort();
    for (int u = 0; u < N_USERS; u++) {
        s->seen_indptr[u + 1] = u + 1;
        s->seen_items[u] = u;
    }
    snprintf(snap, sizeof(snap), "%s/snap", dir);
    if (gnn_snapshot_write(s, snap, NULL) != 0)
        abort();
    gnn_snapshot_free(s);

    for (size_t i = 0; i < N_NAMES; i++) {
        char path[128];

        path_of(i, path, sizeof(path));
        if (gnn__file_read(path, 1 << 20, &orig[i], &orig_len[i], NULL) != 0)
            abort();
    }
}

/*
 * manifest.json with member i's entry set to n bytes of data's CRC-32.
 * The manifest is parsed and dumped once per member at start-up, around a
 * placeholder for that entry, so that each input only formats the entry
 * between the two halves (parsing and dumping it per input took about a
 * quarter of the harness's time).
 */
#define PLACEHOLDER_TEXT "hoprec-fuzz-entry"
#define PLACEHOLDER      "\"" PLACEHOLDER_TEXT "\""

static char *head[N_NAMES], *tail[N_NAMES];

static void split_manifest(void)
{
    json_t *m = json_loadb(orig[0], orig_len[0], 0, NULL);
    json_t *files = json_object_get(m, "files");

    if (files == NULL)
        abort();
    for (size_t i = 1; i < N_NAMES; i++) {
        json_t *keep = json_incref(json_object_get(files, names[i]));
        char *text, *at;

        json_object_set_new(files, names[i], json_string(PLACEHOLDER_TEXT));
        text = json_dumps(m, JSON_COMPACT);
        json_object_set_new(files, names[i], keep);
        if (text == NULL || (at = strstr(text, PLACEHOLDER)) == NULL)
            abort();
        tail[i] = strdup(at + strlen(PLACEHOLDER));
        *at = '\0';
        head[i] = text;
        if (tail[i] == NULL)
            abort();
    }
    json_decref(m);
}

static char *manifest_fixed(size_t i, const uint8_t *data, size_t n)
{
    size_t size = strlen(head[i]) + strlen(tail[i]) + 64;
    char *text = malloc(size);

    if (text == NULL)
        abort();
    snprintf(text, size, "%s{\"bytes\":%zu,\"crc32\":\"%08x\"}%s", head[i], n,
             (unsigned)gnn__crc32(data, n), tail[i]);
    return text;
}

static void check(const struct gnn_snapshot *s)
{
    if (s->dim <= 0 || s->n_users < 0 || s->n_items < 0)
        abort();
    for (int32_t u = 0; u < s->n_users; u++) {
        if (s->user_ids[u] == NULL || s->user_ids[u][0] == '\0')
            abort();
    }
    for (int32_t i = 0; i < s->n_items; i++) {
        if (s->item_ids[i] == NULL || s->item_ids[i][0] == '\0')
            abort();
    }
    /* Touch the last element of each array: ASan flags a short one. */
    if (s->n_users > 0 && s->users[(size_t)s->n_users * s->dim - 1] > 1e30f)
        abort();
    if (s->n_items > 0 &&
        s->items_target[(size_t)s->n_items * s->dim - 1] > 1e30f)
        abort();
    if (s->seen_indptr != NULL) {
        int64_t nnz = s->seen_indptr[s->n_users];

        for (int64_t k = 0; k < nnz; k++) {
            if (s->seen_items[k] < 0 || s->seen_items[k] >= s->n_items)
                abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gnn_snapshot *s = NULL;
    char path[128], mpath[128], snap[96];

    if (dir[0] == '\0') {
        fuzz_tmpdir("snapshot", dir, sizeof(dir));
        write_valid();
        split_manifest();
    }
    if (size == 0)
        return 0;

    size_t target = data[0] % N_NAMES;
    int fix = (data[0] & 0x80) != 0;
    data++;
    size--;

    path_of(0, mpath, sizeof(mpath));
    if (target == 0) {
        fuzz_write_file(mpath, data, size);
    } else {
        path_of(target, path, sizeof(path));
        fuzz_write_file(path, data, size);
        if (fix) {
            char *m = manifest_fixed(target, data, size);

            fuzz_write_file(mpath, m, strlen(m));
            free(m);
        }
    }

    snprintf(snap, sizeof(snap), "%s/snap", dir);
    if (gnn_snapshot_load(snap, &s, NULL) == 0) {
        check(s);
        gnn_snapshot_free(s);
    } else if (s != NULL) {
        abort();
    }

    /* Put the valid files back for the next input. */
    fuzz_write_file(mpath, orig[0], orig_len[0]);
    if (target != 0)
        fuzz_write_file(path, orig[target], orig_len[target]);
    return 0;
}
