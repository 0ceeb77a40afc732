# Per-target compile settings. Flags are attached to each target, never to a directory, so a
# third-party header or a fuzz harness can be built with its own rules.

option(EARSHOT_WERROR "Treat warnings as errors" ON)
option(EARSHOT_ASAN "Build with AddressSanitizer" OFF)
option(EARSHOT_UBSAN "Build with UndefinedBehaviorSanitizer" OFF)
option(EARSHOT_TSAN "Build with ThreadSanitizer" OFF)
option(EARSHOT_FUZZ "Build libFuzzer targets (needs clang)" OFF)
option(EARSHOT_BENCH "Build benchmarks" ON)
option(EARSHOT_SLOW_TESTS "Also build tests labelled 'slow' (off in the sanitizer build)" ON)
option(EARSHOT_FUZZ_ONLY "Fuzz build: only the fuzz targets are tests" OFF)

if(EARSHOT_ASAN AND EARSHOT_TSAN)
  message(FATAL_ERROR "ASan and TSan cannot be combined")
endif()

set(EARSHOT_SANITIZE_FLAGS "")
if(EARSHOT_ASAN)
  list(APPEND EARSHOT_SANITIZE_FLAGS -fsanitize=address -fno-omit-frame-pointer)
endif()
if(EARSHOT_UBSAN)
  list(APPEND EARSHOT_SANITIZE_FLAGS -fsanitize=undefined -fno-sanitize-recover=undefined)
endif()
if(EARSHOT_TSAN)
  list(APPEND EARSHOT_SANITIZE_FLAGS -fsanitize=thread)
endif()
if(EARSHOT_FUZZ)
  # Everything a fuzzer links is instrumented for coverage and checked by ASan/UBSan; only the
  # fuzz executables themselves add -fsanitize=fuzzer (which brings libFuzzer's main).
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "EARSHOT_FUZZ needs clang (-DCMAKE_CXX_COMPILER=clang++)")
  endif()
  list(APPEND EARSHOT_SANITIZE_FLAGS -fsanitize=fuzzer-no-link,address,undefined
       -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
endif()

# earshot_configure_target(<target>): warnings, standard, sanitizers.
function(earshot_configure_target target)
  target_compile_features(${target} PUBLIC cxx_std_17)
  set_target_properties(${target} PROPERTIES CXX_EXTENSIONS OFF)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wnon-virtual-dtor
                                           -Wno-missing-field-initializers)
  if(EARSHOT_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(EARSHOT_SANITIZE_FLAGS)
    target_compile_options(${target} PRIVATE ${EARSHOT_SANITIZE_FLAGS})
    target_link_options(${target} PRIVATE ${EARSHOT_SANITIZE_FLAGS})
  endif()
endfunction()

# earshot_add_test(<name> SOURCES ... LIBS ... [TIMEOUT s] [LABELS ...] [RESOURCE_LOCK lock]
# [RUN_SERIAL] [FIXTURES_REQUIRED f]): one GoogleTest executable registered with CTest, linked
# with tests/support. RUN_SERIAL: nothing else runs beside its tests (for tests whose subject is
# real-time and CPU-hungry, such as a headless browser playing and recording audio).
# FIXTURES_REQUIRED: a CTest test with FIXTURES_SETUP f runs first, once.
function(earshot_add_test name)
  cmake_parse_arguments(ARG "RUN_SERIAL" "TIMEOUT;RESOURCE_LOCK;FIXTURES_REQUIRED"
                        "SOURCES;LIBS;LABELS" ${ARGN})
  if("slow" IN_LIST ARG_LABELS AND NOT EARSHOT_SLOW_TESTS)
    return()
  endif()
  add_executable(${name} ${ARG_SOURCES})
  earshot_configure_target(${name})
  # Executables by label, for targets that build one kind of test (tests/CMakeLists.txt).
  foreach(label ${ARG_LABELS})
    set_property(GLOBAL APPEND PROPERTY EARSHOT_TESTS_LABELLED_${label} ${name})
  endforeach()
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} earshot_test_support GTest::gtest
                        GTest::gtest_main Threads::Threads)
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  # Labels and the resource lock are set by a script CTest includes after the discovered tests:
  # gtest_discover_tests (CMake 3.25) writes its PROPERTIES unquoted, so a list value such as two
  # labels would lose its second item.
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT ${ARG_TIMEOUT})
  set(script "${CMAKE_CURRENT_BINARY_DIR}/${name}_properties.cmake")
  set(properties "LABELS [==[${ARG_LABELS}]==]")
  if(ARG_RESOURCE_LOCK)
    string(APPEND properties " RESOURCE_LOCK ${ARG_RESOURCE_LOCK}")
  endif()
  if(ARG_RUN_SERIAL)
    string(APPEND properties " RUN_SERIAL TRUE")
  endif()
  if(ARG_FIXTURES_REQUIRED)
    string(APPEND properties " FIXTURES_REQUIRED ${ARG_FIXTURES_REQUIRED}")
  endif()
  file(WRITE "${script}"
       "foreach(t IN LISTS ${name}_TESTS)\n"
       "  set_tests_properties(\"\${t}\" PROPERTIES ${properties})\n"
       "endforeach()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${script}")
endfunction()
