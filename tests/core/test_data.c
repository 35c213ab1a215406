#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gnn.h"

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof(dir), "/tmp/hoprec_data_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void put(const char *name, const char *text)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void clean(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(data, split_lines_become_user_item_pairs, .init = make_dir, .fini = clean)
{
    struct gnn_interactions x;

    put("s.txt", "0 3 1\n\n2\r\n4 0\t7 \n");
    gnn_interactions_init(&x);
    char path[128];
    snprintf(path, sizeof(path), "%s/s.txt", dir);
    cr_assert_eq(gnn_split_load(path, &x, NULL), 0);
    cr_assert_eq(x.n, 4);
    int32_t u[] = {0, 0, 4, 4}, i[] = {3, 1, 0, 7};
    for (int k = 0; k < 4; k++) {
        cr_assert_eq(x.user[k], u[k]);
        cr_assert_eq(x.item[k], i[k]);
        cr_assert_float_eq(x.weight[k], 1.0f, 0);
    }
    cr_assert_eq(x.n_users, 5);
    cr_assert_eq(x.n_items, 8);
    gnn_interactions_free(&x);
}

Test(data, a_bad_token_names_the_file_and_line, .init = make_dir, .fini = clean)
{
    struct gnn_interactions x;
    struct gnn_error err;
    char path[128];

    put("s.txt", "0 1\n1 2x\n");
    snprintf(path, sizeof(path), "%s/s.txt", dir);
    gnn_interactions_init(&x);
    cr_assert_eq(gnn_split_load(path, &x, &err), GNN_EFORMAT);
    cr_assert(strstr(err.text, "s.txt:2") != NULL, "%s", err.text);
    gnn_interactions_free(&x);
    put("s.txt", "0 99999999999\n");
    gnn_interactions_init(&x);
    cr_assert_eq(gnn_split_load(path, &x, &err), GNN_ERANGE);
    gnn_interactions_free(&x);
}

Test(data, dataset_counts_ids_of_every_split, .init = make_dir, .fini = clean)
{
    struct gnn_dataset ds;
    struct gnn_error err;

    put("train.txt", "0 1 2\n1 0\n");
    put("test.txt", "1 5\n3 2\n"); /* item 5 and user 3 only in test */
    cr_assert_eq(gnn_dataset_load_splits(dir, &ds, &err), 0, "%s", err.text);
    cr_assert_eq(ds.train.n, 3);
    cr_assert_eq(ds.valid.n, 0, "valid.txt is optional");
    cr_assert_eq(ds.test.n, 2);
    cr_assert_eq(ds.n_users, 4);
    cr_assert_eq(ds.n_items, 6);
    gnn_dataset_free(&ds);

    char path[128];
    snprintf(path, sizeof(path), "%s/train.txt", dir);
    unlink(path);
    cr_assert_eq(gnn_dataset_load_splits(dir, &ds, &err), GNN_ENOENT);
}
