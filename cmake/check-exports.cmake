# check-exports.cmake — the test gort_exports: libgort.a and libgort.so
# export exactly the functions that the public headers (include/gort.h and
# include/gort/*.h) declare: no internal name leaks out (see "Symbol
# hygiene" in CMakeLists.txt), and no declared function is missing. Run by
# ctest:
#   cmake -DNM=<nm> -DINCLUDE_DIR=<include/> -DSTATIC=<libgort.a> -DSHARED=<libgort.so>
#         -P check-exports.cmake
#
# The declared set is parsed from the headers, not listed here: comments and
# preprocessor lines are dropped, and every `gort_<name>(` left is a function
# declaration, except in a declaration marked static (an inline helper is
# not exported). A function pointer type (`(*gort_fn)(`) does not match.
cmake_minimum_required(VERSION 3.25)

# ---- What the headers declare ----------------------------------------------------

file(GLOB _headers "${INCLUDE_DIR}/gort.h" "${INCLUDE_DIR}/gort/*.h")
if(NOT _headers)
    message(FATAL_ERROR "no public headers in ${INCLUDE_DIR}")
endif()
set(_declared)
foreach(_h IN LISTS _headers)
    file(READ "${_h}" _text)
    # CMake lists split at ';': make the header's own ones something else.
    string(REPLACE ";" "\n@SEMI@\n" _text "${_text}")
    string(REGEX REPLACE "\\\\\n" " " _text "${_text}")                 # line continuations
    string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" " " _text "${_text}")  # /* comments */
    string(REGEX REPLACE "//[^\n]*" " " _text "${_text}")              # // comments
    string(REGEX REPLACE "(^|\n)[ \t]*#[^\n]*" "\\1" _text "${_text}")   # preprocessor lines
    # One element per declaration (or definition body).
    string(REGEX REPLACE "\n@SEMI@\n|[{}]" ";" _decls "${_text}")
    foreach(_d IN LISTS _decls)
        if(_d MATCHES "(^|[^A-Za-z0-9_])static([^A-Za-z0-9_]|$)")
            continue()
        endif()
        string(REGEX MATCHALL "gort_[A-Za-z0-9_]*[ \t\n]*\\(" _calls "${_d}")
        foreach(_c IN LISTS _calls)
            string(REGEX REPLACE "[ \t\n]*\\($" "" _name "${_c}")
            list(APPEND _declared "${_name}")
        endforeach()
    endforeach()
endforeach()
list(REMOVE_DUPLICATES _declared)
list(SORT _declared)
list(LENGTH _declared _ndeclared)
if(_ndeclared EQUAL 0)
    message(FATAL_ERROR "no gort_* function declarations found in ${_headers}")
endif()
message(STATUS "public headers declare ${_ndeclared} functions")

# ---- What each library exports ---------------------------------------------------

set(_bad)
foreach(_lib IN ITEMS STATIC SHARED)
    if(NOT ${_lib})
        continue()
    endif()
    set(_args -g --defined-only)
    if(_lib STREQUAL "SHARED")
        list(APPEND _args -D)
    endif()
    execute_process(COMMAND "${NM}" ${_args} "${${_lib}}"
        OUTPUT_VARIABLE _out RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
        message(FATAL_ERROR "${NM} ${_args} ${${_lib}} failed (${_rc})")
    endif()
    string(REPLACE "\n" ";" _lines "${_out}")
    set(_exported)
    foreach(_l IN LISTS _lines)
        # "<value> <type> <name>"; archive member headers ("gort.o:") and blank lines skipped
        if(_l MATCHES "^[0-9a-fA-F]* *[A-Za-z] ([^ ]+)$")
            list(APPEND _exported "${CMAKE_MATCH_1}")
        endif()
    endforeach()
    list(REMOVE_DUPLICATES _exported)
    list(LENGTH _exported _n)
    message(STATUS "${${_lib}}: ${_n} global symbols")

    set(_extra ${_exported})
    list(REMOVE_ITEM _extra ${_declared})
    foreach(_s IN LISTS _extra)
        list(APPEND _bad "${${_lib}}: exports ${_s}, which the public headers do not declare")
    endforeach()
    set(_missing ${_declared})
    if(_exported)
        list(REMOVE_ITEM _missing ${_exported})
    endif()
    foreach(_s IN LISTS _missing)
        list(APPEND _bad "${${_lib}}: does not export ${_s}, declared in the public headers")
    endforeach()
endforeach()
if(_bad)
    list(LENGTH _bad _nbad)
    string(REPLACE ";" "\n  " _bad "${_bad}")
    message(FATAL_ERROR "${_nbad} differences between the exports and the public headers:\n  ${_bad}")
endif()
