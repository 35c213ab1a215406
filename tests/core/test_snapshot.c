#include <criterion/criterion.h>
#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gnn.h"

static char root[64];
static char snap[128];

static int rm_entry(const char *p, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    return remove(p);
}

static void setup(void)
{
    /* tmpfs when there is one: the mangling test rewrites a file some
     * thousand times, which a busy disk throttles to seconds. */
    strcpy(root, "/tmp/hoprec-snap-XXXXXX");
    if (access("/dev/shm", W_OK) == 0)
        strcpy(root, "/dev/shm/hoprec-snap-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    snprintf(snap, sizeof(snap), "%s/model", root);
}

static void teardown(void)
{
    nftw(root, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(snapshot, .init = setup, .fini = teardown);

/* A snapshot with every optional part, filled from a fixed seed. */
static struct gnn_snapshot *sample(int32_t dim, int32_t n_users,
                                   int32_t n_items)
{
    struct gnn_snapshot *s;
    char id[32];
    uint64_t x = 0x9e3779b97f4a7c15ull;

    cr_assert_eq(gnn_snapshot_new("daemon", dim, n_users, n_items, &s, NULL),
                 0);
    for (size_t i = 0; i < (size_t)n_users * dim; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t bits = (uint32_t)(x >> 32);
        memcpy(&s->users[i], &bits, 4); /* any bit pattern, NaNs too */
    }
    for (size_t i = 0; i < (size_t)n_items * dim; i++) {
        s->items_source[i] = (float)i * 0.25f - 3.0f;
        s->items_target[i] = -(float)i / 7.0f;
    }
    for (int32_t u = 0; u < n_users; u++) {
        snprintf(id, sizeof(id), "user:%d/é", u * 3);
        cr_assert_eq(gnn_snapshot_set_user_id(s, u, id, NULL), 0);
    }
    for (int32_t i = 0; i < n_items; i++) {
        snprintf(id, sizeof(id), "sku %06d", i + 100);
        cr_assert_eq(gnn_snapshot_set_item_id(s, i, id, NULL), 0);
    }

    s->item_popularity = malloc((size_t)n_items * sizeof(float) + 1);
    for (int32_t i = 0; i < n_items; i++)
        s->item_popularity[i] = 1.0f / (float)(i + 1);
    s->seen_indptr = malloc(((size_t)n_users + 1) * sizeof(int64_t));
    s->seen_items = malloc((size_t)n_users * 2 * sizeof(int32_t) + 4);
    s->seen_indptr[0] = 0;
    for (int32_t u = 0; u < n_users; u++) {
        int64_t k = s->seen_indptr[u];
        int take = u % 3; /* 0, 1 or 2 seen items */
        for (int t = 0; t < take; t++)
            s->seen_items[k + t] = (u + t * 5) % n_items;
        s->seen_indptr[u + 1] = k + take;
    }
    s->info = json_pack("{s:f,s:i,s:{s:[f,f]}}", "alpha", 0.1, "layers", 4,
                        "figures", "recall20", 0.12, 0.13);
    return s;
}

static void assert_same(const struct gnn_snapshot *a,
                        const struct gnn_snapshot *b)
{
    cr_assert_str_eq(a->model, b->model);
    cr_assert_eq(a->dim, b->dim);
    cr_assert_eq(a->n_users, b->n_users);
    cr_assert_eq(a->n_items, b->n_items);
    size_t nu = (size_t)a->n_users * a->dim, ni = (size_t)a->n_items * a->dim;
    cr_assert(memcmp(a->users, b->users, nu * 4) == 0, "users differ");
    cr_assert(memcmp(a->items_source, b->items_source, ni * 4) == 0);
    cr_assert(memcmp(a->items_target, b->items_target, ni * 4) == 0);
    for (int32_t u = 0; u < a->n_users; u++)
        cr_assert_str_eq(a->user_ids[u], b->user_ids[u]);
    for (int32_t i = 0; i < a->n_items; i++)
        cr_assert_str_eq(a->item_ids[i], b->item_ids[i]);
    cr_assert_eq(a->item_popularity == NULL, b->item_popularity == NULL);
    if (a->item_popularity != NULL)
        cr_assert(memcmp(a->item_popularity, b->item_popularity,
                         (size_t)a->n_items * 4) == 0);
    cr_assert_eq(a->seen_indptr == NULL, b->seen_indptr == NULL);
    if (a->seen_indptr != NULL) {
        cr_assert(memcmp(a->seen_indptr, b->seen_indptr,
                         ((size_t)a->n_users + 1) * 8) == 0);
        cr_assert(memcmp(a->seen_items, b->seen_items,
                         (size_t)a->seen_indptr[a->n_users] * 4) == 0);
    }
    if (a->info != NULL)
        cr_assert(json_equal(a->info, b->info), "info differs");
}

/* Number of entries in root (the target plus anything left behind). */
static int entries_in_root(void)
{
    DIR *d = opendir(root);
    struct dirent *e;
    int n = 0;

    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    }
    closedir(d);
    return n;
}

Test(snapshot, round_trip_is_bit_exact)
{
    struct gnn_snapshot *s = sample(8, 13, 21), *r;
    struct gnn_error err;

    cr_assert_eq(gnn_snapshot_write(s, snap, &err), 0, "%s", err.text);
    cr_assert_eq(gnn_snapshot_load(snap, &r, &err), 0, "%s", err.text);
    assert_same(s, r);
    cr_assert_eq(entries_in_root(), 1, "temporary folders were left");
    struct stat st;
    cr_assert_eq(stat(snap, &st), 0);
    cr_assert_eq(st.st_mode & 0755, 0755, "others cannot read the folder");
    gnn_snapshot_free(s);
    gnn_snapshot_free(r);
    gnn_snapshot_free(NULL);
}

Test(snapshot, minimal_snapshot_without_optional_parts_round_trips)
{
    struct gnn_snapshot *s, *r;
    struct gnn_error err;

    cr_assert_eq(gnn_snapshot_new("mf", 3, 2, 0, &s, NULL), 0);
    cr_assert_eq(gnn_snapshot_write(s, snap, &err), 0, "%s", err.text);
    cr_assert_eq(gnn_snapshot_load(snap, &r, &err), 0, "%s", err.text);
    assert_same(s, r);
    cr_assert_str_eq(r->user_ids[1], "1");
    cr_assert_null(r->item_popularity);
    cr_assert_null(r->seen_indptr);
    cr_assert(json_is_object(r->info) && json_object_size(r->info) == 0);
    gnn_snapshot_free(s);
    gnn_snapshot_free(r);
}

Test(snapshot, manifest_records_sizes_checksums_and_info)
{
    struct gnn_snapshot *s = sample(4, 3, 5);
    char path[256];
    struct stat st;

    cr_assert_eq(gnn_snapshot_write(s, snap, NULL), 0);
    snprintf(path, sizeof(path), "%s/manifest.json", snap);
    json_t *m = json_load_file(path, 0, NULL);
    cr_assert_not_null(m);
    cr_assert_eq(json_integer_value(json_object_get(m, "format_version")),
                 GNN_SNAPSHOT_FORMAT);
    cr_assert_str_eq(json_string_value(json_object_get(m, "model")), "daemon");
    cr_assert_eq(json_integer_value(json_object_get(m, "layers")), 4,
                 "info keys are merged at the top level");
    json_t *files = json_object_get(m, "files");
    cr_assert_eq(json_object_size(files), 8);

    const char *name;
    json_t *entry;
    json_object_foreach(files, name, entry)
    {
        char *buf;
        size_t len;
        char crc[16];
        snprintf(path, sizeof(path), "%s/%s", snap, name);
        cr_assert_eq(stat(path, &st), 0, "%s missing", name);
        cr_assert_eq(json_integer_value(json_object_get(entry, "bytes")),
                     st.st_size, "%s size", name);
        cr_assert_eq(gnn__file_read(path, 1 << 20, &buf, &len, NULL), 0);
        snprintf(crc, sizeof(crc), "%08x", gnn__crc32(buf, len));
        cr_assert_str_eq(json_string_value(json_object_get(entry, "crc32")),
                         crc, "%s checksum", name);
        free(buf);
    }
    json_decref(m);
    gnn_snapshot_free(s);
}

Test(snapshot, write_over_existing_snapshot_replaces_it)
{
    struct gnn_snapshot *a = sample(4, 10, 6), *b = sample(6, 3, 9), *r;
    struct gnn_error err;

    cr_assert_eq(gnn_snapshot_write(a, snap, &err), 0, "%s", err.text);
    cr_assert_eq(gnn_snapshot_write(b, snap, &err), 0, "%s", err.text);
    cr_assert_eq(gnn_snapshot_load(snap, &r, &err), 0, "%s", err.text);
    assert_same(b, r);
    cr_assert_eq(entries_in_root(), 1, "old or temporary folders remain");

    /* A trailing slash names the same folder. */
    char slashed[160];
    snprintf(slashed, sizeof(slashed), "%s/", snap);
    cr_assert_eq(gnn_snapshot_write(a, slashed, &err), 0, "%s", err.text);
    gnn_snapshot_free(r);
    cr_assert_eq(gnn_snapshot_load(snap, &r, &err), 0, "%s", err.text);
    assert_same(a, r);
    cr_assert_eq(entries_in_root(), 1);
    gnn_snapshot_free(a);
    gnn_snapshot_free(b);
    gnn_snapshot_free(r);
}

Test(snapshot, refuses_to_replace_what_is_not_a_snapshot)
{
    struct gnn_snapshot *s = sample(2, 2, 2);
    struct gnn_error err;
    char file[192];

    cr_assert_eq(mkdir(snap, 0755), 0);
    snprintf(file, sizeof(file), "%s/precious.txt", snap);
    FILE *f = fopen(file, "w");
    fputs("keep me\n", f);
    fclose(f);

    cr_assert_eq(gnn_snapshot_write(s, snap, &err), GNN_EINVAL);
    cr_assert(strstr(err.text, "not a snapshot") != NULL, "%s", err.text);
    cr_assert_eq(access(file, F_OK), 0, "an unrelated file was deleted");
    cr_assert_eq(entries_in_root(), 1, "a temporary folder was left");

    /* An empty folder is taken over. */
    unlink(file);
    cr_assert_eq(gnn_snapshot_write(s, snap, &err), 0, "%s", err.text);

    /* A missing parent is an I/O error. */
    cr_assert_eq(gnn_snapshot_write(s, "/nonexistent/dir/model", &err),
                 GNN_EIO);
    gnn_snapshot_free(s);
}

Test(snapshot, bad_ids_info_and_arguments_are_refused)
{
    struct gnn_snapshot *s = sample(2, 3, 4), *t;
    struct gnn_error err;

    cr_assert_eq(gnn_snapshot_set_user_id(s, 0, "a\nb", &err), GNN_EINVAL);
    cr_assert_eq(gnn_snapshot_set_item_id(s, 1, "a\r", &err), GNN_EINVAL);
    cr_assert_eq(gnn_snapshot_set_item_id(s, 1, "", &err), GNN_EINVAL);
    cr_assert_eq(gnn_snapshot_set_item_id(s, 4, "x", &err), GNN_ERANGE);
    cr_assert_eq(gnn_snapshot_set_item_id(s, -1, "x", &err), GNN_ERANGE);

    /* An id changed behind the setter's back is caught on write. */
    free(s->user_ids[2]);
    s->user_ids[2] = strdup("two\nlines");
    cr_assert_eq(gnn_snapshot_write(s, snap, &err), GNN_EINVAL);
    cr_assert(strstr(err.text, "user id 2") != NULL, "%s", err.text);
    cr_assert_eq(gnn_snapshot_set_user_id(s, 2, "two", &err), 0);

    json_object_set_new(s->info, "dim", json_integer(3));
    cr_assert_eq(gnn_snapshot_write(s, snap, &err), GNN_EINVAL);
    cr_assert(strstr(err.text, "'dim'") != NULL, "%s", err.text);
    json_object_del(s->info, "dim");

    s->seen_items[0] = 4; /* n_items is 4 */
    cr_assert_eq(gnn_snapshot_write(s, snap, &err), GNN_EINVAL);
    cr_assert_eq(entries_in_root(), 0);

    cr_assert_eq(gnn_snapshot_new("", 2, 1, 1, &t, &err), GNN_EINVAL);
    cr_assert_eq(gnn_snapshot_new("x", 0, 1, 1, &t, &err), GNN_EINVAL);
    cr_assert_eq(gnn_snapshot_new("x", 2, -1, 1, &t, &err), GNN_EINVAL);
    cr_assert_eq(gnn_snapshot_new("a-name-that-is-far-too-long-for-it", 2, 1, 1,
                                  &t, &err),
                 GNN_EINVAL);
    cr_assert_null(t);
    gnn_snapshot_free(s);
}

/* ---------------------------------------------------- corruption */

static const char *const members[] = {
    "users.npy", "items_source.npy",     "items_target.npy", "users.txt",
    "items.txt", "items_popularity.npy", "seen_indptr.npy",  "seen_items.npy",
};
#define N_MEMBERS (sizeof(members) / sizeof(members[0]))

static void member_path(char *out, const char *name)
{
    snprintf(out, 256, "%s/%s", snap, name);
}

static void fresh_snapshot(void)
{
    struct gnn_snapshot *s = sample(4, 7, 9);

    cr_assert_eq(gnn_snapshot_write(s, snap, NULL), 0);
    gnn_snapshot_free(s);
}

/* Load must fail with GNN_EFORMAT and an error naming name. */
static void expect_format_error(const char *name, const char *what)
{
    struct gnn_snapshot *r = (struct gnn_snapshot *)1;
    struct gnn_error err;

    int ret = gnn_snapshot_load(snap, &r, &err);
    cr_assert_eq(ret, GNN_EFORMAT, "%s %s: got %d (%s)", name, what, ret,
                 err.text);
    cr_assert(strstr(err.text, name) != NULL, "%s %s: error '%s' lacks it",
              name, what, err.text);
    cr_assert_null(r);
}

static void rewrite(const char *name, const char *buf, size_t len)
{
    char path[256];

    member_path(path, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(buf, 1, len, f), len);
    fclose(f);
}

static char *slurp(const char *name, size_t *len)
{
    char path[256], *buf;

    member_path(path, name);
    cr_assert_eq(gnn__file_read(path, 1 << 24, &buf, len, NULL), 0);
    return buf;
}

Test(snapshot, truncated_flipped_or_missing_files_are_detected)
{
    char path[256];

    for (size_t m = 0; m < N_MEMBERS; m++) {
        size_t len;

        fresh_snapshot();
        char *buf = slurp(members[m], &len);
        rewrite(members[m], buf, len - 1);
        expect_format_error(members[m], "truncated");

        buf[len / 2] ^= 0x10;
        rewrite(members[m], buf, len);
        expect_format_error(members[m], "with a flipped bit");

        member_path(path, members[m]);
        unlink(path);
        expect_format_error(members[m], "missing");
        free(buf);
    }
}

/* Point the manifest's record of name at its current bytes. */
static void refresh_manifest(const char *name)
{
    char path[256], crc[16];
    size_t len;
    char *buf = slurp(name, &len);

    member_path(path, "manifest.json");
    json_t *m = json_load_file(path, 0, NULL);
    json_t *entry = json_object_get(json_object_get(m, "files"), name);
    snprintf(crc, sizeof(crc), "%08x", gnn__crc32(buf, len));
    json_object_set_new(entry, "bytes", json_integer((json_int_t)len));
    json_object_set_new(entry, "crc32", json_string(crc));
    cr_assert_eq(json_dump_file(m, path, 0), 0);
    json_decref(m);
    free(buf);
}

Test(snapshot, wrong_dtype_or_shape_is_detected_behind_a_valid_checksum)
{
    char path[256];
    int64_t shape[2] = {7, 4};
    int32_t zeros[7 * 4] = {0};
    float big[8 * 4] = {0};

    /* Same byte count, wrong element type. */
    fresh_snapshot();
    member_path(path, "users.npy");
    cr_assert_eq(gnn_npy_save(path, GNN_NPY_I32, 2, shape, zeros, NULL), 0);
    refresh_manifest("users.npy");
    expect_format_error("users.npy", "as int32");

    /* One row too many. */
    fresh_snapshot();
    shape[0] = 8;
    cr_assert_eq(gnn_npy_save(path, GNN_NPY_F32, 2, shape, big, NULL), 0);
    refresh_manifest("users.npy");
    expect_format_error("users.npy", "with 8 rows");

    /* A header that claims a huge shape. */
    fresh_snapshot();
    size_t len;
    char *buf = slurp("items_target.npy", &len);
    char *p = strstr(buf + 10, "(9, 4)");
    cr_assert_not_null(p);
    memcpy(p, "(9999999999999999, 4), }", 24); /* into the padding */
    rewrite("items_target.npy", buf, len);
    refresh_manifest("items_target.npy");
    expect_format_error("items_target.npy", "claiming a huge shape");
    free(buf);

    /* One id line fewer, checksum fixed up. */
    fresh_snapshot();
    buf = slurp("items.txt", &len);
    char *last = buf + len - 2;
    while (*last != '\n')
        last--;
    rewrite("items.txt", buf, (size_t)(last - buf) + 1);
    refresh_manifest("items.txt");
    expect_format_error("items.txt", "with an id missing");
    free(buf);

    /* A seen item out of range. */
    fresh_snapshot();
    member_path(path, "seen_items.npy");
    struct gnn_npy_array a;
    cr_assert_eq(gnn_npy_load(path, &a, NULL), 0);
    ((int32_t *)a.data)[0] = 9;
    cr_assert_eq(gnn_npy_save(path, GNN_NPY_I32, 1, a.info.shape, a.data, NULL),
                 0);
    gnn_npy_free(&a);
    refresh_manifest("seen_items.npy");
    expect_format_error("seen_", "with an item out of range");
}

static void edit_manifest(const char *key, json_t *value)
{
    char path[256];

    member_path(path, "manifest.json");
    json_t *m = json_load_file(path, 0, NULL);
    if (value == NULL)
        json_object_del(m, key);
    else
        json_object_set_new(m, key, value);
    cr_assert_eq(json_dump_file(m, path, 0), 0);
    json_decref(m);
}

Test(snapshot, bad_manifests_are_detected)
{
    struct gnn_snapshot *r;
    struct gnn_error err;

    fresh_snapshot();
    edit_manifest("format_version", json_integer(2));
    expect_format_error("manifest.json", "of a newer format");

    fresh_snapshot();
    edit_manifest("n_users", json_integer(8));
    expect_format_error("users.npy", "with a count that disagrees");

    fresh_snapshot();
    edit_manifest("dim", json_string("4"));
    expect_format_error("manifest.json", "with a string dim");

    fresh_snapshot();
    edit_manifest("files", NULL);
    expect_format_error("manifest.json", "without files");

    fresh_snapshot();
    edit_manifest("n_items", json_integer(1LL << 40));
    expect_format_error("manifest.json", "with a huge count");

    fresh_snapshot();
    rewrite("manifest.json", "{\"format\": \"hoprec-snap", 23);
    expect_format_error("manifest.json", "cut short");

    rewrite("manifest.json", "", 0);
    expect_format_error("manifest.json", "empty");

    char path[256];
    member_path(path, "manifest.json");
    unlink(path);
    cr_assert_eq(gnn_snapshot_load(snap, &r, &err), GNN_ENOENT);
    cr_assert_eq(gnn_snapshot_load("/nonexistent", &r, &err), GNN_ENOENT);
}

Test(snapshot, mangled_manifests_never_crash_the_loader)
{
    static const char repl[] = {'9', '"', '}', 0};
    size_t len;

    fresh_snapshot();
    char *orig = slurp("manifest.json", &len);
    int rejected = 0;

    for (size_t pos = 0; pos < len; pos++) {
        for (size_t r = 0; r < sizeof(repl); r++) {
            struct gnn_snapshot *s = NULL;
            struct gnn_error err;
            char saved = orig[pos];

            orig[pos] = repl[r];
            rewrite("manifest.json", orig, len);
            orig[pos] = saved;
            int ret = gnn_snapshot_load(snap, &s, &err);
            cr_assert(ret == 0 || ret == GNN_EFORMAT,
                      "byte %zu set to %d: code %d (%s)", pos, repl[r], ret,
                      err.text);
            if (ret == 0) {
                cr_assert_eq(s->n_users, 7);
                cr_assert_eq(s->n_items, 9);
            }
            rejected += ret != 0;
            gnn_snapshot_free(s);
        }
    }
    cr_assert_gt(rejected, (int)len, "most changes should be caught");
    free(orig);
}

/* ---------------------------------------------------- concurrency */

struct writer {
    struct gnn_snapshot *a, *b;
    int rounds;
    volatile int done;
    int failures;
};

static void *write_alternately(void *arg)
{
    struct writer *w = arg;

    for (int r = 0; r < w->rounds; r++) {
        if (gnn_snapshot_write(r % 2 ? w->b : w->a, snap, NULL) != 0)
            w->failures++;
    }
    w->done = 1;
    return NULL;
}

Test(snapshot, readers_see_the_old_or_the_new_snapshot_never_a_mix)
{
    struct writer w = {sample(4, 40, 30), sample(6, 25, 50), 60, 0, 0};
    struct gnn_error err;
    pthread_t t;
    int loads = 0;

    cr_assert_eq(gnn_snapshot_write(w.a, snap, NULL), 0);
    cr_assert_eq(pthread_create(&t, NULL, write_alternately, &w), 0);
    while (!w.done) {
        struct gnn_snapshot *r;
        int ret = gnn_snapshot_load(snap, &r, &err);
        cr_assert_eq(ret, 0, "load %d during a replace: %s", loads, err.text);
        assert_same(r->n_users == w.a->n_users ? w.a : w.b, r);
        gnn_snapshot_free(r);
        loads++;
    }
    pthread_join(t, NULL);
    cr_assert_eq(w.failures, 0);
    cr_assert_gt(loads, 0);
    cr_assert_eq(entries_in_root(), 1, "old or temporary folders remain");
    gnn_snapshot_free(w.a);
    gnn_snapshot_free(w.b);
}
