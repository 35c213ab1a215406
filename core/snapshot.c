/*
 * Snapshot folders: atomic write and validating load (see gnn_snapshot.h).
 */
#include "gnn_snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gnn_npy.h"

#define PATH_CAP 4096

/* The manifest's own keys; every other top-level key belongs to info. */
static const char *const reserved_keys[] = {
    "format",  "format_version", "model", "dim", "n_users",
    "n_items", "checksum",       "files", NULL,
};

static int is_reserved(const char *key)
{
    for (int i = 0; reserved_keys[i] != NULL; i++) {
        if (strcmp(key, reserved_keys[i]) == 0)
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------ life cycle */

static char *dup_or_null(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

static void free_ids(char **ids, int32_t n)
{
    if (ids == NULL)
        return;
    for (int32_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

/* n ids "0".."n-1"; NULL when out of memory. */
static char **numbered_ids(int32_t n)
{
    char **ids = calloc(n > 0 ? (size_t)n : 1, sizeof(*ids));
    char text[16];

    if (ids == NULL)
        return NULL;
    for (int32_t i = 0; i < n; i++) {
        snprintf(text, sizeof(text), "%" PRId32, i);
        ids[i] = dup_or_null(text);
        if (ids[i] == NULL) {
            free_ids(ids, n);
            return NULL;
        }
    }
    return ids;
}

void gnn_snapshot_free(struct gnn_snapshot *s)
{
    if (s == NULL)
        return;
    free(s->users);
    free(s->items_source);
    free(s->items_target);
    free_ids(s->user_ids, s->n_users);
    free_ids(s->item_ids, s->n_items);
    free(s->item_popularity);
    free(s->seen_indptr);
    free(s->seen_items);
    json_decref(s->info);
    free(s);
}

int gnn_snapshot_new(const char *model, int32_t dim, int32_t n_users,
                     int32_t n_items, struct gnn_snapshot **out,
                     struct gnn_error *err)
{
    struct gnn_snapshot *s;

    *out = NULL;
    if (model == NULL || model[0] == '\0' || strlen(model) >= sizeof(s->model))
        return gnn_error_set(err, GNN_EINVAL,
                             "snapshot: model name must be 1..31 bytes");
    if (dim <= 0 || n_users < 0 || n_items < 0)
        return gnn_error_set(err, GNN_EINVAL,
                             "snapshot: bad sizes dim=%d users=%d items=%d",
                             dim, n_users, n_items);

    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "snapshot: no memory");
    strcpy(s->model, model);
    s->dim = dim;
    s->n_users = n_users;
    s->n_items = n_items;
    size_t nu = (size_t)n_users * (size_t)dim, ni = (size_t)n_items * dim;
    s->users = calloc(nu ? nu : 1, sizeof(float));
    s->items_source = calloc(ni ? ni : 1, sizeof(float));
    s->items_target = calloc(ni ? ni : 1, sizeof(float));
    s->user_ids = numbered_ids(n_users);
    s->item_ids = numbered_ids(n_items);
    if (s->users == NULL || s->items_source == NULL ||
        s->items_target == NULL || s->user_ids == NULL || s->item_ids == NULL) {
        gnn_snapshot_free(s);
        return gnn_error_set(err, GNN_ENOMEM,
                             "snapshot: no memory for %d users, %d items",
                             n_users, n_items);
    }
    *out = s;
    return 0;
}

static int id_is_valid(const char *id)
{
    return id != NULL && id[0] != '\0' && strpbrk(id, "\r\n") == NULL;
}

static int set_id(char **ids, int32_t n, int32_t row, const char *id,
                  struct gnn_error *err)
{
    if (row < 0 || row >= n)
        return gnn_error_set(err, GNN_ERANGE, "snapshot: row %d not in [0, %d)",
                             row, n);
    if (!id_is_valid(id))
        return gnn_error_set(err, GNN_EINVAL,
                             "snapshot: id of row %d is empty or holds a "
                             "line break",
                             row);
    char *copy = dup_or_null(id);
    if (copy == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "snapshot: no memory");
    free(ids[row]);
    ids[row] = copy;
    return 0;
}

int gnn_snapshot_set_user_id(struct gnn_snapshot *s, int32_t row,
                             const char *id, struct gnn_error *err)
{
    return set_id(s->user_ids, s->n_users, row, id, err);
}

int gnn_snapshot_set_item_id(struct gnn_snapshot *s, int32_t row,
                             const char *id, struct gnn_error *err)
{
    return set_id(s->item_ids, s->n_items, row, id, err);
}

/* ------------------------------------------------------ validation */

/* Check a seen CSR (shared by write and load); 0 or -1 with *why set. */
static int seen_check(const int64_t *indptr, const int32_t *items,
                      int32_t n_users, int32_t n_items, const char **why)
{
    if (indptr[0] != 0) {
        *why = "seen_indptr[0] is not 0";
        return -1;
    }
    for (int32_t u = 0; u < n_users; u++) {
        if (indptr[u + 1] < indptr[u]) {
            *why = "seen_indptr decreases";
            return -1;
        }
    }
    for (int64_t k = 0; k < indptr[n_users]; k++) {
        if (items[k] < 0 || items[k] >= n_items) {
            *why = "a seen item is out of range";
            return -1;
        }
    }
    return 0;
}

static int check_ids(char *const *ids, int32_t n, const char *what,
                     struct gnn_error *err)
{
    if (ids == NULL)
        return gnn_error_set(err, GNN_EINVAL, "snapshot: no %s ids", what);
    for (int32_t i = 0; i < n; i++) {
        if (!id_is_valid(ids[i]))
            return gnn_error_set(err, GNN_EINVAL,
                                 "snapshot: %s id %d is missing, empty or "
                                 "holds a line break",
                                 what, i);
    }
    return 0;
}

static int check_for_write(const struct gnn_snapshot *s, struct gnn_error *err)
{
    const char *why;

    if (memchr(s->model, '\0', sizeof(s->model)) == NULL || !s->model[0] ||
        s->dim <= 0 || s->n_users < 0 || s->n_items < 0)
        return gnn_error_set(err, GNN_EINVAL,
                             "snapshot: bad model name or sizes");
    if (s->users == NULL || s->items_source == NULL || s->items_target == NULL)
        return gnn_error_set(err, GNN_EINVAL, "snapshot: missing embeddings");
    if ((s->seen_indptr == NULL) != (s->seen_items == NULL))
        return gnn_error_set(err, GNN_EINVAL,
                             "snapshot: seen_indptr and seen_items go "
                             "together");
    if (s->seen_indptr != NULL && seen_check(s->seen_indptr, s->seen_items,
                                             s->n_users, s->n_items, &why) != 0)
        return gnn_error_set(err, GNN_EINVAL, "snapshot: %s", why);
    if (s->info != NULL && !json_is_object(s->info))
        return gnn_error_set(err, GNN_EINVAL,
                             "snapshot: info is not an "
                             "object");

    const char *key;
    json_t *value;
    json_object_foreach(s->info, key, value)
    {
        if (is_reserved(key))
            return gnn_error_set(err, GNN_EINVAL,
                                 "snapshot: info key '%s' is reserved for "
                                 "the manifest",
                                 key);
    }

    int ret = check_ids(s->user_ids, s->n_users, "user", err);
    if (ret == 0)
        ret = check_ids(s->item_ids, s->n_items, "item", err);
    return ret;
}

/* ------------------------------------------------------ writing */

static int path_join(char *out, const char *dir, const char *name,
                     struct gnn_error *err)
{
    int n = snprintf(out, PATH_CAP, "%s/%s", dir, name);

    if (n < 0 || n >= PATH_CAP)
        return gnn_error_set(err, GNN_EINVAL, "path too long: '%s/%s'", dir,
                             name);
    return 0;
}

static int fsync_dir(const char *path, struct gnn_error *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return gnn_error_set(err, GNN_EIO, "cannot sync folder '%s': %s", path,
                             strerror(e));
    }
    close(fd);
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    return remove(path);
}

/* Remove a folder and what it holds; errors are ignored (best effort). */
static void remove_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write one file into the temporary folder and record it in files. */
static int write_member(const char *tmp, const char *name, const void *head,
                        size_t head_len, const void *data, size_t data_len,
                        json_t *files, struct gnn_error *err)
{
    char path[PATH_CAP], crc_text[16];
    uint32_t crc = 0;
    const void *parts[2] = {head, data};
    size_t lens[2] = {head_len, data_len};
    int ret = path_join(path, tmp, name, err);

    if (ret == 0)
        ret = gnn__file_write(path, 1, parts, lens, 2, &crc, err);
    if (ret != 0)
        return ret;

    snprintf(crc_text, sizeof(crc_text), "%08" PRIx32, crc);
    json_t *entry =
        json_pack("{s:I,s:s}", "bytes", (json_int_t)(head_len + data_len),
                  "crc32", crc_text);
    if (entry == NULL || json_object_set_new(files, name, entry) != 0)
        return gnn_error_set(err, GNN_ENOMEM, "snapshot: no memory");
    return 0;
}

static int write_npy(const char *tmp, const char *name,
                     enum gnn_npy_dtype dtype, int ndim, int64_t rows,
                     int64_t cols, const void *data, json_t *files,
                     struct gnn_error *err)
{
    char header[GNN_NPY_HEADER_MAX];
    int64_t shape[2] = {rows, cols};
    size_t header_len;
    int ret = gnn_npy_header(dtype, ndim, shape, header, &header_len, err);

    if (ret != 0)
        return ret;
    size_t bytes = (size_t)rows * (size_t)(ndim == 2 ? cols : 1) *
                   gnn_npy_dtype_size(dtype);
    return write_member(tmp, name, header, header_len, data, bytes, files, err);
}

static int write_ids(const char *tmp, const char *name, char *const *ids,
                     int32_t n, json_t *files, struct gnn_error *err)
{
    size_t total = 0, at = 0;
    char *text;
    int ret;

    for (int32_t i = 0; i < n; i++)
        total += strlen(ids[i]) + 1;
    text = malloc(total ? total : 1);
    if (text == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "snapshot: no memory");
    for (int32_t i = 0; i < n; i++) {
        size_t len = strlen(ids[i]);
        memcpy(text + at, ids[i], len);
        text[at + len] = '\n';
        at += len + 1;
    }
    ret = write_member(tmp, name, text, total, NULL, 0, files, err);
    free(text);
    return ret;
}

static int write_manifest(const struct gnn_snapshot *s, const char *tmp,
                          json_t *files, struct gnn_error *err)
{
    char path[PATH_CAP];
    char *text = NULL;
    json_t *m = json_object();
    const char *key;
    json_t *value;
    int ret = GNN_ENOMEM;

    if (m == NULL)
        goto out;
    json_object_foreach(s->info, key, value)
    {
        if (json_object_set(m, key, value) != 0)
            goto out;
    }
    if (json_object_set_new(m, "format", json_string("hoprec-snapshot")) ||
        json_object_set_new(m, "format_version",
                            json_integer(GNN_SNAPSHOT_FORMAT)) ||
        json_object_set_new(m, "model", json_string(s->model)) ||
        json_object_set_new(m, "dim", json_integer(s->dim)) ||
        json_object_set_new(m, "n_users", json_integer(s->n_users)) ||
        json_object_set_new(m, "n_items", json_integer(s->n_items)) ||
        json_object_set_new(m, "checksum", json_string("crc32")) ||
        json_object_set(m, "files", files))
        goto out;

    text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (text == NULL)
        goto out;
    size_t len = strlen(text);
    text[len] = '\0';
    const void *parts[2] = {text, "\n"};
    size_t lens[2] = {len, 1};
    ret = path_join(path, tmp, "manifest.json", err);
    if (ret == 0)
        ret = gnn__file_write(path, 1, parts, lens, 2, NULL, err);

out:
    if (ret == GNN_ENOMEM)
        gnn_error_set(err, ret, "snapshot: no memory for the manifest");
    free(text);
    json_decref(m);
    return ret;
}

static int write_members(const struct gnn_snapshot *s, const char *tmp,
                         struct gnn_error *err)
{
    json_t *files = json_object();
    int ret;

    if (files == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "snapshot: no memory");
    ret = write_npy(tmp, "users.npy", GNN_NPY_F32, 2, s->n_users, s->dim,
                    s->users, files, err);
    if (ret == 0)
        ret = write_npy(tmp, "items_source.npy", GNN_NPY_F32, 2, s->n_items,
                        s->dim, s->items_source, files, err);
    if (ret == 0)
        ret = write_npy(tmp, "items_target.npy", GNN_NPY_F32, 2, s->n_items,
                        s->dim, s->items_target, files, err);
    if (ret == 0)
        ret = write_ids(tmp, "users.txt", s->user_ids, s->n_users, files, err);
    if (ret == 0)
        ret = write_ids(tmp, "items.txt", s->item_ids, s->n_items, files, err);
    if (ret == 0 && s->item_popularity != NULL)
        ret = write_npy(tmp, "items_popularity.npy", GNN_NPY_F32, 1, s->n_items,
                        0, s->item_popularity, files, err);
    if (ret == 0 && s->seen_indptr != NULL)
        ret = write_npy(tmp, "seen_indptr.npy", GNN_NPY_I64, 1,
                        (int64_t)s->n_users + 1, 0, s->seen_indptr, files, err);
    if (ret == 0 && s->seen_indptr != NULL)
        ret =
            write_npy(tmp, "seen_items.npy", GNN_NPY_I32, 1,
                      s->seen_indptr[s->n_users], 0, s->seen_items, files, err);
    if (ret == 0)
        ret = write_manifest(s, tmp, files, err);
    json_decref(files);
    return ret;
}

/* Split dir into parent folder and a temporary-name template beside it. */
static int sibling_template(const char *dir, const char *tag, char *parent,
                            char *tmpl, struct gnn_error *err)
{
    size_t len = strlen(dir);

    while (len > 1 && dir[len - 1] == '/')
        len--;
    if (len == 0 || len >= PATH_CAP - 32)
        return gnn_error_set(err, GNN_EINVAL, "snapshot: bad folder '%s'", dir);

    const char *slash = memrchr(dir, '/', len);
    const char *base = slash ? slash + 1 : dir;
    size_t base_len = len - (size_t)(base - dir);
    if (base_len == 0 || (base_len == 1 && base[0] == '.') ||
        (base_len == 2 && base[0] == '.' && base[1] == '.'))
        return gnn_error_set(err, GNN_EINVAL,
                             "snapshot: '%s' does not name a folder", dir);

    if (slash == NULL)
        strcpy(parent, ".");
    else if (slash == dir)
        strcpy(parent, "/");
    else
        snprintf(parent, PATH_CAP, "%.*s", (int)(slash - dir), dir);
    snprintf(tmpl, PATH_CAP, "%s/.%.*s.%s-XXXXXX", parent, (int)base_len, base,
             tag);
    return 0;
}

/* 1 when path exists and may be replaced, 0 when absent, <0 on refusal. */
static int replaceable(const char *path, struct gnn_error *err)
{
    char manifest[PATH_CAP];
    struct stat st;

    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        return gnn_error_set(err, GNN_EIO, "cannot stat '%s': %s", path,
                             strerror(errno));
    }
    if (!S_ISDIR(st.st_mode))
        return gnn_error_set(err, GNN_EINVAL, "'%s' exists and is not a folder",
                             path);
    if (path_join(manifest, path, "manifest.json", err) != 0)
        return GNN_EINVAL;
    if (access(manifest, F_OK) == 0)
        return 1;
    if (rmdir(path) == 0)
        return 0; /* it was empty */
    return gnn_error_set(err, GNN_EINVAL,
                         "'%s' exists and is not a snapshot folder "
                         "(no manifest.json); not replacing it",
                         path);
}

/* Put the finished tmp folder at dir, keeping the old one until then. */
static int swap_into_place(const char *tmp, const char *dir, const char *parent,
                           struct gnn_error *err)
{
    char aside[PATH_CAP], tmpl[PATH_CAP], scratch[PATH_CAP];
    int exists = replaceable(dir, err);

    if (exists < 0)
        return exists;
    if (!exists) {
        if (rename(tmp, dir) != 0)
            return gnn_error_set(err, GNN_EIO, "cannot rename '%s' to '%s': %s",
                                 tmp, dir, strerror(errno));
        return fsync_dir(parent, err);
    }

    /* Where the kernel can, swap the two folders in one step, so that dir
     * always names a complete snapshot; tmp then holds the old one. */
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) == 0) {
        int ret = fsync_dir(parent, err);
        remove_tree(tmp);
        return ret;
    }
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
        return gnn_error_set(err, GNN_EIO, "cannot swap '%s' and '%s': %s", tmp,
                             dir, strerror(errno));

    /* Else rename the old folder aside (onto an empty placeholder that
     * mkdtemp reserves), move the new one in, then drop the old one. For
     * that moment dir is missing: readers get GNN_ENOENT and retry. */
    int ret = sibling_template(dir, "old", scratch, tmpl, err);
    if (ret != 0)
        return ret;
    snprintf(aside, sizeof(aside), "%s", tmpl);
    if (mkdtemp(aside) == NULL)
        return gnn_error_set(err, GNN_EIO, "cannot create '%s': %s", tmpl,
                             strerror(errno));
    if (rename(dir, aside) != 0) {
        ret = gnn_error_set(err, GNN_EIO, "cannot move '%s' aside: %s", dir,
                            strerror(errno));
        rmdir(aside);
        return ret;
    }
    if (rename(tmp, dir) != 0) {
        ret = gnn_error_set(err, GNN_EIO, "cannot rename '%s' to '%s': %s", tmp,
                            dir, strerror(errno));
        rename(aside, dir); /* put the old snapshot back */
        return ret;
    }
    ret = fsync_dir(parent, err);
    remove_tree(aside);
    return ret;
}

int gnn_snapshot_write(const struct gnn_snapshot *s, const char *dir,
                       struct gnn_error *err)
{
    char parent[PATH_CAP], tmp[PATH_CAP];
    int ret;

    if (s == NULL || dir == NULL)
        return gnn_error_set(err, GNN_EINVAL, "snapshot: NULL argument");
    ret = check_for_write(s, err);
    if (ret == 0)
        ret = sibling_template(dir, "tmp", parent, tmp, err);
    if (ret != 0)
        return ret;
    if (mkdtemp(tmp) == NULL)
        return gnn_error_set(err, GNN_EIO,
                             "cannot create a temporary folder in '%s': %s",
                             parent, strerror(errno));

    /* mkdtemp makes the folder private; a snapshot is read by others. */
    if (chmod(tmp, 0755) != 0)
        ret = gnn_error_set(err, GNN_EIO, "cannot chmod '%s': %s", tmp,
                            strerror(errno));
    if (ret == 0)
        ret = write_members(s, tmp, err);
    if (ret == 0)
        ret = fsync_dir(tmp, err);
    if (ret == 0)
        ret = swap_into_place(tmp, dir, parent, err);
    if (ret != 0)
        remove_tree(tmp);
    return ret;
}

/* ------------------------------------------------------ loading */

/* The manifest's record of one file. */
struct member {
    size_t bytes;
    uint32_t crc;
};

/*
 * One attempt at loading: every file is opened relative to one open
 * folder, so a concurrent replace cannot mix two snapshots.
 */
struct loader {
    const char *dir; /* as given, for error texts */
    int dfd;         /* the folder, opened once */
    json_t *files;   /* the manifest's "files" (borrowed) */
    char mpath[PATH_CAP];
};

static int manifest_member(json_t *files, const char *name, const char *mpath,
                           struct member *m, struct gnn_error *err)
{
    json_t *entry = json_object_get(files, name);
    json_int_t bytes;
    const char *crc;
    char *end;

    if (entry == NULL)
        return GNN_ENOENT;
    if (json_unpack(entry, "{s:I,s:s}", "bytes", &bytes, "crc32", &crc) != 0 ||
        bytes < 0 || strlen(crc) != 8)
        return gnn_error_set(err, GNN_EFORMAT,
                             "%s: bad entry for '%s' in \"files\"", mpath,
                             name);
    errno = 0;
    unsigned long v = strtoul(crc, &end, 16);
    if (*end != '\0' || errno != 0)
        return gnn_error_set(err, GNN_EFORMAT, "%s: bad crc32 for '%s'", mpath,
                             name);
    m->bytes = (size_t)bytes;
    m->crc = (uint32_t)v;
    return 0;
}

/*
 * Read dir/name in full and check it against the manifest: present, the
 * recorded size, the recorded CRC-32. *buf is freed by the caller.
 */
static int read_member(const struct loader *l, const char *name, char **buf,
                       size_t *len, struct gnn_error *err)
{
    char path[PATH_CAP];
    struct member m = {0, 0};
    int ret = manifest_member(l->files, name, l->mpath, &m, err);

    if (ret == GNN_ENOENT)
        return gnn_error_set(err, GNN_EFORMAT, "%s: '%s' is not listed",
                             l->mpath, name);
    if (ret == 0)
        ret = path_join(path, l->dir, name, err);
    if (ret != 0)
        return ret;

    ret = gnn__file_read_at(l->dfd, name, path, m.bytes, buf, len, err);
    if (ret == GNN_ENOENT)
        return gnn_error_set(err, GNN_EFORMAT,
                             "%s: missing (listed in the manifest)", path);
    if (ret == GNN_EFORMAT)
        return gnn_error_set(err, GNN_EFORMAT,
                             "%s: larger than the manifest's %zu bytes", path,
                             m.bytes);
    if (ret != 0)
        return ret;

    uint32_t crc = 0;
    if (*len != m.bytes)
        ret = gnn_error_set(err, GNN_EFORMAT,
                            "%s: %zu bytes, the manifest says %zu", path, *len,
                            m.bytes);
    else if ((crc = gnn__crc32(*buf, *len)) != m.crc)
        ret = gnn_error_set(err, GNN_EFORMAT,
                            "%s: checksum %08" PRIx32 " does not match the "
                            "manifest's %08" PRIx32,
                            path, crc, m.crc);
    if (ret != 0) {
        free(*buf);
        *buf = NULL;
    }
    return ret;
}

/* Load an array file whose dtype and shape must be exactly as given. */
static int load_npy(const struct loader *l, const char *name,
                    enum gnn_npy_dtype dtype, int ndim, int64_t rows,
                    int64_t cols, void **out, struct gnn_error *err)
{
    char path[PATH_CAP];
    struct gnn_npy_info info;
    char *buf = NULL;
    size_t len;
    int ret = read_member(l, name, &buf, &len, err);

    if (ret != 0)
        return ret;
    path_join(path, l->dir, name, NULL);
    ret = gnn_npy_parse(buf, len, path, &info, err);
    if (ret == 0 &&
        (info.dtype != dtype || info.ndim != ndim || info.shape[0] != rows ||
         (ndim == 2 && info.shape[1] != cols)))
        ret = gnn_error_set(err, GNN_EFORMAT,
                            "%s: expected %s, %d-d, %lld rows (and %lld "
                            "columns) as the manifest says",
                            path, gnn_npy_dtype_name(dtype), ndim,
                            (long long)rows, (long long)cols);
    if (ret != 0) {
        free(buf);
        return ret;
    }

    /* Slide the data to the front and keep the buffer as the array. */
    memmove(buf, buf + info.data_offset, info.data_bytes);
    *out = buf;
    return 0;
}

static int load_ids(const struct loader *l, const char *name, int32_t n,
                    char ***out, struct gnn_error *err)
{
    char path[PATH_CAP];
    char *buf = NULL, **ids = NULL;
    size_t len;
    int32_t count = 0;
    int ret = read_member(l, name, &buf, &len, err);

    if (ret != 0)
        return ret;
    path_join(path, l->dir, name, NULL);
    ids = calloc(n > 0 ? (size_t)n : 1, sizeof(*ids));
    if (ids == NULL) {
        ret = gnn_error_set(err, GNN_ENOMEM, "%s: no memory", path);
        goto out;
    }
    for (char *p = buf, *end = buf + len; p < end; count++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL || nl == p || memchr(p, '\r', (size_t)(nl - p)) ||
            memchr(p, '\0', (size_t)(nl - p)) || count >= n) {
            ret = gnn_error_set(err, GNN_EFORMAT, "%s:%d: %s", path, count + 1,
                                count >= n ? "more ids than the manifest's "
                                             "count"
                                           : "empty, unterminated or bad id");
            goto out;
        }
        *nl = '\0';
        ids[count] = dup_or_null(p);
        if (ids[count] == NULL) {
            ret = gnn_error_set(err, GNN_ENOMEM, "%s: no memory", path);
            goto out;
        }
        p = nl + 1;
    }
    if (count != n) {
        ret = gnn_error_set(err, GNN_EFORMAT,
                            "%s: %d ids, the manifest says %d", path, count, n);
        goto out;
    }
    *out = ids;
    ids = NULL;

out:
    free_ids(ids, n);
    free(buf);
    return ret;
}

/* Counts and names from the manifest into s; info gets the other keys. */
static int parse_manifest(json_t *m, const char *mpath, struct gnn_snapshot *s,
                          struct gnn_error *err)
{
    const char *format, *model, *checksum, *key;
    json_int_t version, dim, n_users, n_items;
    json_t *files, *value;

    if (!json_is_object(m) ||
        json_unpack(m, "{s:s,s:I,s:s,s:I,s:I,s:I,s:s,s:o}", "format", &format,
                    "format_version", &version, "model", &model, "dim", &dim,
                    "n_users", &n_users, "n_items", &n_items, "checksum",
                    &checksum, "files", &files) != 0 ||
        !json_is_object(files))
        return gnn_error_set(err, GNN_EFORMAT,
                             "%s: missing or mistyped manifest keys", mpath);
    if (strcmp(format, "hoprec-snapshot") != 0 ||
        version != GNN_SNAPSHOT_FORMAT)
        return gnn_error_set(err, GNN_EFORMAT,
                             "%s: not a hoprec snapshot of format %d", mpath,
                             GNN_SNAPSHOT_FORMAT);
    if (strcmp(checksum, "crc32") != 0)
        return gnn_error_set(err, GNN_EFORMAT, "%s: unknown checksum '%s'",
                             mpath, checksum);
    if (model[0] == '\0' || strlen(model) >= sizeof(s->model) || dim <= 0 ||
        dim > (1 << 20) || n_users < 0 || n_users >= INT32_MAX || n_items < 0 ||
        n_items >= INT32_MAX)
        return gnn_error_set(err, GNN_EFORMAT,
                             "%s: model, dim or counts out of range", mpath);

    strcpy(s->model, model);
    s->dim = (int32_t)dim;
    s->n_users = (int32_t)n_users;
    s->n_items = (int32_t)n_items;

    s->info = json_object();
    if (s->info == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "%s: no memory", mpath);
    json_object_foreach(m, key, value)
    {
        if (!is_reserved(key) && json_object_set(s->info, key, value) != 0)
            return gnn_error_set(err, GNN_ENOMEM, "%s: no memory", mpath);
    }
    return 0;
}

static int load_seen(const struct loader *l, struct gnn_snapshot *s,
                     struct gnn_error *err)
{
    int has_indptr = json_object_get(l->files, "seen_indptr.npy") != NULL;
    int has_items = json_object_get(l->files, "seen_items.npy") != NULL;
    const char *why;
    int ret;

    if (!has_indptr && !has_items)
        return 0;
    if (has_indptr != has_items)
        return gnn_error_set(err, GNN_EFORMAT,
                             "%s: seen_indptr.npy and seen_items.npy go "
                             "together",
                             l->mpath);
    ret = load_npy(l, "seen_indptr.npy", GNN_NPY_I64, 1,
                   (int64_t)s->n_users + 1, 0, (void **)&s->seen_indptr, err);
    if (ret != 0)
        return ret;

    /* The items' length comes from indptr: check it before trusting it. */
    int64_t nnz = s->seen_indptr[s->n_users];
    if (s->seen_indptr[0] != 0 || nnz < 0)
        return gnn_error_set(err, GNN_EFORMAT,
                             "%s/seen_indptr.npy: bad first or last entry",
                             l->dir);
    ret = load_npy(l, "seen_items.npy", GNN_NPY_I32, 1, nnz, 0,
                   (void **)&s->seen_items, err);
    if (ret != 0)
        return ret;
    if (seen_check(s->seen_indptr, s->seen_items, s->n_users, s->n_items,
                   &why) != 0)
        return gnn_error_set(err, GNN_EFORMAT, "%s/seen_*.npy: %s", l->dir,
                             why);
    return 0;
}

static int load_members(const struct loader *l, struct gnn_snapshot *s,
                        struct gnn_error *err)
{
    int ret = load_npy(l, "users.npy", GNN_NPY_F32, 2, s->n_users, s->dim,
                       (void **)&s->users, err);

    if (ret == 0)
        ret = load_npy(l, "items_source.npy", GNN_NPY_F32, 2, s->n_items,
                       s->dim, (void **)&s->items_source, err);
    if (ret == 0)
        ret = load_npy(l, "items_target.npy", GNN_NPY_F32, 2, s->n_items,
                       s->dim, (void **)&s->items_target, err);
    if (ret == 0)
        ret = load_ids(l, "users.txt", s->n_users, &s->user_ids, err);
    if (ret == 0)
        ret = load_ids(l, "items.txt", s->n_items, &s->item_ids, err);
    if (ret == 0 && json_object_get(l->files, "items_popularity.npy") != NULL)
        ret = load_npy(l, "items_popularity.npy", GNN_NPY_F32, 1, s->n_items, 0,
                       (void **)&s->item_popularity, err);
    if (ret == 0)
        ret = load_seen(l, s, err);
    return ret;
}

/* Read and parse the manifest of the open folder into s. */
static int load_manifest(struct loader *l, json_t **m, struct gnn_snapshot *s,
                         struct gnn_error *err)
{
    json_error_t jerr;
    char *text = NULL;
    size_t len;
    int ret = gnn__file_read_at(l->dfd, "manifest.json", l->mpath, 64u << 20,
                                &text, &len, err);

    if (ret != 0)
        return ret;
    *m = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (*m == NULL)
        return gnn_error_set(err, GNN_EFORMAT, "%s:%d: %s", l->mpath, jerr.line,
                             jerr.text);
    ret = parse_manifest(*m, l->mpath, s, err);
    l->files = json_object_get(*m, "files");
    return ret;
}

/*
 * One attempt. *replaced is set when it failed and dir no longer names
 * the folder it opened: a writer swapped in a new snapshot meanwhile.
 */
static int load_once(const char *dir, struct gnn_snapshot **out, int *replaced,
                     struct gnn_error *err)
{
    struct loader l = {dir, -1, NULL, {0}};
    struct stat opened, now;
    struct gnn_snapshot *s = NULL;
    json_t *m = NULL;
    int ret;

    *replaced = 0;
    ret = path_join(l.mpath, dir, "manifest.json", err);
    if (ret != 0)
        return ret;
    l.dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (l.dfd < 0) {
        *replaced = errno == ENOENT; /* maybe between two renames */
        return gnn_error_set(err, errno == ENOENT ? GNN_ENOENT : GNN_EIO,
                             "cannot open '%s': %s", dir, strerror(errno));
    }

    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        ret = gnn_error_set(err, GNN_ENOMEM, "snapshot: no memory");
        goto out;
    }
    ret = load_manifest(&l, &m, s, err);
    if (ret == 0)
        ret = load_members(&l, s, err);
    if (ret == 0) {
        *out = s;
        s = NULL;
    } else if (fstat(l.dfd, &opened) == 0 &&
               (stat(dir, &now) != 0 || now.st_ino != opened.st_ino ||
                now.st_dev != opened.st_dev)) {
        *replaced = 1;
    }

out:
    gnn_snapshot_free(s);
    json_decref(m);
    close(l.dfd);
    return ret;
}

int gnn_snapshot_load(const char *dir, struct gnn_snapshot **out,
                      struct gnn_error *err)
{
    int ret, replaced = 0;

    *out = NULL;
    /* A writer replacing the folder while we read makes one attempt fail;
     * the next one reads the new folder whole. */
    for (int attempt = 0; attempt < 5; attempt++) {
        if (attempt > 0)
            nanosleep(&(struct timespec){0, 2000000}, NULL);
        ret = load_once(dir, out, &replaced, err);
        if (ret == 0 || !replaced)
            break;
    }
    return ret;
}
