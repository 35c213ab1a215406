#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "gnn.h"

static struct gnn_idmap *m;

static void setup(void)
{
    cr_assert_eq(gnn_idmap_new(&m, NULL), 0);
}

static void teardown(void)
{
    gnn_idmap_free(m);
}

TestSuite(idmap, .init = setup, .fini = teardown);

static int32_t add(const char *id)
{
    return gnn_idmap_get_or_add(m, id, strlen(id), NULL, NULL);
}

Test(idmap, ids_get_dense_numbers_in_order_of_arrival)
{
    int added;
    size_t len;

    cr_assert_eq(gnn_idmap_size(m), 0);
    cr_assert_eq(add("sku-1"), 0);
    cr_assert_eq(add("sku-2"), 1);
    cr_assert_eq(gnn_idmap_get_or_add(m, "sku-1", 5, &added, NULL), 0);
    cr_assert_eq(added, 0, "a known id was reported as new");
    cr_assert_eq(gnn_idmap_get_or_add(m, "sku-3", 5, &added, NULL), 2);
    cr_assert_eq(added, 1);
    cr_assert_eq(gnn_idmap_size(m), 3);

    cr_assert_eq(gnn_idmap_lookup(m, "sku-2", 5), 1);
    cr_assert_eq(gnn_idmap_lookup(m, "sku-4", 5), -1);
    cr_assert_eq(gnn_idmap_lookup(m, "sku-", 4), -1, "a prefix matched");
    cr_assert_str_eq(gnn_idmap_name(m, 2, &len), "sku-3");
    cr_assert_eq(len, 5);
    cr_assert_null(gnn_idmap_name(m, 3, NULL));
    cr_assert_null(gnn_idmap_name(m, -1, NULL));
}

Test(idmap, ids_are_bytes_with_a_length)
{
    size_t len;

    cr_assert_eq(gnn_idmap_get_or_add(m, "", 0, NULL, NULL), 0);
    cr_assert_eq(gnn_idmap_get_or_add(m, "a\0b", 3, NULL, NULL), 1);
    cr_assert_eq(gnn_idmap_get_or_add(m, "a\0c", 3, NULL, NULL), 2);
    cr_assert_eq(gnn_idmap_get_or_add(m, "a", 1, NULL, NULL), 3);
    cr_assert_eq(gnn_idmap_get_or_add(m, "Ä-ü", strlen("Ä-ü"), NULL, NULL), 4);
    cr_assert_eq(gnn_idmap_lookup(m, "a\0b", 3), 1);
    cr_assert_eq(gnn_idmap_lookup(m, "", 0), 0);
    const char *name = gnn_idmap_name(m, 2, &len);
    cr_assert_eq(len, 3);
    cr_assert(memcmp(name, "a\0c", 4) == 0, "name not kept NUL-terminated");

    struct gnn_error err;
    cr_assert_eq(gnn_idmap_get_or_add(m, NULL, 3, NULL, &err), GNN_EINVAL);
    cr_assert_eq(gnn_idmap_lookup(m, NULL, 3), -1);
}

Test(idmap, long_ids_and_shared_prefixes_stay_apart)
{
    char id[300];

    for (int i = 0; i < 2000; i++) {
        memset(id, 'x', sizeof(id));
        snprintf(id + 200, 100, "%d", i); /* differ only after 200 bytes */
        cr_assert_eq(gnn_idmap_get_or_add(m, id, strlen(id), NULL, NULL), i);
    }
    for (int i = 0; i < 2000; i++) {
        memset(id, 'x', sizeof(id));
        snprintf(id + 200, 100, "%d", i);
        cr_assert_eq(gnn_idmap_lookup(m, id, strlen(id)), i);
    }
}

Test(idmap, grows_to_a_million_ids_with_memory_near_the_id_bytes)
{
    const int32_t n = 1000000;
    char id[32];
    size_t bytes = 0, len;

    for (int32_t i = 0; i < n; i++) {
        int k = snprintf(id, sizeof(id), "user-%07d", i * 7);
        bytes += (size_t)k;
        cr_assert_eq(gnn_idmap_get_or_add(m, id, (size_t)k, NULL, NULL), i);
    }
    cr_assert_eq(gnn_idmap_size(m), n);
    for (int32_t i = 0; i < n; i++) {
        int k = snprintf(id, sizeof(id), "user-%07d", i * 7);
        cr_assert_eq(gnn_idmap_lookup(m, id, (size_t)k), i, "id %s", id);
        if (i % 9973 == 0) {
            cr_assert_str_eq(gnn_idmap_name(m, i, &len), id);
            cr_assert_eq(len, (size_t)k);
        }
    }
    cr_assert_eq(gnn_idmap_lookup(m, "user-0000001", 12), -1);

    /* Arena at most twice the id bytes, plus a bounded cost per id. */
    size_t mem = gnn_idmap_memory(m);
    cr_assert_lt(mem, 2 * (bytes + (size_t)n) + 64 * (size_t)n,
                 "%zu bytes for %zu id bytes", mem, bytes);
}

Test(idmap, free_accepts_null)
{
    gnn_idmap_free(NULL);
}
