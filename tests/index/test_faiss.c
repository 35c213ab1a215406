/*
 * Proves that the FAISS C API this project links (compiled from FAISS's
 * c_api sources against the packaged libfaiss.a, or a system faiss_c)
 * works: exact inner-product search, the index factory, and its errors.
 */
#include <criterion/criterion.h>
#include <faiss/c_api/IndexFlat_c.h>
#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/error_c.h>
#include <faiss/c_api/index_factory_c.h>

enum { DIM = 4, N_ITEMS = 5 };

static const float items[N_ITEMS * DIM] = {
    1,    0,    0, 0, /* 0 */
    0,    1,    0, 0, /* 1 */
    0,    0,    1, 0, /* 2 */
    0.6f, 0.8f, 0, 0, /* 3 */
    0,    0,    0, 2, /* 4 */
};

Test(faiss, flat_inner_product_finds_the_best_items)
{
    FaissIndexFlatIP *index = NULL;
    float query[DIM] = {0.5f, 1.0f, 0, 0.1f};
    float scores[3];
    idx_t labels[3];

    cr_assert_eq(faiss_IndexFlatIP_new_with(&index, DIM), 0);
    cr_assert_eq(faiss_Index_add((FaissIndex *)index, N_ITEMS, items), 0);
    cr_assert_eq(faiss_Index_ntotal((FaissIndex *)index), N_ITEMS);

    cr_assert_eq(
        faiss_Index_search((FaissIndex *)index, 1, query, 3, scores, labels),
        0);

    /* 3: 0.3+0.8=1.1, 1: 1.0, 0: 0.5 (4 scores 0.2, 2 scores 0). */
    cr_assert_eq(labels[0], 3);
    cr_assert_eq(labels[1], 1);
    cr_assert_eq(labels[2], 0);
    cr_assert_float_eq(scores[0], 1.1f, 1e-6);
    cr_assert_float_eq(scores[1], 1.0f, 1e-6);
    cr_assert_float_eq(scores[2], 0.5f, 1e-6);
    faiss_Index_free((FaissIndex *)index);
}

Test(faiss, factory_builds_an_hnsw_index_that_searches)
{
    FaissIndex *index = NULL;
    float scores[1];
    idx_t labels[1];

    cr_assert_eq(
        faiss_index_factory(&index, DIM, "HNSW8,Flat", METRIC_INNER_PRODUCT), 0,
        "factory failed: %s", faiss_get_last_error());
    cr_assert_eq(faiss_Index_add(index, N_ITEMS, items), 0);
    cr_assert_eq(
        faiss_Index_search(index, 1, &items[4 * DIM], 1, scores, labels), 0);
    cr_assert_eq(labels[0], 4);
    faiss_Index_free(index);
}

Test(faiss, a_bad_factory_string_reports_an_error)
{
    FaissIndex *index = NULL;

    int ret = faiss_index_factory(&index, DIM, "NoSuchIndex", METRIC_L2);

    cr_assert_neq(ret, 0);
    cr_assert(faiss_get_last_error() != NULL);
    cr_assert_neq(faiss_get_last_error()[0], '\0');
}
