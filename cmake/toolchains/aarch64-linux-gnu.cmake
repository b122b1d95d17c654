# Cross-compile gort for Linux arm64 on a Debian/Ubuntu x86-64 host, and run
# the results under qemu-user.
#
#   cmake -S . -B build/arm64 \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
#   cmake --build build/arm64 && ctest --test-dir build/arm64
#
# Needs: gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user, and the
# target's libraries from Debian multiarch (dpkg --add-architecture arm64):
# libunwind-dev:arm64 libcmocka-dev:arm64. Those live in
# /usr/lib/aarch64-linux-gnu and /usr/include/aarch64-linux-gnu, which the
# Debian cross compiler already searches; the C library and the dynamic
# loader live in /usr/aarch64-linux-gnu.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(GORT_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER   ${GORT_CROSS_TRIPLE}-gcc)
set(CMAKE_ASM_COMPILER ${GORT_CROSS_TRIPLE}-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE ${GORT_CROSS_TRIPLE})

# Where the target's files are: the cross libc (/usr/aarch64-linux-gnu) and
# the multiarch directories of the host. Search only there for libraries and
# headers, never in the host's own /usr/lib/x86_64-linux-gnu; programs
# (pkg-config, qemu) come from the host.
set(CMAKE_LIBRARY_PATH
    /usr/lib/${GORT_CROSS_TRIPLE} /lib/${GORT_CROSS_TRIPLE} /usr/${GORT_CROSS_TRIPLE}/lib)
set(CMAKE_INCLUDE_PATH
    /usr/include/${GORT_CROSS_TRIPLE} /usr/${GORT_CROSS_TRIPLE}/include)
set(CMAKE_IGNORE_PREFIX_PATH /usr/local)
set(CMAKE_IGNORE_PATH
    /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/include/x86_64-linux-gnu
    /usr/lib/x86_64-linux-gnu/cmake)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)

# pkg-config reports the target's .pc files, not the host's.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${GORT_CROSS_TRIPLE}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

# ctest (and add_test with a target name) runs every test binary through
# qemu. The ELF interpreter and libc must come from the same glibc build: the
# arm64 multiarch libc6:arm64 (pulled in by libunwind8:arm64 and
# libcmocka0:arm64) provides /lib/ld-linux-aarch64.so.1 and its libc, and qemu
# needs no prefix. Only without it fall back to the cross libc via -L.
# (Mixing them — -L's ld.so with the multiarch libc.so.6, which is what -L
# gives when both exist — breaks dl_iterate_phdr, and libunwind with it.)
find_program(GORT_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static)
if(GORT_QEMU_AARCH64)
    if(EXISTS /lib/ld-linux-aarch64.so.1)
        set(CMAKE_CROSSCOMPILING_EMULATOR "${GORT_QEMU_AARCH64}")
    else()
        set(CMAKE_CROSSCOMPILING_EMULATOR "${GORT_QEMU_AARCH64};-L;/usr/${GORT_CROSS_TRIPLE}")
    endif()
endif()
