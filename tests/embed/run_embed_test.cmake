# Installs a tmlp build into a fresh prefix, then configures, builds and runs tests/embed (the
# README's example) against it through find_package(tmlp). Fails on the first step that fails.
#   cmake -DBUILD_DIR=<tmlp build> -DSOURCE_DIR=<tests/embed> -DCXX_COMPILER=<c++>
#         -DWORK_DIR=<scratch> [-DGENERATOR=<generator>] [-DCXX_FLAGS=<flags>]
#         [-DREADME=<README.md, which must show main.cpp verbatim>] -P run_embed_test.cmake
cmake_minimum_required(VERSION 3.20)

foreach(var BUILD_DIR SOURCE_DIR CXX_COMPILER WORK_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_embed_test.cmake: -D${var}=... is required")
  endif()
endforeach()

if(DEFINED README AND NOT README STREQUAL "")
  file(READ ${SOURCE_DIR}/main.cpp example)
  file(READ ${README} readme)
  string(FIND "${readme}" "```cpp\n${example}```" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "embed: ${README} does not show ${SOURCE_DIR}/main.cpp verbatim")
  endif()
endif()

set(prefix ${WORK_DIR}/prefix)
set(build ${WORK_DIR}/build)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(step name)
  message(STATUS "embed: ${name}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "embed: ${name} failed (${rc})")
  endif()
endfunction()

set(generator_args "")
if(DEFINED GENERATOR AND NOT GENERATOR STREQUAL "")
  set(generator_args -G ${GENERATOR})
endif()

step("install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
step("configure" ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${build} ${generator_args}
     -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
     "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" -DCMAKE_PREFIX_PATH=${prefix})
step("build" ${CMAKE_COMMAND} --build ${build})
step("run" ${build}/embed)
