#!/bin/sh
# cmake/gort-text.sh — compiler launcher for the runtime's own objects
# (RULE_LAUNCH_COMPILE of gort_obj): runs the compile command, then renames
# the object's code sections to gort_text with objcopy.
#
# Why: asynchronous preemption (src/signal.c) may switch a goroutine out
# only where its PC is in the program's own code, never in the runtime's.
# When gort is linked statically, both live in the executable's text; with
# all of gort's code in one section named gort_text, the linker gathers it
# in one place and defines __start_gort_text/__stop_gort_text around it, in
# every kind of link (libgort.a, libgort.so, the test archive).
#
# Usage: gort-text.sh <objcopy> <compiler> <args...> (with -o <object>)
objcopy=$1
shift
"$@" || exit
obj=
prev=
for a in "$@"; do
    [ "$prev" = "-o" ] && obj=$a
    prev=$a
done
[ -n "$obj" ] || exit 0
exec "$objcopy" \
    --rename-section .text=gort_text \
    --rename-section .text.unlikely=gort_text \
    --rename-section .text.hot=gort_text \
    --rename-section .text.startup=gort_text \
    "$obj"
