# gort-gdb.py — gdb support for gort's goroutines (Go: src/runtime/runtime-gdb.py).
#
# gdb sees threads, not goroutines: a goroutine that is not running has no
# thread, only a stack and the stack pointer it saved when it switched out
# (g.sched_sp). This extension finds every goroutine the way the runtime's
# collector does, through the array allgs (src/roots.c), and adds:
#
#   info goroutines        one line per goroutine: id, status or what it
#                          waits for, pc and function ('*' marks the one the
#                          selected thread runs; a parked one's pc is where it
#                          will resume, in the runtime's switch)
#   goroutine N CMD        runs the gdb command CMD (bt, info frame, ...) in
#                          goroutine N's context: for a goroutine on a thread,
#                          in that thread; for a parked one, with the
#                          registers set, for the duration of CMD, to those it
#                          saved (the frame layout of src/arch/*/switch.S)
#
# Loading: `source <prefix>/share/gort/gdb/gort-gdb.py`, or let gdb
# auto-load the copy installed next to libgort.so (docs/debugging.md).
# Setting registers needs a live process; it works on a core file only for
# goroutines that were running.

import gdb

STATUS = ["idle", "runnable", "running", "syscall", "waiting", "dead"]
GRUNNING, GSYSCALL, GWAITING, GDEAD = 2, 3, 4, 5

# Go's wait reason strings (src/debug.c's waitReasonStrings), by enum name.
WAITREASONS = {
    "waitReasonChanSend": "chan send",
    "waitReasonChanReceive": "chan receive",
    "waitReasonSelect": "select",
    "waitReasonSelectNoCases": "select (no cases)",
    "waitReasonChanSendNilChan": "chan send (nil chan)",
    "waitReasonChanReceiveNilChan": "chan receive (nil chan)",
    "waitReasonSleep": "sleep",
    "waitReasonSyncMutexLock": "sync.Mutex.Lock",
    "waitReasonSyncRWMutexLock": "sync.RWMutex.Lock",
    "waitReasonSyncRWMutexRLock": "sync.RWMutex.RLock",
    "waitReasonSemacquire": "semacquire",
    "waitReasonSyncCondWait": "sync.Cond.Wait",
    "waitReasonSyncWaitGroupWait": "sync.WaitGroup.Wait",
    "waitReasonIOWait": "IO wait",
    "waitReasonPreempted": "preempted",
    "waitReasonGCWorkerIdle": "GC worker (idle)",
    "waitReasonForceGCIdle": "force gc (idle)",
    "waitReasonTest": "test",
}

# Where switch.S leaves each callee-saved register, as a byte offset from
# the saved stack pointer; "pc" is the return address gswitch resumes at,
# and "sp" the stack pointer after that return.
SAVED = {
    "amd64": {"r15": 8, "r14": 16, "r13": 24, "r12": 32, "rbx": 40, "rbp": 48,
              "pc": 56, "sp_after": 64},
    "arm64": dict([("x%d" % r, (r - 19) * 8) for r in range(19, 31)],
                  pc=88, sp_after=176),
}


def arch():
    name = gdb.selected_frame().architecture().name()
    return "arm64" if "aarch64" in name else "amd64"


def static(name):
    sym = gdb.lookup_static_symbol(name)
    if sym is None:
        sym = gdb.lookup_global_symbol(name)
    if sym is None:
        raise gdb.GdbError("gort: no symbol %s (is this a gort program with debug info?)" % name)
    return sym.value()


def allgs():
    arr, n = static("allgs"), int(static("allglen"))
    for i in range(n):
        gp = arr[i]
        if int(gp["atomicstatus"]) != GDEAD:
            yield gp


def word(addr):
    ptr = gdb.lookup_type("unsigned long").pointer()
    return int(gdb.Value(addr).cast(ptr).dereference())


def status_string(gp):
    st = int(gp["atomicstatus"])
    s = STATUS[st] if st < len(STATUS) else "???"
    if st == GWAITING:
        reason = str(gp["waitreason"])
        if reason != "waitReasonZero":
            s = WAITREASONS.get(reason, reason)
    return s


def thread_of(gp):
    """The gdb thread running gp (by its M's kernel tid), or None."""
    st = int(gp["atomicstatus"])
    if st not in (GRUNNING, GSYSCALL) or int(gp["m"]) == 0:
        return None
    tid = int(gp["m"]["procid"])
    for t in gdb.selected_inferior().threads():
        if t.ptid[1] == tid:
            return t
    return None


def saved_regs(gp):
    """Register values gp saved when it switched out: {name: value}."""
    sp = int(gp["sched_sp"])
    regs = {}
    for name, off in SAVED[arch()].items():
        if name != "sp_after":
            regs[name] = word(sp + off)
    regs["sp"] = sp + SAVED[arch()]["sp_after"]
    return regs


def pc_of(gp):
    """(pc, is_return_address): where gp runs, or where it will resume."""
    t = thread_of(gp)
    if t is not None:
        old = gdb.selected_thread()
        t.switch()
        try:
            return int(gdb.newest_frame().pc()), False
        finally:
            old.switch()
    return saved_regs(gp)["pc"], True


def funcname(pc, ret):
    """The function holding pc (for a return address, the call before it):
    the ELF symbol, not an inlined callee, minus the compiler's suffixes
    (gopark.localalias), as the dump prints it."""
    out = gdb.execute("info symbol 0x%x" % (pc - 1 if ret else pc), False, True)
    if out.startswith("No symbol"):
        return "?"
    return out.split(" ")[0].split(".")[0]


def find_g(goid):
    for gp in allgs():
        if int(gp["goid"]) == goid:
            return gp
    raise gdb.GdbError("gort: no goroutine %d" % goid)


class InfoGoroutines(gdb.Command):
    """List every goroutine: id, status (or wait reason), pc and function."""

    def __init__(self):
        super().__init__("info goroutines", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        cur = gdb.selected_thread()
        for gp in sorted(allgs(), key=lambda gp: int(gp["goid"])):
            mark = "*" if thread_of(gp) == cur else " "
            pc, ret = pc_of(gp)
            gdb.write("%s %d %s 0x%x %s\n" % (mark, int(gp["goid"]), status_string(gp), pc,
                                              funcname(pc, ret)))


class GoroutineCmd(gdb.Command):
    """goroutine N CMD: run the gdb command CMD in goroutine N's context.

    A parked goroutine's registers are those it saved when it switched out;
    they are set for the duration of CMD and restored afterwards."""

    def __init__(self):
        super().__init__("goroutine", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        parts = arg.split(None, 1)
        if len(parts) != 2:
            raise gdb.GdbError("usage: goroutine N CMD")
        gp = find_g(int(parts[0]))
        t = thread_of(gp)
        old = gdb.selected_thread()
        if t is not None:
            t.switch()
            try:
                gdb.execute(parts[1], from_tty)
            finally:
                old.switch()
            return
        gdb.newest_frame().select()
        regs = saved_regs(gp)
        saved = {name: int(gdb.parse_and_eval("$" + name)) for name in regs}
        try:
            for name, v in regs.items():
                gdb.execute("set $%s = 0x%x" % (name, v), False)
            gdb.execute(parts[1], from_tty)
        finally:
            for name, v in saved.items():
                gdb.execute("set $%s = 0x%x" % (name, v), False)


InfoGoroutines()
GoroutineCmd()
