#include "gnn_rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void gnn_rng_seed(struct gnn_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t gnn_rng_next(struct gnn_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint32_t gnn_rng_below(struct gnn_rng *r, uint32_t n)
{
    /* Lemire's multiply-shift with rejection of the biased low range. */
    uint64_t m = (gnn_rng_next(r) >> 32) * n;
    uint32_t low = (uint32_t)m;

    if (low < n) {
        uint32_t floor = (uint32_t)(-n) % n;
        while (low < floor) {
            m = (gnn_rng_next(r) >> 32) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

float gnn_rng_uniform(struct gnn_rng *r)
{
    return (float)(gnn_rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

float gnn_rng_normal(struct gnn_rng *r)
{
    double u1 = ((double)(gnn_rng_next(r) >> 11) + 1.0) / 9007199254740993.0;
    double u2 = (double)(gnn_rng_next(r) >> 11) / 9007199254740992.0;

    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
