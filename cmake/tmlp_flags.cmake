# Project-wide compiler flags, applied through the interface target tmlp_flags.
add_library(tmlp_flags INTERFACE)
target_compile_options(tmlp_flags INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
  # Designated initializers that leave fields at their defaults are the intended style.
  -Wno-missing-field-initializers
  # IEEE semantics everywhere: no -ffast-math, and no silent contraction of a*b+c into an FMA;
  # kernels that want an FMA ask for it explicitly, so a result depends on the code alone.
  -ffp-contract=off -fno-math-errno
  $<$<BOOL:${TMLP_WERROR}>:-Werror>)

if(TMLP_SANITIZE)
  set(_tmlp_san "-fsanitize=${TMLP_SANITIZE}")
  if(TMLP_SANITIZE MATCHES "undefined")
    string(APPEND _tmlp_san ";-fno-sanitize-recover=all")
  endif()
  if(TMLP_SANITIZE MATCHES "thread")
    # oneTBB synchronizes inside its uninstrumented library: keep TSan out of its headers too
    # (src/core/parallel.hpp states the happens-before edges the library relies on).
    if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
      message(FATAL_ERROR "TMLP_SANITIZE=thread needs clang (for -fsanitize-ignorelist)")
    endif()
    list(APPEND _tmlp_san "-fsanitize-ignorelist=${PROJECT_SOURCE_DIR}/cmake/tsan_ignorelist.txt")
  endif()
  # ASan and UBSan: line tables only. Their reports' stacks keep files, lines and inlined
  # frames, and the build takes a fifth less time than with full debug information. TSan keeps
  # -g: its suppressions (tsan_suppressions.txt) name oneTBB's functions by their qualified
  # names, which inlined frames have only with full debug information.
  if(TMLP_SANITIZE MATCHES "thread")
    set(_tmlp_debug -g)
  elseif(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    set(_tmlp_debug -gline-tables-only)
  else()
    set(_tmlp_debug -g1)
  endif()
  target_compile_options(tmlp_flags INTERFACE ${_tmlp_san} -fno-omit-frame-pointer ${_tmlp_debug})
  target_link_options(tmlp_flags INTERFACE ${_tmlp_san})
endif()

# Fuzzing builds: coverage instrumentation in the library too, so libFuzzer sees its branches
# (the fuzz targets themselves link with -fsanitize=fuzzer).
if(TMLP_BUILD_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "TMLP_BUILD_FUZZ needs clang (libFuzzer)")
  endif()
  target_compile_options(tmlp_flags INTERFACE -fsanitize=fuzzer-no-link)
endif()
