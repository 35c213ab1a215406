/*
 * A small, fast, seedable random number generator (xoshiro256**, seeded
 * through splitmix64), so that training is reproducible from one seed
 * on every platform.
 */
#ifndef GNN_RNG_H
#define GNN_RNG_H

#include <stdint.h>

struct gnn_rng {
    uint64_t s[4];
};

/* Seed r from seed; any seed, 0 included, gives a good state. */
void gnn_rng_seed(struct gnn_rng *r, uint64_t seed);

/* The next 64 random bits. */
uint64_t gnn_rng_next(struct gnn_rng *r);

/* Uniform integer in 0..n-1 (n > 0), without modulo bias. */
uint32_t gnn_rng_below(struct gnn_rng *r, uint32_t n);

/* Uniform float in [0, 1). */
float gnn_rng_uniform(struct gnn_rng *r);

/* Standard normal float (Box-Muller). */
float gnn_rng_normal(struct gnn_rng *r);

#endif
