/*
 * symtab.h — program counters to names and source lines (symtab.c).
 */
#ifndef GORT_SYMTAB_H
#define GORT_SYMTAB_H

#include <stdbool.h>
#include <stdint.h>

typedef struct symtab symtab;

/* What is known about the code at one pc. Strings belong to the session. */
typedef struct funcinfo {
    const char *name;     /* function (symbol) name, or NULL */
    uintptr_t   entry;    /* its first instruction (valid with name) */
    const char *file;     /* source file, or NULL without line info */
    int         line;
    const char *object;   /* the executable or library holding pc, or NULL */
    uintptr_t   objbase;  /* where that object is loaded */
} funcinfo;

/* A lookup session over the objects loaded now; NULL if they cannot be
 * read. Allocates: never from a signal handler or a stopped world. */
symtab *symtab_open(void);
void    symtab_close(symtab *st);       /* st may be NULL */
/* Fills *fi for the instruction at pc; false if no loaded object holds it
 * (or st is NULL). */
bool    symtab_lookup(symtab *st, uintptr_t pc, funcinfo *fi);

#endif /* GORT_SYMTAB_H */
