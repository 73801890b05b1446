# Installs a tmlp build into a fresh prefix, then configures and builds tests/c (C99 programs)
# against it through find_package(tmlp), and runs the README's C example and the C API test.
# With TMLP_PROGRAM, `tmlp train` first writes the model the C test must save byte for byte.
# Fails on the first step that fails.
#   cmake -DBUILD_DIR=<tmlp build> -DSOURCE_DIR=<tests/c> -DDATA_DIR=<tests/data>
#         -DWORK_DIR=<scratch> [-DGENERATOR=<generator>] [-DC_COMPILER=<cc>]
#         [-DCXX_COMPILER=<c++>] [-DC_FLAGS=<flags>] [-DTMLP_PROGRAM=<the tmlp program>]
#         [-DREADME=<README.md, which must show example.c verbatim>] -P run_c_test.cmake
cmake_minimum_required(VERSION 3.20)

foreach(var BUILD_DIR SOURCE_DIR DATA_DIR WORK_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_c_test.cmake: -D${var}=... is required")
  endif()
endforeach()

if(DEFINED README AND NOT README STREQUAL "")
  file(READ ${SOURCE_DIR}/example.c example)
  file(READ ${README} readme)
  string(FIND "${readme}" "```c\n${example}```" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "C API: ${README} does not show ${SOURCE_DIR}/example.c verbatim")
  endif()
endif()

set(prefix ${WORK_DIR}/prefix)
set(build ${WORK_DIR}/build)
set(scratch ${WORK_DIR}/scratch)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${scratch})

function(step name)
  message(STATUS "C API: ${name}")
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY ${scratch} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "C API: ${name} failed (${rc})")
  endif()
endfunction()

set(args "")
if(DEFINED GENERATOR AND NOT GENERATOR STREQUAL "")
  list(APPEND args -G ${GENERATOR})
endif()
foreach(lang C CXX)
  if(DEFINED ${lang}_COMPILER AND NOT ${lang}_COMPILER STREQUAL "")
    list(APPEND args -DCMAKE_${lang}_COMPILER=${${lang}_COMPILER})
  endif()
endforeach()

step("install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
step("configure" ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${build} ${args} -DCMAKE_BUILD_TYPE=Release
     "-DCMAKE_C_FLAGS=${C_FLAGS}" -DCMAKE_PREFIX_PATH=${prefix})
step("build" ${CMAKE_COMMAND} --build ${build})
step("run the README's example" ${build}/example ${DATA_DIR}/iris.csv)
set(program_model "")
if(DEFINED TMLP_PROGRAM AND NOT TMLP_PROGRAM STREQUAL "")
  # The options of train_on_file in main.c, as flags.
  set(program_model ${scratch}/tmlp_train.tmlp)
  step("tmlp train" ${TMLP_PROGRAM} train ${DATA_DIR}/breast_cancer.csv --target target_benign
       --layers 32,16 --epochs 40 --batch-size 32 --seed 3 --threads 2 -o ${program_model}
       --quiet)
endif()
step("run the C API test" ${build}/tmlp_c_test ${DATA_DIR} ${scratch} ${program_model})
