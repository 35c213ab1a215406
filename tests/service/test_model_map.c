/*
 * The id map behind the served model: insert, look up, duplicates and
 * growth past many resizes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "model_map.h"

Test(model_map, finds_what_was_put_and_nothing_else)
{
    struct svc__map m = {0};

    cr_assert_eq(svc__map_get(&m, "a"), -1, "empty map finds nothing");
    cr_assert_eq(svc__map_put(&m, "a", 7), 0);
    cr_assert_eq(svc__map_put(&m, "b", 8), 0);
    cr_assert_eq(svc__map_get(&m, "a"), 7);
    cr_assert_eq(svc__map_get(&m, "b"), 8);
    cr_assert_eq(svc__map_get(&m, "c"), -1);
    cr_assert_eq(svc__map_get(&m, ""), -1);
    cr_assert_eq(m.len, 2);
    svc__map_clear(&m);
    svc__map_clear(NULL);
}

Test(model_map, duplicate_keeps_the_first_value)
{
    struct svc__map m = {0};

    cr_assert_eq(svc__map_put(&m, "sku-1", 1), 0);
    cr_assert_eq(svc__map_put(&m, "sku-1", 2), 1);
    cr_assert_eq(svc__map_get(&m, "sku-1"), 1);
    cr_assert_eq(m.len, 1);
    svc__map_clear(&m);
}

Test(model_map, survives_growth_with_every_key_intact)
{
    enum { N = 5000 };
    struct svc__map m = {0};
    char(*keys)[16] = malloc(N * sizeof(*keys));

    cr_assert_not_null(keys);
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "user-%d", i);
        cr_assert_eq(svc__map_put(&m, keys[i], i), 0);
    }
    cr_assert_geq(m.cap, 2 * (size_t)N, "kept at most half full");
    for (int i = 0; i < N; i++)
        cr_assert_eq(svc__map_get(&m, keys[i]), i, "key %s", keys[i]);
    cr_assert_eq(svc__map_get(&m, "user-5000"), -1);
    svc__map_clear(&m);
    free(keys);
}
