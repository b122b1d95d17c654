/*
 * symtab.c — from a program counter to a function name and a source line
 * (Go: symtab.go's findfunc, funcname and funcline).
 *
 * A Go binary carries its own table for this (the pclntab), which the
 * runtime reads directly. A C program's equivalents are the ELF symbol
 * tables (function names and their extents) and the DWARF line table
 * (.debug_line: address -> file:line), spread over the executable and every
 * shared library it loaded. elfutils' libdw reads both: a Dwfl session
 * lists the objects mapped into this process (from /proc/self/maps, as a
 * debugger attached to us would), finds each one's ELF file (and its
 * separate debug file, if one is installed) and answers lookups.
 *
 * A session allocates with malloc and reads files, so it is used only
 * where that is allowed: never in a signal handler, never while the world
 * is stopped (a stopped thread may hold malloc's lock). The goroutine dump
 * (dump.c) collects raw PCs with the world stopped and symbolizes them
 * here afterwards. Lookups take an address inside the function: for a
 * return address, the caller passes pc-1, which lies in the call
 * instruction (Go's tracepc).
 */
#include "symtab.h"

#include <elfutils/libdwfl.h>
#include <stdlib.h>
#include <unistd.h>

struct symtab {
    Dwfl *dwfl;
};

static char *debuginfo_path;
static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};

symtab *symtab_open(void)
{
    symtab *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->dwfl = dwfl_begin(&callbacks);
    if (!st->dwfl || dwfl_linux_proc_report(st->dwfl, getpid()) != 0 ||
        dwfl_report_end(st->dwfl, NULL, NULL) != 0) {
        symtab_close(st);
        return NULL;
    }
    return st;
}

void symtab_close(symtab *st)
{
    if (!st)
        return;
    if (st->dwfl)
        dwfl_end(st->dwfl);
    free(st);
}

bool symtab_lookup(symtab *st, uintptr_t pc, funcinfo *fi)
{
    *fi = (funcinfo){ 0 };
    if (!st)
        return false;
    Dwfl_Module *mod = dwfl_addrmodule(st->dwfl, pc);
    if (!mod)
        return false;
    Dwarf_Addr base = 0;
    fi->object = dwfl_module_info(mod, NULL, &base, NULL, NULL, NULL, NULL, NULL);
    fi->objbase = (uintptr_t)base;
    GElf_Off off = 0;
    GElf_Sym sym;
    fi->name = dwfl_module_addrinfo(mod, pc, &off, &sym, NULL, NULL, NULL);
    if (fi->name)
        fi->entry = pc - (uintptr_t)off;
    Dwfl_Line *line = dwfl_module_getsrc(mod, pc);
    int lineno = 0;
    if (line && (fi->file = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL)))
        fi->line = lineno;
    return true;
}
