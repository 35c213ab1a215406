#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gnn.h"

static char dir[64];
static char path[128];

static void setup(void)
{
    strcpy(dir, "/tmp/hoprec-npy-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/a.npy", dir);
}

static void teardown(void)
{
    unlink(path);
    rmdir(dir);
}

static void write_bytes(const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");

    cr_assert_not_null(f);
    cr_assert_eq(fwrite(buf, 1, len, f), len);
    fclose(f);
}

TestSuite(npy, .init = setup, .fini = teardown);

Test(npy, header_matches_numpy_layout)
{
    char h[GNN_NPY_HEADER_MAX];
    size_t len;
    int64_t shape[2] = {3, 4};
    const char *dict =
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";

    cr_assert_eq(gnn_npy_header(GNN_NPY_F32, 2, shape, h, &len, NULL), 0);
    cr_assert_eq(len % 64, 0, "header length %zu is not a multiple of 64", len);
    cr_assert(memcmp(h, "\x93NUMPY\x01\x00", 8) == 0);
    cr_assert_eq((size_t)(unsigned char)h[8] | (size_t)h[9] << 8, len - 10);
    cr_assert(memcmp(h + 10, dict, strlen(dict)) == 0);
    for (size_t i = 10 + strlen(dict); i < len - 1; i++)
        cr_assert_eq(h[i], ' ', "padding byte %zu is not a space", i);
    cr_assert_eq(h[len - 1], '\n');

    shape[0] = 5;
    cr_assert_eq(gnn_npy_header(GNN_NPY_I64, 1, shape, h, &len, NULL), 0);
    cr_assert(strstr(h + 10, "'descr': '<i8'") != NULL);
    cr_assert(strstr(h + 10, "'shape': (5,)") != NULL);
}

Test(npy, round_trip_is_bit_exact_for_each_dtype)
{
    float f[6] = {1.5f, -0.0f, INFINITY, -INFINITY, 1e-40f, 0};
    uint32_t nan_bits = 0x7fc12345;
    memcpy(&f[5], &nan_bits, 4);
    int32_t i4[3] = {INT32_MIN, -1, INT32_MAX};
    int64_t i8[2] = {INT64_MIN, INT64_MAX};
    int64_t s23[2] = {2, 3}, s3[1] = {3}, s2[1] = {2};
    struct gnn_npy_array a;

    cr_assert_eq(gnn_npy_save(path, GNN_NPY_F32, 2, s23, f, NULL), 0);
    cr_assert_eq(gnn_npy_load(path, &a, NULL), 0);
    cr_assert_eq(a.info.dtype, GNN_NPY_F32);
    cr_assert_eq(a.info.ndim, 2);
    cr_assert_eq(a.info.shape[0], 2);
    cr_assert_eq(a.info.shape[1], 3);
    cr_assert(memcmp(a.data, f, sizeof(f)) == 0, "float bits changed");
    gnn_npy_free(&a);

    cr_assert_eq(gnn_npy_save(path, GNN_NPY_I32, 1, s3, i4, NULL), 0);
    cr_assert_eq(gnn_npy_load(path, &a, NULL), 0);
    cr_assert_eq(a.info.dtype, GNN_NPY_I32);
    cr_assert(memcmp(a.data, i4, sizeof(i4)) == 0);
    gnn_npy_free(&a);

    cr_assert_eq(gnn_npy_save(path, GNN_NPY_I64, 1, s2, i8, NULL), 0);
    cr_assert_eq(gnn_npy_load(path, &a, NULL), 0);
    cr_assert_eq(a.info.dtype, GNN_NPY_I64);
    cr_assert(memcmp(a.data, i8, sizeof(i8)) == 0);
    gnn_npy_free(&a);
    gnn_npy_free(&a); /* freeing an empty array is a no-op */
}

Test(npy, empty_array_round_trips)
{
    int64_t shape[2] = {0, 8};
    struct gnn_npy_array a;

    cr_assert_eq(gnn_npy_save(path, GNN_NPY_F32, 2, shape, NULL, NULL), 0);
    cr_assert_eq(gnn_npy_load(path, &a, NULL), 0);
    cr_assert_eq(a.info.shape[0], 0);
    cr_assert_eq(a.info.shape[1], 8);
    cr_assert_eq(a.info.data_bytes, 0);
    gnn_npy_free(&a);
}

Test(npy, reader_accepts_other_spacing_and_key_order)
{
    char buf[128 + 8];
    const char *dict = "{\"shape\":(2,),'fortran_order':False ,'descr':'<i4'}";
    size_t n = strlen(dict);
    int32_t v[2] = {7, -7};
    struct gnn_npy_array a;

    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (char)n;
    buf[9] = 0;
    memcpy(buf + 10, dict, n);
    memcpy(buf + 10 + n, v, sizeof(v));
    write_bytes(buf, 10 + n + sizeof(v));

    cr_assert_eq(gnn_npy_load(path, &a, NULL), 0);
    cr_assert_eq(((int32_t *)a.data)[1], -7);
    gnn_npy_free(&a);
}

/* Write a file with header dict and data_len zero bytes; expect EFORMAT. */
static void expect_rejected(const char *dict, size_t data_len)
{
    char buf[512] = {0};
    size_t n = strlen(dict);
    struct gnn_error err;
    struct gnn_npy_array a;

    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (char)n;
    memcpy(buf + 10, dict, n);
    write_bytes(buf, 10 + n + data_len);

    int ret = gnn_npy_load(path, &a, &err);
    cr_assert_eq(ret, GNN_EFORMAT, "'%s' with %zu data bytes: got %d", dict,
                 data_len, ret);
    cr_assert(strstr(err.text, path) != NULL, "error '%s' lacks the path",
              err.text);
    cr_assert_null(a.data);
}

Test(npy, malformed_headers_are_rejected)
{
    const char *ok = "'fortran_order': False, 'shape': (2,), }";
    char d[128];

    snprintf(d, sizeof(d), "{'descr': '>f4', %s", ok);
    expect_rejected(d, 8); /* big-endian */
    snprintf(d, sizeof(d), "{'descr': '<f8', %s", ok);
    expect_rejected(d, 16); /* another dtype */
    expect_rejected("{'descr': '<f4', 'fortran_order': True, "
                    "'shape': (2, 2), }",
                    16);
    expect_rejected("{'descr': '<f4', 'fortran_order': False, "
                    "'shape': (2, 2, 2), }",
                    32);
    expect_rejected("{'descr': '<f4', 'fortran_order': False, "
                    "'shape': (), }",
                    4);
    expect_rejected("{'descr': '<f4', 'shape': (2,), }", 8);
    expect_rejected("{'descr': '<f4', 'fortran_order': False, "
                    "'shape': (2,)",
                    8);
    expect_rejected("not a dict at all", 8);
}

Test(npy, size_mismatches_and_huge_shapes_are_rejected)
{
    const char *two = "{'descr': '<f4', 'fortran_order': False, "
                      "'shape': (2, 2), }";

    expect_rejected(two, 15); /* truncated data */
    expect_rejected(two, 17); /* trailing bytes */
    expect_rejected("{'descr': '<f4', 'fortran_order': False, "
                    "'shape': (4611686018427387904, 4), }",
                    16);
    expect_rejected("{'descr': '<i8', 'fortran_order': False, "
                    "'shape': (99999999999999999999999,), }",
                    16);
}

Test(npy, truncated_or_foreign_files_are_rejected)
{
    struct gnn_error err;
    struct gnn_npy_array a;
    int64_t shape[1] = {4};
    float v[4] = {1, 2, 3, 4};

    write_bytes("\x93NUMP", 5);
    cr_assert_eq(gnn_npy_load(path, &a, &err), GNN_EFORMAT);
    write_bytes("PK\x03\x04 hello zip file", 20);
    cr_assert_eq(gnn_npy_load(path, &a, &err), GNN_EFORMAT);

    /* A header length that runs past the end of the file. */
    write_bytes("\x93NUMPY\x01\x00\xff\x7f{'descr'", 17);
    cr_assert_eq(gnn_npy_load(path, &a, &err), GNN_EFORMAT);

    /* A valid file cut at every length is rejected, never read past. */
    cr_assert_eq(gnn_npy_save(path, GNN_NPY_F32, 1, shape, v, NULL), 0);
    char *full;
    size_t len;
    cr_assert_eq(gnn__file_read(path, 1 << 20, &full, &len, NULL), 0);
    for (size_t cut = 0; cut < len; cut++) {
        write_bytes(full, cut);
        cr_assert_eq(gnn_npy_load(path, &a, &err), GNN_EFORMAT,
                     "file cut at %zu bytes was accepted", cut);
    }
    free(full);
}

Test(npy, missing_file_is_enoent_and_bad_arguments_einval)
{
    struct gnn_error err;
    struct gnn_npy_array a;
    int64_t shape[2] = {-1, 2};
    char h[GNN_NPY_HEADER_MAX];
    size_t len;

    cr_assert_eq(gnn_npy_load("/nonexistent/x.npy", &a, &err), GNN_ENOENT);
    cr_assert_eq(gnn_npy_header(GNN_NPY_F32, 2, shape, h, &len, &err),
                 GNN_EINVAL);
    shape[0] = 1;
    cr_assert_eq(gnn_npy_header(GNN_NPY_F32, 3, shape, h, &len, &err),
                 GNN_EINVAL);
    cr_assert_eq(gnn_npy_header((enum gnn_npy_dtype)9, 1, shape, h, &len, &err),
                 GNN_EINVAL);
    cr_assert_eq(
        gnn_npy_save("/nonexistent/x.npy", GNN_NPY_F32, 1, shape, "abcd", &err),
        GNN_EIO);
    cr_assert(strstr(err.text, "/nonexistent/x.npy") != NULL);
}

/* Path of a file NumPy wrote, under tests/data/npy. */
static const char *numpy_file(const char *name)
{
    static char p[512];
    const char *src = getenv("HOPREC_SOURCE_ROOT");

    cr_assert_not_null(src, "HOPREC_SOURCE_ROOT is not set");
    snprintf(p, sizeof(p), "%s/tests/data/npy/%s", src, name);
    return p;
}

Test(npy, files_written_by_numpy_load)
{
    struct gnn_npy_array a;
    struct gnn_error err;

    cr_assert_eq(gnn_npy_load(numpy_file("numpy_f4_3x4.npy"), &a, &err), 0,
                 "%s", err.text);
    cr_assert_eq(a.info.dtype, GNN_NPY_F32);
    cr_assert(a.info.ndim == 2 && a.info.shape[0] == 3 && a.info.shape[1] == 4);
    for (int i = 0; i < 12; i++)
        cr_assert_eq(((float *)a.data)[i], (float)i * 0.5f - 1.0f);

    /* Our header for the same array is NumPy's, byte for byte. */
    char h[GNN_NPY_HEADER_MAX], *file;
    size_t len, file_len;
    cr_assert_eq(gnn_npy_header(GNN_NPY_F32, 2, a.info.shape, h, &len, NULL),
                 0);
    cr_assert_eq(gnn__file_read(numpy_file("numpy_f4_3x4.npy"), 4096, &file,
                                &file_len, NULL),
                 0);
    cr_assert_eq(len, a.info.data_offset);
    cr_assert(memcmp(h, file, len) == 0, "header differs from NumPy's");
    free(file);
    gnn_npy_free(&a);

    cr_assert_eq(gnn_npy_load(numpy_file("numpy_i8_2.npy"), &a, &err), 0);
    cr_assert_eq(a.info.dtype, GNN_NPY_I64);
    cr_assert_eq(((int64_t *)a.data)[1], (int64_t)1 << 40);
    gnn_npy_free(&a);

    cr_assert_eq(gnn_npy_load(numpy_file("numpy_i4_0.npy"), &a, &err), 0);
    cr_assert(a.info.dtype == GNN_NPY_I32 && a.info.shape[0] == 0);
    gnn_npy_free(&a);

    const char *refused[] = {"numpy_f8_3.npy", "numpy_fortran_2x3.npy",
                             "numpy_be_f4_2.npy"};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(gnn_npy_load(numpy_file(refused[i]), &a, &err),
                     GNN_EFORMAT, "%s was accepted", refused[i]);
}
