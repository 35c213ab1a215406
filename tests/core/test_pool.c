#include <criterion/criterion.h>

#include "gnn.h"

struct count {
    int hits[8];
    int nth_seen;
};

static void mark(int ith, int nth, void *ctx)
{
    struct count *c = ctx;
    c->hits[ith]++;
    c->nth_seen = nth;
}

Test(pool, every_slice_runs_once_per_run)
{
    struct gnn_pool *p;
    struct count c = {{0}, 0};

    cr_assert_eq(gnn_pool_new(4, &p, NULL), 0);
    cr_assert_eq(gnn_pool_size(p), 4);
    for (int run = 0; run < 100; run++)
        gnn_pool_run(p, mark, &c);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(c.hits[i], 100, "slice %d ran %d times", i, c.hits[i]);
    cr_assert_eq(c.nth_seen, 4);
    gnn_pool_free(p);
    gnn_pool_free(NULL);
}

Test(pool, null_pool_runs_one_slice_and_bad_sizes_fail)
{
    struct gnn_pool *p;
    struct gnn_error err;
    struct count c = {{0}, 0};

    gnn_pool_run(NULL, mark, &c);
    cr_assert_eq(c.hits[0], 1);
    cr_assert_eq(c.nth_seen, 1);
    cr_assert_eq(gnn_pool_new(0, &p, &err), GNN_EINVAL);
    cr_assert_null(p);
    cr_assert_eq(gnn_pool_new(1000, &p, &err), GNN_EINVAL);
}
