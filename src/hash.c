/*
 * hash.c — the hash functions behind maps (Go: runtime/alg.go, hash64.go,
 * and memhash/aeshashbody in asm_amd64.s).
 *
 * A map needs a hash that is fast on short keys and that an attacker cannot
 * steer: every map draws a random 64-bit seed (gort_map_make), and the hash
 * of a key depends on the seed, so keys that collide in one map spread out
 * in the next. Two implementations, chosen once at load time:
 *
 *   AES-NI (amd64 with the AES extension), as Go's memhash: one AES round
 *   is a strong 128-bit mixing step (every output byte depends on four input
 *   bytes, SubBytes is non-linear) that costs a few cycles. The 16-byte
 *   state starts from (seed, length) mixed with a per-process random key
 *   schedule; each 16-byte block of the key is xored in and scrambled by
 *   aesenc rounds; blocks beyond the first run in independent lanes so the
 *   rounds pipeline, and the lanes are folded together at the end. Keys of
 *   at most 16 bytes take one block (memhash_aes_short, inline in map.h so
 *   that the map's string paths hash without a call).
 *
 *   Portable (everywhere else, and what tests may force): the
 *   multiply-and-fold mixer of the wyhash family. hashmix(a, b) is the 128-bit
 *   product a*b folded to 64 bits (high half xor low half); a full 64x64
 *   multiply diffuses every input bit into the middle output bits, and the
 *   fold brings them down. Keys are read in 8-byte words (short keys by
 *   overlapping 4-byte reads, as wyhash does), xored with secret constants
 *   and the seed, and mixed. The 8-byte version (memhash64, inline in
 *   map.h) serves maps with 8-byte keys on every CPU: two dependent
 *   multiplies take fewer cycles than three dependent AES rounds, and on
 *   the hottest key type that matters more than AES's stronger mixing.
 *
 * Both read only the key's bytes (no over-reads past the end, so ASan and
 * page boundaries are fine) and produce full 64-bit hashes: the map uses the
 * low 7 bits as H2, the bits above as H1 and the top bits for the directory.
 *
 * Which one a map uses is fixed when the map is made (maptype.aes), so a
 * test can switch useAeshash for new maps without disturbing old ones.
 */
#include "map.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>


/* Odd 64-bit constants with about half their bits set (digits of pi, e and
 * the golden ratio); any such constants mix alike. */
#define K0 0x243f6a8885a308d3ull
#define K1 0x9e3779b97f4a7c15ull      /* also in map.h's memhash64 */
#define K2 0xb7e151628aed2a6bull      /* also in map.h's memhash64 */
#define K3 0x13198a2e03707345ull

bool useAeshash;
uint64_t hashkey[4];              /* per-process secret of the portable hash */
#if defined(__x86_64__)
__m128i aeskeysched[4];           /* per-process round keys of the AES hash */
#endif

/* ---- Portable: multiply and fold ---------------------------------------- */


uint64_t memhash_portable(const void *key, size_t n, uint64_t seed)
{
    const uint8_t *p = key;
    uint64_t s = seed ^ hashmix(seed ^ hashkey[0], K0 ^ n);
    uint64_t a, b;
    if (likely(n <= 16)) {
        if (n >= 4) {
            /* Two overlapping 4-byte reads at each end cover 4..16 bytes. */
            size_t mid = (n >> 3) << 2;
            a = hash_rd32(p) << 32 | hash_rd32(p + mid);
            b = hash_rd32(p + n - 4) << 32 | hash_rd32(p + n - 4 - mid);
        } else if (n > 0) {
            a = (uint64_t)p[0] << 16 | (uint64_t)p[n >> 1] << 8 | p[n - 1];
            b = 0;
        } else {
            a = b = 0;
        }
    } else {
        size_t i = n;
        if (i > 48) {
            /* Three independent lanes keep the multipliers busy. */
            uint64_t s1 = s, s2 = s;
            do {
                s  = hashmix(hash_rd64(p)      ^ hashkey[1], hash_rd64(p + 8)  ^ s);
                s1 = hashmix(hash_rd64(p + 16) ^ hashkey[2], hash_rd64(p + 24) ^ s1);
                s2 = hashmix(hash_rd64(p + 32) ^ hashkey[3], hash_rd64(p + 40) ^ s2);
                p += 48;
                i -= 48;
            } while (i > 48);
            s ^= s1 ^ s2;
        }
        while (i > 16) {
            s = hashmix(hash_rd64(p) ^ hashkey[1], hash_rd64(p + 8) ^ s);
            p += 16;
            i -= 16;
        }
        a = hash_rd64(p + i - 16);
        b = hash_rd64(p + i - 8);
    }
    return hashmix(hashmix(a ^ hashkey[1], b ^ s) ^ K1 ^ n, s ^ K2);
}

/* ---- AES-NI (amd64) --------------------------------------------------- */

#if defined(__x86_64__)
HASH_TARGET static inline __m128i aes_round(__m128i x, __m128i k) { return _mm_aesenc_si128(x, k); }

HASH_TARGET uint64_t memhash_aes(const void *key, size_t n, uint64_t seed)
{
    const uint8_t *p = key;
    if (n <= 16)
        return memhash_aes_short(p, n, seed);
    __m128i st = _mm_xor_si128(_mm_set_epi64x((long long)n, (long long)seed), aeskeysched[0]);
    st = aes_round(st, aeskeysched[1]);
    /* Four lanes, each with its own starting state. Whole 64-byte blocks
     * go through the loop while more than 64 bytes remain; the final
     * blocks are read back from the end of the key, overlapping what the
     * loop (or the first block) already saw, so no read leaves the key. */
    __m128i l0 = st;
    __m128i l1 = aes_round(st, aeskeysched[2]);
    __m128i l2 = aes_round(st, aeskeysched[3]);
    __m128i l3 = aes_round(l1, aeskeysched[0]);
    const uint8_t *end = p + n;
    if (n > 64) {
        for (size_t i = n; i > 64; i -= 64, p += 64) {
            l0 = aes_round(_mm_xor_si128(l0, _mm_loadu_si128((const __m128i *)p)), l0);
            l1 = aes_round(_mm_xor_si128(l1, _mm_loadu_si128((const __m128i *)(p + 16))), l1);
            l2 = aes_round(_mm_xor_si128(l2, _mm_loadu_si128((const __m128i *)(p + 32))), l2);
            l3 = aes_round(_mm_xor_si128(l3, _mm_loadu_si128((const __m128i *)(p + 48))), l3);
        }
        p = end - 64;                     /* the last 64 bytes */
    }
    /* 17..64 bytes from p to end: blocks at both ends, and the middle ones
     * when there are more than 32. */
    l0 = aes_round(_mm_xor_si128(l0, _mm_loadu_si128((const __m128i *)p)), aeskeysched[1]);
    l1 = aes_round(_mm_xor_si128(l1, _mm_loadu_si128((const __m128i *)(end - 16))), aeskeysched[1]);
    if (end - p > 32) {
        l2 = aes_round(_mm_xor_si128(l2, _mm_loadu_si128((const __m128i *)(p + 16))), aeskeysched[1]);
        l3 = aes_round(_mm_xor_si128(l3, _mm_loadu_si128((const __m128i *)(end - 32))), aeskeysched[1]);
    }
    l0 = aes_round(aes_round(l0, aeskeysched[2]), aeskeysched[3]);
    l1 = aes_round(aes_round(l1, aeskeysched[3]), aeskeysched[2]);
    l2 = aes_round(aes_round(l2, aeskeysched[2]), aeskeysched[3]);
    l3 = aes_round(aes_round(l3, aeskeysched[3]), aeskeysched[2]);
    __m128i x = aes_round(_mm_xor_si128(l0, l2), _mm_xor_si128(l1, l3));
    return (uint64_t)_mm_cvtsi128_si64(aes_round(x, st));
}

#endif

/* ---- Dispatch and setup ------------------------------------------------- */

uint64_t gort_memhash(const void *p, size_t n, uint64_t seed)
{
    return memhash(p, n, seed, useAeshash);
}

/* splitmix64: spreads a weak seed (the clock) into well-mixed words. */
static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += K1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Runs before main: the keys must be fixed before any map exists. */
__attribute__((constructor)) static void hash_init(void)
{
    uint64_t key[12];
    if (getrandom(key, sizeof key, GRND_NONBLOCK) != (ssize_t)sizeof key) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t s = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 32 ^ (uintptr_t)&ts;
        for (size_t i = 0; i < nelem(key); i++)
            key[i] = splitmix(&s);
    }
    for (int i = 0; i < 4; i++)
        hashkey[i] = key[i] | 1;
#if defined(__x86_64__)
    for (int i = 0; i < 4; i++)
        aeskeysched[i] = _mm_set_epi64x((long long)key[4 + 2 * i], (long long)key[5 + 2 * i]);
    __builtin_cpu_init();
    useAeshash = __builtin_cpu_supports("aes");
#endif
}

/* A fresh random 64-bit value (map seeds, iterator offsets). */
uint64_t rand64(void)
{
    return hashmix((uint64_t)fastrand() << 32 ^ fastrand() ^ hashkey[2], hashkey[3] ^ K3);
}
