/*
 * map.h — internals shared by map.c, slice.c, hash.c and their tests
 * (Go: internal/runtime/maps/map.go, table.go, group.go; runtime/alg.go).
 *
 * The layouts are drawn in map.c's opening comment; docs/maps.md walks
 * through them for learners.
 */
#ifndef GORT_MAP_H
#define GORT_MAP_H

#include <string.h>
#include "malloc.h"

/* ---- Hashing (hash.c) ----------------------------------------------------- */

extern bool useAeshash;          /* the CPU has AES-NI; new maps hash with it */
extern uint64_t hashkey[4];      /* per-process secret of the portable hash */
uint64_t memhash_portable(const void *p, size_t n, uint64_t seed);

static inline uint64_t hash_rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint64_t hash_rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

#if defined(__x86_64__)
#include <immintrin.h>

/* Functions that may inline memhash_aes_short carry HASH_TARGET, which
 * lets the compiler emit AES instructions in them. They still run on CPUs
 * without AES-NI: the compiler never emits those instructions on its own,
 * only for the intrinsics behind a map's aes flag. */
#define HASH_TARGET __attribute__((target("aes,sse2")))

extern __m128i aeskeysched[4];   /* per-process round keys of the AES hash */
uint64_t memhash_aes(const void *p, size_t n, uint64_t seed);

/* The last n (1..16) bytes ending at p+n as one block, read without
 * touching memory outside [p, p+n). */
HASH_TARGET static inline __m128i aes_load_partial(const uint8_t *p, size_t n)
{
    if (n == 16)
        return _mm_loadu_si128((const __m128i *)p);
    if (n >= 8)
        return _mm_set_epi64x((long long)hash_rd64(p + n - 8), (long long)hash_rd64(p));
    uint64_t lo;
    if (n >= 4)
        lo = hash_rd32(p) | hash_rd32(p + n - 4) << 32;
    else
        lo = (uint64_t)p[0] | (uint64_t)p[n >> 1] << 8 | (uint64_t)p[n - 1] << 16;
    return _mm_set_epi64x(0, (long long)lo);
}

/* memhash_aes of at most 16 bytes (hash.c explains the rounds), inline so
 * that a map's string lookup needs no call for its hash. */
HASH_TARGET static inline uint64_t memhash_aes_short(const uint8_t *p, size_t n, uint64_t seed)
{
    __m128i st = _mm_xor_si128(_mm_set_epi64x((long long)n, (long long)seed), aeskeysched[0]);
    st = _mm_aesenc_si128(st, aeskeysched[1]);
    __m128i x = n ? aes_load_partial(p, n) : _mm_setzero_si128();
    x = _mm_aesenc_si128(_mm_xor_si128(x, st), st);
    x = _mm_aesenc_si128(x, aeskeysched[2]);
    x = _mm_aesenc_si128(x, aeskeysched[3]);
    return (uint64_t)_mm_cvtsi128_si64(x);
}
#else
#define HASH_TARGET
#endif

/* The hash of n bytes at p: AES-NI or portable, as the map was made. */
HASH_TARGET static inline uint64_t memhash(const void *p, size_t n, uint64_t seed, bool aes)
{
#if defined(__x86_64__)
    if (aes)
        return n <= 16 ? memhash_aes_short(p, n, seed) : memhash_aes(p, n, seed);
#endif
    (void)aes;
    return memhash_portable(p, n, seed);
}

/* The 128-bit product of a and b folded to 64 bits (hash.c explains). */
static inline uint64_t hashmix(uint64_t a, uint64_t b)
{
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* The hash of an 8-byte key, inline. Two multiplies, even where AES-NI
 * exists: their latency is lower than three dependent AES rounds, and
 * 8-byte keys are the hot case (measured; see docs/maps.md). */
static inline uint64_t memhash64(uint64_t k, uint64_t seed)
{
    uint64_t a = hashmix(k ^ hashkey[1], (k >> 32 | k << 32) ^ seed ^ hashkey[0]);
    return hashmix(a ^ 0x9e3779b97f4a7c15ull, seed ^ 0xb7e151628aed2a6bull);
}
uint64_t rand64(void);

/* ---- Writes into GC-heap memory -------------------------------------------
 *
 * Every copy of keys, values or slice elements into a map group or a slice
 * backing array, and every pointer the map stores into its own GC-heap
 * structures (map header -> directory -> tables -> groups), goes through
 * these three helpers and nowhere else: the write barrier (mbarrier.c),
 * which shades the pointers a store overwrites while the collector marks
 * beside the program (GORT_GCMODE=barrier) and is a plain store otherwise.
 * Clearing goes through the barrier too (typedmemclr): a deletion barrier
 * must see the pointers a clear overwrites.
 */
static inline void heap_memmove(void *dst, const void *src, size_t n) { typedmemmove(dst, src, n); }
static inline void heap_storeptr(void *slot, void *val) { typedmemmove(slot, &val, sizeof val); }
static inline void heap_memclr(void *dst, size_t n) { typedmemclr(dst, n); }

/* ---- Slices (slice.c) ---------------------------------------------------------- */

/* Go's growslice capacity for newLen elements from capacity oldCap; *bytes
 * gets the backing array's size. */
size_t growslice_cap(size_t newLen, size_t oldCap, size_t elem_size, bool noscan, size_t *bytes);

/* ---- Map layout (map.c) ---------------------------------------------------- */

enum {
    groupSlots       = 8,                /* slots per group: one control byte each */
    maxTableCapacity = 1024,             /* a bigger table splits instead of doubling */
    ctrlEmpty        = 0x80,             /* 1000_0000 */
    ctrlDeleted      = 0xfe,             /* 1111_1110: a tombstone */
};

enum keykind { keyU64, keyMem, keyStr, keyCustom };

/* What Go keeps in abi.MapType: the slot layout and how to hash and compare
 * keys. Stored inside each map (C has no static types to hang it on). */
typedef struct maptype {
    uint32_t keysize, elemsize;
    uint32_t elemoff;                    /* value's offset inside a slot */
    uint32_t slotsize;                   /* key + value, aligned */
    uint32_t groupsize;                  /* small map's group: control word + 8 slots */
    uint8_t  kind;                       /* enum keykind */
    bool     cstr;                       /* keyStr: callers pass a C string */
    bool     noscan;                     /* groups hold no GC pointers */
    bool     copykeys;                   /* keyStr: copy a new key's bytes */
    bool     aes;                        /* hash with AES-NI */
    gort_hash_fn  hasher;                /* keyCustom */
    gort_equal_fn equal;                 /* keyCustom */
} maptype;

/* One open-addressed Swiss table: capacity slots in capacity/8 groups.
 * Group i's control word is ctrl[8i..8i+7], its slots are slots i*8 to
 * i*8+7 of the slot array (map.c's opening comment says why apart). */
typedef struct table {
    uint16_t used;                       /* full slots */
    uint16_t capacity;                   /* power of two, 8..maxTableCapacity */
    uint16_t growthLeft;                 /* empty slots that may still be filled */
    uint8_t  localDepth;                 /* top hash bits shared by its directory entries */
    intptr_t index;                      /* first directory entry; -1: replaced (grown or split) */
    uint8_t *ctrl;                       /* capacity control bytes (noscan) */
    uint8_t *slots;                      /* capacity slots */
    uint64_t groupsMask;                 /* groups - 1 */
} table;

struct gort_map {
    uint64_t used;                       /* entries */
    uint64_t seed;
    void    *dirPtr;                     /* dirLen 0: the one group (or NULL); else table *[dirLen] */
    size_t   dirLen;
    uint8_t  globalDepth;                /* dirLen == 1 << globalDepth */
    uint8_t  globalShift;                /* 64 - globalDepth */
    _Atomic uint8_t writing;             /* hashWriting: toggled around every write */
    bool     tombstonePossible;
    uint64_t clearSeq;                   /* bumped by clear; iterators notice */
    maptype  t;
};

/* Directory entry i (dirLen > 0). */
static inline table *map_directoryAt(const gort_map *m, size_t i) { return ((table **)m->dirPtr)[i]; }

#endif
