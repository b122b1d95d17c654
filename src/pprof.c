/*
 * pprof.c — writing profiles in pprof's format (Go: runtime/pprof/proto.go,
 * pprof.go's writeHeap/writeGoroutine/writeBlock/writeMutex).
 *
 * A profile is the protobuf message perftools.profiles.Profile (profile.proto,
 * compiled by protoc-c at build time), gzip-compressed:
 *
 *   sample_type [(samples,count),(cpu,nanoseconds)]   what each value means
 *   sample      {location ids, leaf first; values}    one per distinct stack
 *   location    {id, mapping, address, line: function} one per distinct PC
 *   function    {id, name}                             one per distinct name
 *   mapping     {id, start, limit, offset, file, build id} one per executable
 *                                                      segment of a loaded object
 *   string_table ["", ...]                             every string, once
 *
 * Addresses are symbolised here: a function's name comes from libunwind
 * (which reads the object's symbol table, static functions included) or,
 * failing that, dladdr. The mappings (dl_iterate_phdr, with the GNU build
 * id) let `go tool pprof` find the binaries too and add file:line from
 * their debug info. A non-leaf PC is a return address; its location gets
 * the address one byte before it, inside the call instruction, so that it
 * names the calling line (as pprof expects, "A non-leaf address may be in
 * the middle of a call instruction").
 *
 * gort_pprof_write(kind, path) writes the named profile, with Go's kind
 * names and sample types:
 *   heap / allocs  alloc_objects, alloc_space, inuse_objects, inuse_space
 *                  (count/bytes), period space/bytes = MemProfileRate; the
 *                  values are scaled up from the samples as Go's
 *                  scaleHeapSample does. heap defaults to inuse_space,
 *                  allocs to alloc_space.
 *   goroutine      goroutine/count: every live goroutine's stack (the
 *                  world is stopped while they are read), from its saved
 *                  context for one that is not running.
 *   block / mutex  contentions/count, delay/nanoseconds (mutex values
 *                  multiplied by the sampling fraction, as Go's).
 * The CPU profile is cpuprof.c's. GORT_CPUPROFILE=path and
 * GORT_MEMPROFILE=path profile a program that cannot be changed: the CPU
 * profile starts before the main goroutine and both are written when
 * gort_main returns or the program exits. GORT_TRACE=path does the same
 * for the execution trace (trace.c).
 */
#include "gwalk.h"
#include "pprof.h"
#include "malloc.h"
#include "profile.pb-c.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <zlib.h>

typedef Perftools__Profiles__Profile Profile;
typedef Perftools__Profiles__Sample Sample;
typedef Perftools__Profiles__Location Location;
typedef Perftools__Profiles__Line Line;
typedef Perftools__Profiles__Function Function;
typedef Perftools__Profiles__Mapping Mapping;
typedef Perftools__Profiles__ValueType ValueType;

/* ---- Small growable tables --------------------------------------------------- */

/* Grows *arr (of elem-byte entries) to hold at least n+1; throws on OOM. */
static void grow(void *arrp, size_t *cap, size_t n, size_t elem)
{
    void **arr = arrp;
    if (n < *cap)
        return;
    size_t c = *cap ? *cap * 2 : 16;
    void *a = realloc(*arr, c * elem);
    if (!a)
        throw("pprof: out of memory");
    *arr = a;
    *cap = c;
}

/* An open-addressing map from a 64-bit key to an index (+1; 0 = empty). */
typedef struct idmap { uint64_t *keys; uint32_t *vals; size_t cap, n; } idmap;

static uint64_t mix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return k;
}

static uint32_t *idmap_slot(idmap *m, uint64_t key)
{
    if (2 * (m->n + 1) > m->cap) {
        idmap old = *m;
        m->cap = m->cap ? m->cap * 2 : 256;
        m->keys = calloc(m->cap, sizeof *m->keys);
        m->vals = calloc(m->cap, sizeof *m->vals);
        if (!m->keys || !m->vals)
            throw("pprof: out of memory");
        m->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.vals[i]) {
                *idmap_slot(m, old.keys[i]) = old.vals[i];
                m->n++;
            }
        free(old.keys);
        free(old.vals);
    }
    size_t i = mix(key) & (m->cap - 1);
    while (m->vals[i] && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    m->keys[i] = key;
    return &m->vals[i];
}

static void idmap_free(idmap *m) { free(m->keys); free(m->vals); }

static uint64_t strhash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

/* ---- The builder ------------------------------------------------------------------ */

struct profBuilder {
    Profile     p;
    size_t      nvalues;
    char      **strs;   size_t strcap;  idmap strids;   /* by hash; collisions compared */
    Sample    **samples; size_t samplecap;
    Location  **locs;   size_t loccap;  idmap locids;   /* by address */
    Function  **funcs;  size_t funccap; idmap funcids;  /* by name's string index */
    Mapping   **maps;   size_t mapcap;
    int64_t    *comments; size_t commentcap;
    ValueType **vtypes; size_t vtypecap;
    unw_context_t uc;   /* a cursor whose IP is set to each PC to name it */
    unw_cursor_t cursor;
    bool        cursorok;
};

static int64_t strindex(profBuilder *b, const char *s)
{
    uint64_t h = strhash(s);
    for (;;) {
        uint32_t *v = idmap_slot(&b->strids, h);
        if (!*v) {
            grow(&b->strs, &b->strcap, b->p.n_string_table, sizeof *b->strs);
            char *c = strdup(s);
            if (!c)
                throw("pprof: out of memory");
            b->strs[b->p.n_string_table] = c;
            *v = (uint32_t)++b->p.n_string_table;
            b->strids.n++;
            return *v - 1;
        }
        if (strcmp(b->strs[*v - 1], s) == 0)
            return *v - 1;
        h = mix(h + 1);              /* a different string with this hash */
    }
}

static ValueType *valuetype(profBuilder *b, const char *type, const char *unit)
{
    ValueType *v = malloc(sizeof *v);
    if (!v)
        throw("pprof: out of memory");
    perftools__profiles__value_type__init(v);
    v->type = strindex(b, type);
    v->unit = strindex(b, unit);
    grow(&b->vtypes, &b->vtypecap, b->p.n_sample_type, sizeof *b->vtypes);
    b->vtypes[b->p.n_sample_type] = v;   /* owned here; sample_type points in */
    return v;
}

/* ---- Mappings --------------------------------------------------------------------- */

/* The GNU build id of an object, as hex, from its PT_NOTE segments. */
static void buildid(struct dl_phdr_info *info, char *out, size_t outn)
{
    out[0] = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            const uint8_t *name = p + sizeof *nh, *desc = name + ((nh->n_namesz + 3) & ~3u);
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
                size_t k = 0;
                for (uint32_t j = 0; j < nh->n_descsz && k + 3 <= outn; j++, k += 2)
                    snprintf(out + k, 3, "%02x", desc[j]);
                return;
            }
            p = desc + ((nh->n_descsz + 3) & ~3u);
        }
    }
}

static int addmappings(struct dl_phdr_info *info, size_t size, void *arg)
{
    profBuilder *b = arg;
    char exe[4096], id[128];
    const char *file = info->dlpi_name;
    if (!file || !*file) {           /* the main program */
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = 0;
        file = exe;
    }
    buildid(info, id, sizeof id);
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        Mapping *m = malloc(sizeof *m);
        if (!m)
            throw("pprof: out of memory");
        perftools__profiles__mapping__init(m);
        m->id = b->p.n_mapping + 1;
        m->memory_start = (info->dlpi_addr + ph->p_vaddr) & ~(uint64_t)4095;
        m->memory_limit = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
        m->file_offset = ph->p_offset & ~(uint64_t)4095;
        m->filename = strindex(b, file);
        m->build_id = strindex(b, id);
        m->has_functions = true;
        grow(&b->maps, &b->mapcap, b->p.n_mapping, sizeof *b->maps);
        b->maps[b->p.n_mapping++] = m;
    }
    return 0;
}

static uint64_t mappingOf(profBuilder *b, uintptr_t pc)
{
    for (size_t i = 0; i < b->p.n_mapping; i++)
        if (pc >= b->maps[i]->memory_start && pc < b->maps[i]->memory_limit)
            return b->maps[i]->id;
    return 0;
}

/* ---- Locations and functions ------------------------------------------------------ */

/* The name of the function containing pc, in buf. */
static void funcname(profBuilder *b, uintptr_t pc, char *buf, size_t n)
{
    unw_word_t off;
    if (b->cursorok && unw_set_reg(&b->cursor, UNW_REG_IP, pc) == 0 &&
        unw_get_proc_name(&b->cursor, buf, n, &off) == 0 && buf[0]) {
        char *alias = strstr(buf, ".localalias");  /* the compiler's local copy of a global */
        if (alias)
            *alias = 0;
        return;
    }
    Dl_info info;
    if (dladdr((void *)pc, &info) && info.dli_sname) {
        snprintf(buf, n, "%s", info.dli_sname);
        return;
    }
    snprintf(buf, n, "0x%lx", (unsigned long)pc);
}

static uint64_t functionid(profBuilder *b, const char *name)
{
    int64_t si = strindex(b, name);
    uint32_t *v = idmap_slot(&b->funcids, (uint64_t)si);
    if (*v)
        return *v;
    Function *f = malloc(sizeof *f);
    if (!f)
        throw("pprof: out of memory");
    perftools__profiles__function__init(f);
    f->id = b->p.n_function + 1;
    f->name = si;
    f->system_name = si;
    grow(&b->funcs, &b->funccap, b->p.n_function, sizeof *b->funcs);
    b->funcs[b->p.n_function++] = f;
    b->funcids.n++;
    *v = (uint32_t)f->id;
    return f->id;
}

static uint64_t locationid(profBuilder *b, uintptr_t addr)
{
    uint32_t *v = idmap_slot(&b->locids, addr);
    if (*v)
        return *v;
    char name[512];
    funcname(b, addr, name, sizeof name);
    Location *l = malloc(sizeof *l);
    Line *ln = malloc(sizeof *ln);
    Line **lines = malloc(sizeof *lines);
    if (!l || !ln || !lines)
        throw("pprof: out of memory");
    perftools__profiles__location__init(l);
    perftools__profiles__line__init(ln);
    ln->function_id = functionid(b, name);
    lines[0] = ln;
    l->id = b->p.n_location + 1;
    l->mapping_id = mappingOf(b, addr);
    l->address = addr;
    l->n_line = 1;
    l->line = lines;
    grow(&b->locs, &b->loccap, b->p.n_location, sizeof *b->locs);
    b->locs[b->p.n_location++] = l;
    b->locids.n++;
    v = idmap_slot(&b->locids, addr);   /* the table may have grown */
    *v = (uint32_t)l->id;
    return l->id;
}

profBuilder *profNew(int nvalues, const char *const *types, const char *const *units,
                     const char *ptype, const char *punit, int64_t period)
{
    profBuilder *b = calloc(1, sizeof *b);
    if (!b)
        throw("pprof: out of memory");
    perftools__profiles__profile__init(&b->p);
    b->nvalues = (size_t)nvalues;
    strindex(b, "");
    for (int i = 0; i < nvalues; i++) {
        valuetype(b, types[i], units[i]);
        b->p.n_sample_type++;
    }
    b->p.period_type = valuetype(b, ptype, punit);  /* kept past n_sample_type, freed with them */
    b->p.sample_type = b->vtypes;
    b->p.period = period;
    b->p.time_nanos = walltime();
    dl_iterate_phdr(addmappings, b);
    /* A signal frame's cursor: libunwind names its IP exactly, not IP-1. */
    b->cursorok = unw_getcontext(&b->uc) == 0 &&
                  unw_init_local2(&b->cursor, &b->uc, UNW_INIT_SIGNAL_FRAME) == 0;
    return b;
}

void profSetTimes(profBuilder *b, int64_t timeNanos, int64_t durationNanos)
{
    b->p.time_nanos = timeNanos;
    b->p.duration_nanos = durationNanos;
}

void profSetDefaultSampleType(profBuilder *b, const char *type)
{
    b->p.default_sample_type = strindex(b, type);
}

void profComment(profBuilder *b, const char *text)
{
    grow(&b->comments, &b->commentcap, b->p.n_comment, sizeof *b->comments);
    b->comments[b->p.n_comment++] = strindex(b, text);
}

void profSample(profBuilder *b, const uintptr_t *pcs, int n, bool leafExact, const int64_t *values)
{
    Sample *s = malloc(sizeof *s);
    uint64_t *ids = malloc((size_t)(n > 0 ? n : 1) * sizeof *ids);
    int64_t *vals = malloc(b->nvalues * sizeof *vals);
    if (!s || !ids || !vals)
        throw("pprof: out of memory");
    perftools__profiles__sample__init(s);
    for (int i = 0; i < n; i++)
        ids[i] = locationid(b, pcs[i] - (i == 0 && leafExact ? 0 : 1));
    memcpy(vals, values, b->nvalues * sizeof *vals);
    s->n_location_id = (size_t)n;
    s->location_id = ids;
    s->n_value = b->nvalues;
    s->value = vals;
    grow(&b->samples, &b->samplecap, b->p.n_sample, sizeof *b->samples);
    b->samples[b->p.n_sample++] = s;
}

static void profFree(profBuilder *b)
{
    for (size_t i = 0; i < b->p.n_sample; i++) {
        free(b->samples[i]->location_id);
        free(b->samples[i]->value);
        free(b->samples[i]);
    }
    for (size_t i = 0; i < b->p.n_location; i++) {
        free(b->locs[i]->line[0]);
        free(b->locs[i]->line);
        free(b->locs[i]);
    }
    for (size_t i = 0; i < b->p.n_function; i++)
        free(b->funcs[i]);
    for (size_t i = 0; i < b->p.n_mapping; i++)
        free(b->maps[i]);
    for (size_t i = 0; i <= b->p.n_sample_type; i++)
        free(b->vtypes[i]);
    for (size_t i = 0; i < b->p.n_string_table; i++)
        free(b->strs[i]);
    free(b->comments);
    free(b->samples); free(b->locs); free(b->funcs); free(b->maps); free(b->vtypes); free(b->strs);
    idmap_free(&b->strids); idmap_free(&b->locids); idmap_free(&b->funcids);
    free(b);
}

int profWrite(profBuilder *b, const char *path)
{
    b->p.sample = b->samples;
    b->p.location = b->locs;
    b->p.function = b->funcs;
    b->p.mapping = b->maps;
    b->p.string_table = b->strs;
    b->p.comment = b->comments;
    size_t n = perftools__profiles__profile__get_packed_size(&b->p);
    uint8_t *buf = malloc(n ? n : 1);
    int rc = -ENOMEM;
    if (buf) {
        perftools__profiles__profile__pack(&b->p, buf);
        gzFile f = gzopen(path, "wb");
        rc = -errno;
        if (f) {
            rc = (n == 0 || gzwrite(f, buf, (unsigned)n) == (int)n) ? 0 : -EIO;
            if (gzclose(f) != Z_OK && rc == 0)
                rc = -EIO;
        } else if (rc == 0) {
            rc = -ENOMEM;            /* zlib's own allocation failed */
        }
        free(buf);
    }
    profFree(b);
    return rc;
}

/* ---- Heap, block and mutex profiles ------------------------------------------------- */

/* Go's scaleHeapSample: n objects of total size bytes were sampled at
 * rate; estimate how many were allocated: each object of average size
 * avg was sampled with probability 1 - exp(-avg/rate). */
static void scaleHeapSample(double count, double size, int64_t rate, int64_t *outc, int64_t *outs)
{
    if (count == 0 || size == 0) {
        *outc = *outs = 0;
        return;
    }
    if (rate <= 1) {
        *outc = (int64_t)count;
        *outs = (int64_t)size;
        return;
    }
    double avg = size / count, scale = 1 / (1 - exp(-avg / (double)rate));
    *outc = (int64_t)(count * scale);
    *outs = (int64_t)(size * scale);
}

/* The buckets of t, copied out under its lock: stacks are read while no
 * allocation happens under the lock (writing allocates). */
static bucket **snapshot(bucketTable *t, size_t *np)
{
    size_t n = 0, cap = 0;
    bucket **out = NULL;
    for (;;) {
        nosuspend_enter();
        lock(&t->lock);
        n = 0;
        for (bucket *b = t->all; b; b = b->allnext)
            n++;
        bool fits = n <= cap;
        if (fits) {
            n = 0;
            for (bucket *b = t->all; b; b = b->allnext) {
                bucket *c = out[n++];
                c->nstk = b->nstk;
                memcpy(c->v, b->v, sizeof c->v);
                memcpy(c->stk, b->stk, (size_t)b->nstk * sizeof *b->stk);
            }
        }
        unlock(&t->lock);
        nosuspend_exit();
        if (fits)
            break;
        for (size_t i = 0; i < cap; i++)
            free(out[i]);
        free(out);
        cap = n + 16;
        out = malloc(cap * sizeof *out);
        if (!out)
            throw("pprof: out of memory");
        for (size_t i = 0; i < cap; i++)
            if (!(out[i] = malloc(sizeof(bucket) + MAXSTACK * sizeof(uintptr_t))))
                throw("pprof: out of memory");
    }
    for (size_t i = n; i < cap; i++)
        free(out[i]);
    *np = n;
    return out;
}

static void freesnapshot(bucket **bs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(bs[i]);
    free(bs);
}

static int writeHeap(const char *path, const char *defaultType)
{
    static const char *const types[] = { "alloc_objects", "alloc_space", "inuse_objects", "inuse_space" };
    static const char *const units[] = { "count", "bytes", "count", "bytes" };
    int64_t rate = atomic_load(&memprofilerate);
    profBuilder *pb = profNew(4, types, units, "space", "bytes", rate);
    profSetDefaultSampleType(pb, defaultType);
    size_t n;
    bucket **bs = snapshot(&memProfile, &n);
    for (size_t i = 0; i < n; i++) {
        bucket *b = bs[i];
        int64_t v[4];
        scaleHeapSample(b->v[0], b->v[1], rate, &v[0], &v[1]);
        scaleHeapSample(b->v[0] - b->v[2], b->v[1] - b->v[3], rate, &v[2], &v[3]);
        profSample(pb, b->stk, b->nstk, false, v);
    }
    freesnapshot(bs, n);
    return profWrite(pb, path);
}

static int writeContention(const char *path, bucketTable *t, int64_t scale)
{
    static const char *const types[] = { "contentions", "delay" };
    static const char *const units[] = { "count", "nanoseconds" };
    profBuilder *pb = profNew(2, types, units, "contentions", "count", 1);
    size_t n;
    bucket **bs = snapshot(t, &n);
    for (size_t i = 0; i < n; i++) {
        int64_t v[2] = { (int64_t)(bs[i]->v[0] * (double)scale), (int64_t)(bs[i]->v[1] * (double)scale) };
        profSample(pb, bs[i]->stk, bs[i]->nstk, false, v);
    }
    freesnapshot(bs, n);
    return profWrite(pb, path);
}

/* ---- Goroutine profile ------------------------------------------------------------ */

/* The stack of gp, which is not running: from the context gswitch saved
 * (gwalk.h), runtime frames dropped. */
static int gstack(g *gp, uintptr_t *pcs, int max)
{
    gwalk w;
    if (!gwalk_init(&w, gp))
        return 0;
    return trimRuntimeFrames(pcs, cursorPCs(&w.c, pcs, max));
}

struct gprof { bucketTable *stacks; g *self; };

static void gprofOne(g *gp, void *arg)
{
    struct gprof *gpr = arg;
    uint32_t st = atomic_load(&gp->atomicstatus);
    if (st == Gdead || st == Gidle)
        return;
    uintptr_t pcs[MAXSTACK];
    int n = 0;
    if (gp == gpr->self)
        n = callers(pcs, MAXSTACK);
    else if (st == Grunnable || st == Gwaiting)
        n = gstack(gp, pcs, MAXSTACK);
    /* A goroutine in a C call (Gsyscall) keeps running on its thread: no
     * saved context to read; it counts, with an empty stack. */
    bucket *b = bucketLock(gpr->stacks, pcs, n);
    if (b) {
        b->v[0] += 1;               /* goroutines with this very stack */
        bucketUnlock(gpr->stacks);
    }
}

static void writeGoroutineBody(void *arg)
{
    struct { const char *path; int rc; } *a = arg;
    static const char *const types[] = { "goroutine" };
    static const char *const units[] = { "count" };
    bucketTable *stacks = calloc(1, sizeof *stacks);
    if (!stacks) {
        a->rc = -ENOMEM;
        return;
    }
    struct gprof gpr = { stacks, getg() };
    stopTheWorld("goroutine profile");
    forEachG(gprofOne, &gpr);
    startTheWorld();
    profBuilder *pb = profNew(1, types, units, "goroutine", "count", 1);
    for (bucket *b = stacks->all, *next; b; b = next) {
        int64_t count = (int64_t)b->v[0];
        profSample(pb, b->stk, b->nstk, false, &count);
        next = b->allnext;
        free(b);
    }
    free(stacks);
    a->rc = profWrite(pb, a->path);
}

/* stopTheWorld needs a goroutine: a thread that is not one gets one. */
static int writeGoroutine(const char *path)
{
    struct { const char *path; int rc; } a = { path, 0 };
    if (ingoroutine()) {
        writeGoroutineBody(&a);
        return a.rc;
    }
    run_on_goroutine(writeGoroutineBody, &a);
    return a.rc;
}

/* ---- The API ------------------------------------------------------------------------ */

int gort_pprof_write(const char *kind, const char *path)
{
    RUNTIME_ENTRY();                 /* the goroutine profile stops the world */
    if (!kind || !path)
        return -EINVAL;
    runtime_init();
    if (strcmp(kind, "heap") == 0)
        return writeHeap(path, "inuse_space");
    if (strcmp(kind, "allocs") == 0)
        return writeHeap(path, "alloc_space");
    if (strcmp(kind, "goroutine") == 0)
        return writeGoroutine(path);
    if (strcmp(kind, "block") == 0)
        return writeContention(path, &blockProfile, 1);
    if (strcmp(kind, "mutex") == 0) {
        int64_t rate = atomic_load(&mutexprofilerate);
        return writeContention(path, &mutexProfile, rate > 0 ? rate : 1);
    }
    return -EINVAL;
}

int gort_pprof_cpu_start(const char *path)
{
    if (!path)
        return -EINVAL;
    runtime_init();
    return cpuprof_start(path);
}

int gort_pprof_cpu_stop(void) { return cpuprof_stop(); }

/* ---- The environment ------------------------------------------------------------------ */

static const char *envcpu, *envmem, *envtrace;
static _Atomic bool exited;

/* -EINVAL from a stop: the program stopped it itself, nothing to say. */
static void report(const char *what, const char *path, int rc)
{
    if (rc < 0 && rc != -EINVAL)
        gprint("gort: cannot write %s %s: %s\n", what, path, strerror(-rc));
}

void pprof_exit(void)
{
    if (atomic_exchange(&exited, true))
        return;
    if (envcpu)
        report("CPU profile", envcpu, cpuprof_stop());
    if (envmem)
        report("heap profile", envmem, gort_pprof_write("heap", envmem));
    if (envtrace)
        report("execution trace", envtrace, gort_trace_stop());
}

static void pprof_atexit(void) { pprof_exit(); }

void pprof_init(void)
{
    envcpu = getenv("GORT_CPUPROFILE");
    envmem = getenv("GORT_MEMPROFILE");
    if (envcpu && !*envcpu)
        envcpu = NULL;
    if (envmem && !*envmem)
        envmem = NULL;
    envtrace = getenv("GORT_TRACE");
    if (envtrace && !*envtrace)
        envtrace = NULL;
    if (envcpu)
        report("CPU profile", envcpu, cpuprof_start(envcpu));
    if (envtrace)
        report("execution trace", envtrace, traceStart(envtrace));
    if (envcpu || envmem || envtrace)
        atexit(pprof_atexit);
}
