# The program stays on the public side of the library: every quoted #include in src/cli names
# a public header (tmlp/...) or one of the program's own (cli/...). Run as
#   cmake -DCLI_DIR=<src/cli> -P check_cli_includes.cmake
# It lists every offending line (file:line: the include) and fails if there is one.
if(NOT CLI_DIR OR NOT IS_DIRECTORY "${CLI_DIR}")
  message(FATAL_ERROR "check_cli_includes: CLI_DIR '${CLI_DIR}' is not a directory")
endif()
file(GLOB_RECURSE sources "${CLI_DIR}/*.cpp" "${CLI_DIR}/*.hpp" "${CLI_DIR}/*.h")
list(LENGTH sources n_sources)
if(n_sources EQUAL 0)
  message(FATAL_ERROR "check_cli_includes: no sources under ${CLI_DIR}")
endif()
set(bad "")
foreach(source IN LISTS sources)
  file(STRINGS "${source}" lines)
  set(line_no 0)
  foreach(line IN LISTS lines)
    math(EXPR line_no "${line_no} + 1")
    if(line MATCHES "^[ \t]*#[ \t]*include[ \t]*\"([^\"]+)\"")
      set(header "${CMAKE_MATCH_1}")
      if(NOT header MATCHES "^(tmlp|cli)/")
        file(RELATIVE_PATH rel "${CLI_DIR}" "${source}")
        string(APPEND bad "  src/cli/${rel}:${line_no}: #include \"${header}\"\n")
      endif()
    endif()
  endforeach()
endforeach()
if(bad)
  message(FATAL_ERROR
          "src/cli includes headers from outside include/tmlp and src/cli (the program must use "
          "the public API only):\n${bad}")
endif()
message(STATUS "check_cli_includes: ${n_sources} files in src/cli include only tmlp/ and cli/ headers")
