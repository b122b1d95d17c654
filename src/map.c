/*
 * map.c — Go's maps as Swiss tables (Go 1.24+: internal/runtime/maps,
 * map.go, table.go, group.go, runtime_fast64.go, runtime_faststr.go).
 *
 * A GROUP is 8 slots and an 8-byte control word, one control byte per slot:
 *
 *     ctrl: [c0 c1 c2 c3 c4 c5 c6 c7]    slots: slot0: key|value ... slot7: key|value
 *
 *     c = 1000_0000  empty          c = 0hhh_hhhh  full, hhh_hhhh = H2(hash)
 *     c = 1111_1110  deleted (a tombstone)
 *
 * Unlike Go, which stores each control word in front of its group's slots,
 * a table keeps all its control words in one dense array and all its slots
 * in another (abseil's layout; the small map's one group keeps them
 * together). In a big map both are cache misses, and a miss lookup needs
 * only the control word: the control arrays are about a byte per slot, a
 * fraction of the slots' size, and stay cached where the slots do not. A
 * hit loads its slot's line while it reads the control word
 * (slots_prefetch) so that the two misses overlap.
 *
 * A key's 64-bit hash splits in two: H1 (hash >> 7) picks where to start
 * looking, H2 (the low 7 bits) is kept in the control byte. A lookup tests
 * all 8 control bytes of a group at once with word arithmetic (matchH2:
 * xor with H2 in every byte, then the "has a zero byte" trick), so only
 * slots whose H2 matches (1 in 128 by chance) cost a key comparison.
 *
 * A TABLE is a power-of-two array of groups probed quadratically from
 * group H1 & mask: offsets 0, 1, 3, 6, 10, ... (triangular numbers visit
 * every group). The probe ends at the first group with an empty slot: an
 * insert fills the first empty or deleted slot it saw, so a key is never
 * stored past a group that had room when the key was inserted. Deleting
 * from a group with an empty slot empties the slot (no probe passed it);
 * from a full group it leaves a tombstone, which keeps probe sequences
 * going past it. A table holds at most 7/8 of its slots (growthLeft counts
 * down to that limit); then it is rebuilt: at double the capacity while
 * that stays within 1024 slots, at the same capacity if tombstones are the
 * problem, and otherwise SPLIT in two.
 *
 * The MAP holds a DIRECTORY of tables (extendible hashing): the top
 * globalDepth bits of the hash index it. A table of localDepth d owns the
 * 2^(globalDepth-d) consecutive entries sharing its top d bits. A split
 * moves a 1024-slot table's entries into two new tables by hash bit d+1,
 * doubling the directory first if d == globalDepth. So one insert never
 * moves more than 1024 entries, however big the map:
 *
 *     map ─> directory [t0 t0 t1 t2] ─> table t0 (depth 1) ─> groups
 *                                   ─> table t1 (depth 2) ─> groups ...
 *
 * A map of at most 8 entries is a single group with no table and no
 * directory (dirLen == 0, dirPtr is the group): no probing, and for 8-byte
 * keys no hashing on lookup either, just compare the full slots' keys.
 *
 * Iteration starts at a random slot of a random directory entry (Go makes
 * range order random on purpose so that programs cannot depend on it) and
 * walks tables whole. A table replaced by growth while an iterator is in
 * it (index == -1) is still walked, but every key found there is looked up
 * in the live map, so deleted entries are skipped and values are current.
 *
 * All memory is on the GC heap: the header and the directory and table
 * records with gort_alloc (they hold pointers), control arrays with
 * gort_alloc_noscan, slot arrays with gort_alloc or, for maps whose keys
 * and values hold no pointers, gort_alloc_noscan.
 * Writes into them go through heap_memmove / heap_storeptr / heap_memclr
 * (map.h).
 *
 * The core operations are written once as always-inline functions taking
 * the key kind as a constant argument, and instantiated per kind by the
 * public functions' switch (growth by table_moveall's): 8-byte keys get
 * register compares and the 64-bit hash inline, string keys word
 * compares (8 to 16 bytes) and the AES hash (amd64, up to 16 bytes)
 * inline, with no call through a function pointer.
 */
#include "map.h"
#include "malloc.h"

/* ---- Control words (Go: group.go) ------------------------------------------ */

typedef uint64_t bitset;          /* bit 8i+7 set: slot i matches */
#define LSB 0x0101010101010101ull
#define MSB 0x8080808080808080ull

static ALWAYS_INLINE uint64_t ctrl_load(const uint8_t *g) { uint64_t c; memcpy(&c, g, 8); return c; }

/* Slots whose control byte is h2. May report a full slot whose byte is
 * h2 ^ 1 right above a true match (the borrow of the zero-byte trick);
 * callers compare keys anyway. Never reports an empty or deleted slot. */
static ALWAYS_INLINE bitset matchH2(uint64_t c, uint8_t h2)
{
    uint64_t v = c ^ (LSB * h2);
    return (v - LSB) & ~v & MSB;
}
/* Empty: bit 7 set and bit 1 clear (deleted has both). */
static ALWAYS_INLINE bitset matchEmpty(uint64_t c) { return c & ~(c << 6) & MSB; }
static ALWAYS_INLINE bitset matchEmptyOrDeleted(uint64_t c) { return c & MSB; }
static ALWAYS_INLINE bitset matchFull(uint64_t c) { return ~c & MSB; }
static ALWAYS_INLINE unsigned first(bitset b) { return (unsigned)__builtin_ctzll(b) >> 3; }

static ALWAYS_INLINE uint64_t h1(uint64_t hash) { return hash >> 7; }
static ALWAYS_INLINE uint8_t h2(uint64_t hash) { return hash & 0x7f; }

/* ---- Layout ---------------------------------------------------------------- */

/* A group: its control word and its 8 slots, which are apart in a table
 * (the table's control bytes form one array, its slots another) and
 * adjacent in the small map's single group. */
typedef struct group { uint8_t *ctrl, *slots; } group;

static ALWAYS_INLINE group group_at(const gort_map *m, const table *t, uint64_t i)
{
    return (group){ t->ctrl + i * groupSlots, t->slots + i * groupSlots * m->t.slotsize };
}
static ALWAYS_INLINE group small_group(const gort_map *m)
{
    return (group){ m->dirPtr, (uint8_t *)m->dirPtr + groupSlots };
}
static ALWAYS_INLINE uint8_t *slot_key(const gort_map *m, group g, unsigned i)
{
    return g.slots + (size_t)i * m->t.slotsize;
}
/* Starts loading a group's first slots while its control word is read: in
 * a big map both are cache misses, and a hit needs the slot right after
 * the control word. The first line only: inserts fill a group's slots
 * from the lowest, so that line holds most of its entries, and a miss
 * wastes one line, not the whole group. */
static ALWAYS_INLINE void slots_prefetch(group g) { __builtin_prefetch(g.slots); }
static ALWAYS_INLINE void *slot_elem(const gort_map *m, uint8_t *key) { return key + m->t.elemoff; }

/* Copies into and clears GC-heap slots; noscan groups hold no pointers, so
 * they need no barrier (the collector never looks at them). */
static ALWAYS_INLINE void slot_copy(const gort_map *m, void *dst, const void *src, size_t n)
{
    if (m->t.noscan)
        memcpy(dst, src, n);
    else
        heap_memmove(dst, src, n);
}
/* Copies a whole slot (growth). The common slot sizes are constants here,
 * so the copy is a few moves rather than a call to memmove. */
static ALWAYS_INLINE void slot_move(const gort_map *m, void *dst, const void *src)
{
    switch (m->t.slotsize) {
    case 16: slot_copy(m, dst, src, 16); break;
    case 24: slot_copy(m, dst, src, 24); break;
    case 32: slot_copy(m, dst, src, 32); break;
    default: slot_copy(m, dst, src, m->t.slotsize); break;
    }
}
static ALWAYS_INLINE void slot_clear(const gort_map *m, void *dst, size_t n)
{
    if (m->t.noscan)
        memset(dst, 0, n);
    else
        heap_memclr(dst, n);
}

/* ---- Keys: hash, compare, store, per kind ------------------------------------ */

static ALWAYS_INLINE uint64_t load64(const void *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static ALWAYS_INLINE uint64_t keyhash(const gort_map *m, const void *key, int kind)
{
    switch (kind) {
    case keyU64:
        return memhash64(load64(key), m->seed);
    case keyMem:
        return memhash(key, m->t.keysize, m->seed, m->t.aes);
    case keyStr: {
        const gort_str *s = key;
        return memhash(s->ptr, s->len, m->seed, m->t.aes);
    }
    default:
        return m->t.hasher(key, m->seed);
    }
}

/* Are two strings' n bytes equal? 8 to 16 bytes (a common size of
 * string keys) take two overlapping word compares inline; the rest call
 * memcmp, out of line so that the lookups stay short functions. */
static NOINLINE bool strbytes_equal_call(const void *a, const void *b, size_t n)
{
    return memcmp(a, b, n) == 0;
}
static ALWAYS_INLINE bool strbytes_equal(const char *a, const char *b, size_t n)
{
    if (n - 8 <= 8)
        return (load64(a) ^ load64(b)) == 0 && load64(a + n - 8) == load64(b + n - 8);
    return strbytes_equal_call(a, b, n);
}

/* Does the caller's key (canonical form) equal the key in a slot? */
static ALWAYS_INLINE bool keyeq(const gort_map *m, const void *key, const void *slot, int kind)
{
    switch (kind) {
    case keyU64:
        return load64(key) == load64(slot);
    case keyMem:
        return memcmp(key, slot, m->t.keysize) == 0;
    case keyStr: {
        const gort_str *a = key, *b = slot;
        return a->len == b->len && (a->ptr == b->ptr || strbytes_equal(a->ptr, b->ptr, a->len));
    }
    default:
        return m->t.equal(key, slot);
    }
}

/* The non-inline version, for the small map's growth. */
HASH_TARGET static NOINLINE uint64_t slothash(const gort_map *m, const void *key)
{
    return keyhash(m, key, m->t.kind == keyStr ? keyStr : m->t.kind == keyU64 ? keyU64
                           : m->t.kind == keyMem ? keyMem : keyCustom);
}

/* Stores a new key into its slot; string keys are copied to the GC heap
 * first when the map owns its keys. */
static ALWAYS_INLINE void key_store(const gort_map *m, uint8_t *slot, const void *key, int kind)
{
    if (kind == keyStr && m->t.copykeys) {
        const gort_str *s = key;
        char *p = gort_alloc_noscan(s->len + 1);
        memcpy(p, s->ptr, s->len);
        gort_str c = { p, s->len };
        heap_memmove(slot, &c, sizeof c);
        return;
    }
    slot_copy(m, slot, key, kind == keyU64 ? 8 : m->t.keysize);
}

/* Fills a free slot: the key, and the value zeroed. Deleting from a noscan
 * map leaves the slot's old bytes in place (nothing ever scans them, and
 * not writing them spares a big map a dirty cache line per delete), so a
 * new entry's value is zeroed here, on a line the key store writes anyway. */
static ALWAYS_INLINE void *slot_fill(const gort_map *m, uint8_t *k, const void *key, int kind)
{
    key_store(m, k, key, kind);
    void *elem = slot_elem(m, k);
    if (m->t.noscan)
        memclr_sized(elem, m->t.elemsize);
    return elem;
}

/* Empties a deleted entry's slot where the collector could see it: a
 * stale pointer there would keep its target alive. */
static ALWAYS_INLINE void slot_release(const gort_map *m, uint8_t *k)
{
    if (m->t.noscan)
        return;
    switch (m->t.slotsize) {                /* constants: stores, not a call */
    case 16: heap_memclr(k, 16); break;
    case 24: heap_memclr(k, 24); break;
    case 32: heap_memclr(k, 32); break;
    default: heap_memclr(k, m->t.slotsize); break;
    }
}

/* ---- The writing flag (Go's hashWriting) ------------------------------------------
 *
 * Toggled (not set) around every write, checked by every access: a second
 * writer that slipped in sees it set, or toggles it back to clear so that
 * the first writer's final check fails. Best effort, as in Go; relaxed
 * atomics so that the check itself is no data race. */

static ALWAYS_INLINE uint8_t writing(const gort_map *m)
{
    return atomic_load_explicit(&((gort_map *)m)->writing, memory_order_relaxed);
}
static ALWAYS_INLINE void writing_toggle(gort_map *m)
{
    atomic_store_explicit(&m->writing, writing(m) ^ 1, memory_order_relaxed);
}
static ALWAYS_INLINE void write_begin(gort_map *m)
{
    if (unlikely(writing(m)))
        throw("concurrent map writes");
}
static ALWAYS_INLINE void write_end(gort_map *m)
{
    if (unlikely(!writing(m)))
        throw("concurrent map writes");
    writing_toggle(m);
}
static ALWAYS_INLINE void read_check(const gort_map *m)
{
    if (unlikely(writing(m)))
        throw("concurrent map read and map write");
}

/* ---- Tables (Go: table.go) -------------------------------------------------------- */

static uint16_t maxGrowthLeft(uint16_t capacity)
{
    /* A one-group table keeps one slot empty so that probing ends. */
    return capacity <= groupSlots ? capacity - 1 : capacity / 8 * 7;
}

/* Slot memory: scanned unless the map's keys and values hold no pointers. */
static uint8_t *newslots(const gort_map *m, size_t bytes)
{
    return m->t.noscan ? gort_alloc_noscan(bytes) : gort_alloc(bytes);
}

/* The small map's group: control word and slots in one object. */
static uint8_t *newsmallgroup(const gort_map *m)
{
    uint8_t *g = newslots(m, m->t.groupsize);
    memset(g, ctrlEmpty, groupSlots);
    return g;
}

static uint64_t alignUpPow2(uint64_t n)
{
    return n <= 1 ? 1 : (uint64_t)1 << (64 - __builtin_clzll(n - 1));
}

static table *newtable(const gort_map *m, uint64_t capacity, intptr_t index, uint8_t localDepth)
{
    if (capacity < groupSlots)
        capacity = groupSlots;
    capacity = alignUpPow2(capacity);
    GORT_ASSERT(capacity <= maxTableCapacity);
    table *t = gort_alloc(sizeof *t);
    t->capacity = (uint16_t)capacity;
    t->growthLeft = maxGrowthLeft(t->capacity);
    t->localDepth = localDepth;
    t->index = index;
    t->groupsMask = capacity / groupSlots - 1;
    uint8_t *ctrl = gort_alloc_noscan(capacity);
    memset(ctrl, ctrlEmpty, capacity);
    heap_storeptr(&t->ctrl, ctrl);
    heap_storeptr(&t->slots, newslots(m, capacity * m->t.slotsize));
    return t;
}

/* The first of the candidate slots b of group g that holds key, or -1. */
static ALWAYS_INLINE int group_find(const gort_map *m, group g, bitset b, const void *key, int kind)
{
    for (; b; b &= b - 1)
        if (likely(keyeq(m, key, slot_key(m, g, first(b)), kind)))
            return (int)first(b);
    return -1;
}

/* The slot holding key, or NULL, probing from group off, the i-th of the
 * key's probe sequence; *gp and *jp get its group and index. */
static ALWAYS_INLINE uint8_t *table_find_at(const gort_map *m, const table *t, uint64_t hash,
                                            const void *key, int kind, uint64_t off, uint64_t i,
                                            group *gp, unsigned *jp)
{
    uint64_t mask = t->groupsMask;
    for (;; i++) {
        group g = group_at(m, t, off);
        slots_prefetch(g);
        uint64_t c = ctrl_load(g.ctrl);
        int j = group_find(m, g, matchH2(c, h2(hash)), key, kind);
        if (j >= 0) {
            *gp = g;
            *jp = (unsigned)j;
            return slot_key(m, g, (unsigned)j);
        }
        if (likely(matchEmpty(c)))
            return NULL;
        off = (off + i) & mask;
    }
}

static ALWAYS_INLINE uint8_t *table_find(const gort_map *m, const table *t, uint64_t hash,
                                         const void *key, int kind, group *gp, unsigned *jp)
{
    return table_find_at(m, t, hash, key, kind, h1(hash) & t->groupsMask, 1, gp, jp);
}

/* Puts an entry known to be absent into a table without tombstones
 * (growth): the first empty slot on its probe sequence. */
static ALWAYS_INLINE void uncheckedPutSlot(const gort_map *m, table *t, uint64_t hash, const uint8_t *slot)
{
    uint64_t mask = t->groupsMask, off = h1(hash) & mask;
    for (uint64_t i = 1;; i++) {
        group g = group_at(m, t, off);
        bitset e = matchEmptyOrDeleted(ctrl_load(g.ctrl));
        if (e) {
            unsigned j = first(e);
            slot_move(m, slot_key(m, g, j), slot);
            g.ctrl[j] = h2(hash);
            t->used++;
            t->growthLeft--;
            return;
        }
        off = (off + i) & mask;
    }
}

/* Puts every entry of t into left, or into right if its hash has bit set
 * (bit 0: all into left). */
static ALWAYS_INLINE void table_move(const gort_map *m, const table *t, table *left, table *right,
                                     uint64_t bit, int kind)
{
    for (uint64_t gi = 0; gi <= t->groupsMask; gi++) {
        group g = group_at(m, t, gi);
        for (bitset b = matchFull(ctrl_load(g.ctrl)); b; b &= b - 1) {
            const uint8_t *slot = slot_key(m, g, first(b));
            uint64_t hash = keyhash(m, slot, kind);
            uncheckedPutSlot(m, hash & bit ? right : left, hash, slot);
        }
    }
}

/* table_move for the map's key kind: the hash and the slot copy inline. */
HASH_TARGET static NOINLINE void table_moveall(const gort_map *m, const table *t, table *left,
                                               table *right, uint64_t bit)
{
    switch (m->t.kind) {
    case keyU64: table_move(m, t, left, right, bit, keyU64); break;
    case keyMem: table_move(m, t, left, right, bit, keyMem); break;
    case keyStr: table_move(m, t, left, right, bit, keyStr); break;
    default:     table_move(m, t, left, right, bit, keyCustom); break;
    }
}

/* Points every directory entry that t owns at t. */
static void replaceTable(gort_map *m, table *t)
{
    size_t entries = (size_t)1 << (m->globalDepth - t->localDepth);
    for (size_t i = 0; i < entries; i++)
        heap_storeptr(&((table **)m->dirPtr)[t->index + i], t);
}

/* Rebuilds t at newCapacity (more room, or the same without tombstones). */
static void table_grow(gort_map *m, table *t, uint64_t newCapacity)
{
    table *nt = newtable(m, newCapacity, t->index, t->localDepth);
    table_moveall(m, t, nt, NULL, 0);
    GORT_ASSERT(nt->used == t->used);
    replaceTable(m, nt);
    t->index = -1;
}

/* Installs left and right in place of old, doubling the directory first
 * when old already used all of the directory's hash bits. */
static void installTableSplit(gort_map *m, table *old, table *left, table *right)
{
    if (old->localDepth == m->globalDepth) {
        table **dir = gort_alloc(2 * m->dirLen * sizeof *dir);
        for (size_t i = 0; i < m->dirLen; i++) {
            table *t = map_directoryAt(m, i);
            heap_storeptr(&dir[2 * i], t);
            heap_storeptr(&dir[2 * i + 1], t);
            if (t->index == (intptr_t)i)
                t->index = 2 * (intptr_t)i;
        }
        m->globalDepth++;
        m->globalShift--;
        m->dirLen *= 2;
        heap_storeptr(&m->dirPtr, dir);
    }
    left->index = old->index;
    replaceTable(m, left);
    right->index = left->index + ((intptr_t)1 << (m->globalDepth - left->localDepth));
    replaceTable(m, right);
}

static void table_split(gort_map *m, table *t)
{
    uint8_t depth = t->localDepth + 1;
    table *left = newtable(m, maxTableCapacity, -1, depth);
    table *right = newtable(m, maxTableCapacity, -1, depth);
    table_moveall(m, t, left, right, (uint64_t)1 << (64 - depth));
    installTableSplit(m, t, left, right);
    t->index = -1;
}

/* t is full: make room (Go's rehash, plus pruning tombstones as Go 1.25). */
static NOINLINE void table_rehash(gort_map *m, table *t)
{
    uint16_t tombstones = maxGrowthLeft(t->capacity) - t->used - t->growthLeft;
    if (tombstones >= maxGrowthLeft(t->capacity) / 8 && tombstones > 0)
        table_grow(m, t, t->capacity);
    else if (2 * t->capacity <= maxTableCapacity)
        table_grow(m, t, 2 * t->capacity);
    else
        table_split(m, t);
}

/* The value slot of key in t, inserting it if absent; NULL when t had to
 * be rebuilt first (the caller looks the table up again and retries). */
static ALWAYS_INLINE void *table_putslot(gort_map *m, table *t, uint64_t hash,
                                         const void *key, int kind)
{
    uint64_t mask = t->groupsMask, off = h1(hash) & mask;
    group dg = { NULL, NULL };
    unsigned di = 0;
    for (uint64_t i = 1;; i++) {
        group g = group_at(m, t, off);
        slots_prefetch(g);
        uint64_t c = ctrl_load(g.ctrl);
        int found = group_find(m, g, matchH2(c, h2(hash)), key, kind);
        if (found >= 0)
            return slot_elem(m, slot_key(m, g, (unsigned)found));
        bitset e = matchEmpty(c);
        if (!dg.ctrl) {
            bitset d = matchEmptyOrDeleted(c) & ~e;
            if (d) {
                dg = g;
                di = first(d);
            }
        }
        if (likely(e)) {
            unsigned j;
            if (dg.ctrl) {                /* reuse a tombstone: no growth needed */
                g = dg;
                j = di;
            } else {
                if (unlikely(t->growthLeft == 0)) {
                    table_rehash(m, t);
                    return NULL;
                }
                j = first(e);
                t->growthLeft--;
            }
            void *elem = slot_fill(m, slot_key(m, g, j), key, kind);
            g.ctrl[j] = h2(hash);
            t->used++;
            m->used++;
            return elem;
        }
        off = (off + i) & mask;
    }
}

/* Empties slot j of group g: to empty if the group has an empty slot (no
 * probe sequence ever passed it), else to a tombstone. */
static ALWAYS_INLINE void table_erase(gort_map *m, table *t, group g, unsigned j)
{
    t->used--;
    m->used--;
    slot_release(m, slot_key(m, g, j));
    /* Without a branch: in a big map the control word has just arrived
     * from memory, and a mispredicted branch on it would stall here. */
    bool empty = matchEmpty(ctrl_load(g.ctrl)) != 0;
    g.ctrl[j] = empty ? ctrlEmpty : ctrlDeleted;
    t->growthLeft += empty;
    m->tombstonePossible |= !empty;
}

static void table_clear(gort_map *m, table *t)
{
    slot_clear(m, t->slots, (size_t)t->capacity * m->t.slotsize);
    memset(t->ctrl, ctrlEmpty, t->capacity);
    t->used = 0;
    t->growthLeft = maxGrowthLeft(t->capacity);
}

/* ---- The map (Go: map.go) ------------------------------------------------------------ */

static ALWAYS_INLINE table *map_table(const gort_map *m, uint64_t hash)
{
    /* The top globalDepth bits, without a branch: globalShift is 64 when
     * the depth is 0, and shifting by 64 is undefined, so shift twice. */
    return map_directoryAt(m, (hash >> 1) >> (m->globalShift - 1));
}

/* Small map: the slots that may hold the key. 8-byte keys skip the hash:
 * comparing the (at most 8) full slots' keys is cheaper. */
static ALWAYS_INLINE bitset small_candidates(uint64_t c, uint64_t hash, int kind)
{
    return kind == keyU64 ? matchFull(c) : matchH2(c, h2(hash));
}

/* Small map: the index of key's slot in the single group, or -1. */
static ALWAYS_INLINE int small_find(const gort_map *m, const void *key, int kind, uint64_t hash)
{
    group g = small_group(m);
    return group_find(m, g, small_candidates(ctrl_load(g.ctrl), hash, kind), key, kind);
}

/* The slot of key (canonical form), or NULL. */
static ALWAYS_INLINE uint8_t *map_find(const gort_map *m, const void *key, int kind)
{
    if (m->dirLen == 0) {
        int j = small_find(m, key, kind, kind == keyU64 ? 0 : keyhash(m, key, kind));
        return j >= 0 ? slot_key(m, small_group(m), (unsigned)j) : NULL;
    }
    uint64_t hash = keyhash(m, key, kind);
    group g;
    unsigned j;
    return table_find(m, map_table(m, hash), hash, key, kind, &g, &j);
}

static void growToSmall(gort_map *m)
{
    heap_storeptr(&m->dirPtr, newsmallgroup(m));
}

/* The full small group becomes a table of 16 slots in a directory of one. */
static NOINLINE void growToTable(gort_map *m)
{
    table *t = newtable(m, 2 * groupSlots, 0, 0);
    group g = small_group(m);
    for (bitset b = matchFull(ctrl_load(g.ctrl)); b; b &= b - 1) {
        uint8_t *slot = slot_key(m, g, first(b));
        uncheckedPutSlot(m, t, slothash(m, slot), slot);
    }
    table **dir = gort_alloc(sizeof *dir);
    heap_storeptr(&dir[0], t);
    m->globalDepth = 0;
    m->globalShift = 64;
    m->dirLen = 1;
    heap_storeptr(&m->dirPtr, dir);
}

static ALWAYS_INLINE void *map_assign(gort_map *m, const void *key, int kind)
{
    write_begin(m);
    uint64_t hash = keyhash(m, key, kind);
    writing_toggle(m);
    void *elem;
    if (m->dirLen == 0) {
        if (unlikely(!m->dirPtr))
            growToSmall(m);
        group g = small_group(m);
        uint64_t c = ctrl_load(g.ctrl);
        int found = group_find(m, g, small_candidates(c, hash, kind), key, kind);
        if (found >= 0) {
            elem = slot_elem(m, slot_key(m, g, (unsigned)found));
            goto done;
        }
        bitset e = matchEmptyOrDeleted(c);
        if (e) {
            unsigned j = first(e);
            elem = slot_fill(m, slot_key(m, g, j), key, kind);
            g.ctrl[j] = h2(hash);
            m->used++;
            goto done;
        }
        growToTable(m);
    }
    while (!(elem = table_putslot(m, map_table(m, hash), hash, key, kind)))
        ;
done:
    write_end(m);
    return elem;
}

static ALWAYS_INLINE bool map_delete(gort_map *m, const void *key, int kind)
{
    write_begin(m);
    uint64_t hash = keyhash(m, key, kind);
    writing_toggle(m);
    bool found = false;
    if (m->dirLen == 0) {
        int j = small_find(m, key, kind, hash);
        if (j >= 0) {
            group g = small_group(m);
            slot_release(m, slot_key(m, g, (unsigned)j));
            g.ctrl[j] = ctrlEmpty;
            m->used--;
            found = true;
        }
    } else {
        table *t = map_table(m, hash);
        group g;
        unsigned j;
        if (table_find(m, t, hash, key, kind, &g, &j)) {
            table_erase(m, t, g, j);
            found = true;
        }
    }
    /* An empty map takes a new seed: it costs nothing and makes any
     * collisions an attacker found stale (Go does the same). */
    if (m->used == 0)
        m->seed = rand64();
    write_end(m);
    return found;
}

/* ---- Making maps ------------------------------------------------------------------ */

static size_t alignof_size(size_t n)
{
    return n >= 8 ? 8 : n >= 4 ? 4 : n >= 2 ? 2 : 1;
}

static gort_map *makemap(size_t keysize, size_t elemsize, size_t hint, uint8_t kind, unsigned flags)
{
    if (keysize > UINT16_MAX || elemsize > UINT16_MAX)
        gopanic("runtime error: makemap: key or value size out of range");
    gort_map *m = gort_alloc(sizeof *m);
    maptype *t = &m->t;
    t->keysize = (uint32_t)keysize;
    t->elemsize = (uint32_t)elemsize;
    size_t ea = elemsize ? alignof_size(elemsize) : 1;
    size_t align = alignof_size(keysize) > ea ? alignof_size(keysize) : ea;
    t->elemoff = (uint32_t)((keysize + ea - 1) & ~(ea - 1));
    t->slotsize = (uint32_t)((t->elemoff + elemsize + align - 1) & ~(align - 1));
    t->groupsize = 8 + groupSlots * t->slotsize;
    t->kind = kind == keyMem && keysize == 8 ? keyU64 : kind;
    t->noscan = (flags & GORT_MAP_NOSCAN) && kind != keyStr;
    t->copykeys = flags & GORT_MAP_COPYKEYS;
    t->cstr = flags & GORT_MAP_CSTR;
    t->aes = useAeshash;
    m->seed = rand64();
    m->globalShift = 64;

    if (hint <= groupSlots)
        return m;                         /* the group comes with the first insert */
    /* Go's NewMap: enough tables of at most 1024 slots for hint entries at
     * 7/8 load; absurd hints just get an empty map. */
    uint64_t target = (uint64_t)hint * groupSlots / 7;
    if (target < hint || target > maxAlloc / t->slotsize)
        return m;
    uint64_t dirSize = alignUpPow2((target + maxTableCapacity - 1) / maxTableCapacity);
    table **dir = gort_alloc(dirSize * sizeof *dir);
    m->globalDepth = (uint8_t)__builtin_ctzll(dirSize);
    m->globalShift = 64 - m->globalDepth;
    for (uint64_t i = 0; i < dirSize; i++)
        heap_storeptr(&dir[i], newtable(m, target / dirSize, (intptr_t)i, m->globalDepth));
    m->dirLen = dirSize;
    heap_storeptr(&m->dirPtr, dir);
    return m;
}

gort_map *gort_map_make(size_t key_size, size_t val_size, size_t hint)
{
    return makemap(key_size, val_size, hint, keyMem, 0);
}

gort_map *gort_map_make_noscan(size_t key_size, size_t val_size, size_t hint)
{
    return makemap(key_size, val_size, hint, keyMem, GORT_MAP_NOSCAN);
}

gort_map *gort_map_make_str(size_t val_size, size_t hint, unsigned flags)
{
    return makemap(sizeof(gort_str), val_size, hint, keyStr, flags & (GORT_MAP_COPYKEYS | GORT_MAP_CSTR));
}

gort_map *gort_map_make_custom(size_t key_size, size_t val_size, size_t hint,
                               gort_hash_fn hash, gort_equal_fn equal, unsigned flags)
{
    gort_map *m = makemap(key_size, val_size, hint, keyCustom, flags & GORT_MAP_NOSCAN);
    m->t.hasher = hash;
    m->t.equal = equal;
    return m;
}

/* ---- Public operations: one switch on the key kind, then the inlined core ----------- */

/* A C-string key becomes a gort_str on the caller's stack. */
static ALWAYS_INLINE const void *strkey(const gort_map *m, const void *key, gort_str *tmp)
{
    if (!m->t.cstr)
        return key;
    tmp->ptr = key;
    tmp->len = strlen(key);
    return tmp;
}

#define DISPATCH(m, key, call)                                         \
    switch ((m)->t.kind) {                                             \
    case keyU64: return call(m, key, keyU64);                          \
    case keyMem: return call(m, key, keyMem);                          \
    case keyStr: { gort_str tmp_;                                      \
                   return call(m, strkey(m, key, &tmp_), keyStr); }    \
    default:     return call(m, key, keyCustom);                       \
    }

static ALWAYS_INLINE void *map_get(gort_map *m, const void *key, int kind)
{
    uint8_t *k = map_find(m, key, kind);
    return k ? slot_elem(m, k) : NULL;
}

HASH_TARGET static NOINLINE void *map_get_any(gort_map *m, const void *key)
{
    if (!m || m->used == 0)
        return NULL;
    read_check(m);
    DISPATCH(m, key, map_get);
}

/* The rest of a get_fast probe: from the second group of the sequence. */
static ALWAYS_INLINE void *get_probe(const gort_map *m, const table *t, uint64_t hash,
                                     const void *key, uint64_t off, int kind)
{
    group g;
    unsigned j;
    uint8_t *k = table_find_at(m, t, hash, key, kind, (off + 1) & t->groupsMask, 2, &g, &j);
    return k ? slot_elem(m, k) : NULL;
}
static NOINLINE void *get_u64_probe(const gort_map *m, const table *t, uint64_t hash,
                                    const void *key, uint64_t off)
{
    return get_probe(m, t, hash, key, off, keyU64);
}
static NOINLINE void *get_str_probe(const gort_map *m, const table *t, uint64_t hash,
                                    const void *key, uint64_t off)
{
    return get_probe(m, t, hash, key, off, keyStr);
}

/* A lookup in a map with tables, 8-byte or gort_str keys (Go's
 * mapaccess1_fast64 and _faststr): the first group of the probe inline,
 * the rest out of line, so that the common case is a short function. */
static ALWAYS_INLINE void *get_fast(const gort_map *m, const void *key, int kind)
{
    uint64_t hash = keyhash(m, key, kind);
    const table *t = map_table(m, hash);
    uint64_t off = h1(hash) & t->groupsMask;
    group g = group_at(m, t, off);
    slots_prefetch(g);
    uint64_t c = ctrl_load(g.ctrl);
    int j = group_find(m, g, matchH2(c, h2(hash)), key, kind);
    if (likely(j >= 0))
        return slot_elem(m, slot_key(m, g, (unsigned)j));
    if (likely(matchEmpty(c)))
        return NULL;
    return kind == keyU64 ? get_u64_probe(m, t, hash, key, off) : get_str_probe(m, t, hash, key, off);
}

/* String keys take a function of their own, which may inline the AES
 * rounds (HASH_TARGET) and calls out for long keys: gort_map_get's 8-byte
 * path stays a leaf. */
HASH_TARGET static NOINLINE void *get_str(const gort_map *m, const void *key) { return get_fast(m, key, keyStr); }

/* Maps with tables and 8-byte keys, or gort_str keys, that nobody is
 * writing take get_fast; everything else map_get_any. */
void *gort_map_get(gort_map *m, const void *key)
{
    if (likely(m && m->dirLen != 0 && !writing(m))) {
        if (likely(m->t.kind == keyU64))
            return get_fast(m, key, keyU64);
        if (m->t.kind == keyStr && !m->t.cstr)
            return get_str(m, key);
    }
    return map_get_any(m, key);
}

bool gort_map_get2(gort_map *m, const void *key, void *val)
{
    void *v = gort_map_get(m, key);
    if (val && m)
        v ? memcpy(val, v, m->t.elemsize) : memset(val, 0, m->t.elemsize);
    return v != NULL;
}

HASH_TARGET void *gort_map_assign(gort_map *m, const void *key)
{
    if (!m)
        gopanic("assignment to entry in nil map");
    DISPATCH(m, key, map_assign);
}

HASH_TARGET bool gort_map_delete(gort_map *m, const void *key)
{
    if (!m || m->used == 0)
        return false;
    DISPATCH(m, key, map_delete);
}

size_t gort_map_len(gort_map *m)
{
    return m ? m->used : 0;
}

void gort_map_clear(gort_map *m)
{
    if (!m || (m->used == 0 && !m->tombstonePossible))
        return;
    write_begin(m);
    writing_toggle(m);
    if (m->dirLen == 0) {
        slot_clear(m, m->dirPtr, m->t.groupsize);
        memset(m->dirPtr, ctrlEmpty, 8);
    } else {
        table *last = NULL;
        for (size_t i = 0; i < m->dirLen; i++) {
            table *t = map_directoryAt(m, i);
            if (t != last)
                table_clear(m, t);
            last = t;
        }
        m->tombstonePossible = false;
    }
    m->used = 0;
    m->clearSeq++;
    m->seed = rand64();
    write_end(m);
}

/* ---- Iteration (Go: table.go, Iter) --------------------------------------------------- */

void gort_map_iter_init(gort_map_iter *it, gort_map *m)
{
    memset(it, 0, sizeof *it);
    if (!m || m->used == 0)
        return;
    it->m = m;
    it->entryOffset = rand64();
    it->dirOffset = rand64();
    it->globalDepth = m->globalDepth;
    it->clearSeq = m->clearSeq;
    if (m->dirLen == 0) {
        it->dirIdx = -1;
        it->group = m->dirPtr;
    }
}

static bool yield_entry(gort_map_iter *it, const uint8_t *key, void *elem)
{
    it->key = key;
    it->val = elem;
    return true;
}

/* A key read from a table (or small group) the map has since replaced:
 * the live entry for it, if any. A key unequal to itself (a custom key
 * like NaN) cannot be looked up; Go returns its old entry then, unless the
 * map was cleared. */
static bool grownEntry(gort_map_iter *it, const uint8_t *key, void *oldelem)
{
    gort_map *m = it->m;
    uint8_t *k;
    switch (m->t.kind) {
    case keyU64: k = map_find(m, key, keyU64); break;
    case keyMem: k = map_find(m, key, keyMem); break;
    case keyStr: k = map_find(m, key, keyStr); break;
    default:     k = map_find(m, key, keyCustom); break;
    }
    if (k)
        return yield_entry(it, k, slot_elem(m, k));
    if (m->t.kind == keyCustom && it->clearSeq == m->clearSeq && !m->t.equal(key, key))
        return yield_entry(it, key, oldelem);
    return false;
}

static bool iter_small(gort_map_iter *it)
{
    gort_map *m = it->m;
    group g = { it->group, (uint8_t *)it->group + groupSlots };   /* as small_group */
    for (; it->entryIdx < groupSlots; it->entryIdx++) {
        unsigned j = (unsigned)((it->entryIdx + it->entryOffset) % groupSlots);
        if (g.ctrl[j] & ctrlEmpty)
            continue;
        uint8_t *k = slot_key(m, g, j);
        it->entryIdx++;
        if (m->dirLen > 0) {              /* grown into a table meanwhile */
            if (grownEntry(it, k, slot_elem(m, k)))
                return true;
            continue;
        }
        return yield_entry(it, k, slot_elem(m, k));
    }
    return false;
}

/*
 * The next full slot of it->tab. The walk covers entries entryOffset,
 * entryOffset+1, ... (mod capacity) a group at a time: it->group is the
 * control word of the group being walked and it->groupBits the slots of it not yet produced
 * that were full when the walk reached it. A slot emptied since is skipped
 * (deleted entries are not produced); one filled since may be missed
 * (inserted entries may or may not be).
 */
static bool iter_table(gort_map_iter *it)
{
    gort_map *m = it->m;
    table *t = it->tab;
    for (;;) {
        while (it->groupBits) {
            uint8_t *ctrl = (uint8_t *)it->group + first(it->groupBits);
            it->groupBits &= it->groupBits - 1;
            if (*ctrl & ctrlEmpty)
                continue;
            /* The slot of a control byte has the byte's index. */
            uint8_t *k = t->slots + (size_t)(ctrl - t->ctrl) * m->t.slotsize;
            if (unlikely(t->index == -1)) {
                if (grownEntry(it, k, slot_elem(m, k)))
                    return true;
                continue;
            }
            return yield_entry(it, k, slot_elem(m, k));
        }
        uint64_t left = t->capacity - it->entryIdx;
        if (left == 0)
            return false;
        /* The next group: from slot si, at most to its end or the walk's. */
        uint64_t e = (it->entryIdx + it->entryOffset) & (t->capacity - 1);
        unsigned si = e % groupSlots, n = groupSlots - si;
        if (n > left)
            n = (unsigned)left;
        it->group = group_at(m, t, e / groupSlots).ctrl;
        it->groupBits = matchFull(ctrl_load(it->group)) & (~0ull << 8 * si)
                        & (~0ull >> 8 * (groupSlots - si - n));
        it->entryIdx += n;
    }
}

bool gort_map_iter_next(gort_map_iter *it)
{
    gort_map *m = it->m;
    if (!m)
        goto end;
    if (writing(m))
        throw("concurrent map iteration and map write");
    if (it->dirIdx < 0) {
        if (iter_small(it))
            return true;
        goto end;
    }
    if (it->globalDepth != m->globalDepth) {
        /* The directory doubled: the position scales with it. */
        unsigned orders = m->globalDepth - it->globalDepth;
        it->dirIdx <<= orders;
        it->dirOffset <<= orders;
        it->globalDepth = m->globalDepth;
    }
    while ((size_t)it->dirIdx < m->dirLen) {
        if (!it->tab) {
            intptr_t di = (intptr_t)(((uint64_t)it->dirIdx + it->dirOffset) & (m->dirLen - 1));
            table *t = map_directoryAt(m, (size_t)di);
            /* Entered a table in the middle of its run of entries: shift
             * the offset so this position counts as its first. */
            if (t->index != di)
                it->dirOffset -= (uint64_t)(di - t->index);
            it->tab = t;
        }
        if (iter_table(it))
            return true;
        it->dirIdx += (intptr_t)1 << (m->globalDepth - ((table *)it->tab)->localDepth);
        it->tab = NULL;
        it->entryIdx = 0;
        it->groupBits = 0;
    }
end:
    it->key = NULL;
    it->val = NULL;
    return false;
}
