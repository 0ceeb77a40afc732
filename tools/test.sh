#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what it needs, then builds and
# runs every test four ways:
#   1. release build (gcc, -Werror)              — unit, integration and end-to-end tests
#   2. ASan + UBSan build (gcc)                   — the same tests under the sanitizers
#   3. fuzz build (clang, libFuzzer + ASan/UBSan) — every parser fuzzed for EARSHOT_FUZZ_SECONDS each
#   4. TSan build (gcc)                           — unit and integration tests (no slow ones) under
#                                                   ThreadSanitizer; a report from any process fails it
#   5. arm64 cross build (aarch64-linux-gnu-gcc)  — both programs and their .deb packages, every
#                                                   layer's unit tests, the packages' tests and one
#                                                   node integration test, under qemu-aarch64
# Environment: EARSHOT_FUZZ_SECONDS (default 20), EARSHOT_JOBS (default: number of cores),
# EARSHOT_SKIP_FUZZ=1 / EARSHOT_SKIP_ASAN=1 / EARSHOT_SKIP_TSAN=1 / EARSHOT_SKIP_ARM64=1 to shorten
# a local run.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=${EARSHOT_JOBS:-$(nproc)}
FUZZ_SECONDS=${EARSHOT_FUZZ_SECONDS:-20}

bash tools/install-deps.sh || { echo "test.sh: installing dependencies failed"; exit 1; }

total_passed=0
total_failed=0
status=0

# run_suite NAME BUILD_DIR CMAKE_ARGS... : configure, build, run ctest, add up the results.
run_suite() {
  local name=$1 dir=$2
  shift 2
  echo "=== $name: configure and build ($dir)"
  if ! cmake -S "$ROOT" -B "$dir" -G Ninja "$@" >"$dir.configure.log" 2>&1; then
    cat "$dir.configure.log"; echo "=== $name: configure FAILED"; status=1; return
  fi
  cmake --build "$dir" -j"$JOBS" ${BUILD_TARGET:+--target $BUILD_TARGET} 2>&1 | tail -n 40
  if [ "${PIPESTATUS[0]}" != 0 ]; then echo "=== $name: build FAILED"; status=1; return; fi
  echo "=== $name: test"
  local log="$dir.ctest.log"
  ctest --test-dir "$dir" --output-on-failure -j"$JOBS" --timeout 600 ${CTEST_EXCLUDE:+-E "$CTEST_EXCLUDE"} \
    ${CTEST_LABELS:+-L "$CTEST_LABELS"} \
    2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local line passed failed
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
  failed=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
  local all
  all=$(echo "$line" | sed -E 's/.* failed out of ([0-9]+).*/\1/')
  if [ -n "$line" ]; then
    passed=$((all - failed))
    total_passed=$((total_passed + passed))
    total_failed=$((total_failed + failed))
  fi
  if [ "$rc" != 0 ] || [ -z "$line" ]; then status=1; fi
}

mkdir -p build
run_suite release build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo

if [ "${EARSHOT_SKIP_ASAN:-0}" != 1 ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
  export LSAN_OPTIONS=suppressions=$ROOT/tools/lsan.supp:print_suppressions=0
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  run_suite asan+ubsan build/asan -DCMAKE_BUILD_TYPE=Debug -DEARSHOT_ASAN=ON -DEARSHOT_UBSAN=ON \
    -DEARSHOT_BENCH=OFF -DEARSHOT_SLOW_TESTS=OFF
fi

if [ "${EARSHOT_SKIP_FUZZ:-0}" != 1 ]; then
  BUILD_TARGET=fuzzers run_suite fuzz build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ -DEARSHOT_FUZZ=ON -DEARSHOT_BENCH=OFF -DBUILD_TESTING=ON \
    -DEARSHOT_FUZZ_ONLY=ON -DEARSHOT_FUZZ_SECONDS="$FUZZ_SECONDS"
fi

if [ "${EARSHOT_SKIP_TSAN:-0}" != 1 ]; then
  # Every process a test starts (earshot-node, earshot-bridge, the fault proxy) is built with TSan
  # too, and its stderr goes to the test's scratch files, where a report could pass unseen; so
  # every process writes its reports to tsan-reports/ instead, and any file there fails the suite.
  tsan_reports=$ROOT/build/tsan-reports
  rm -rf "$tsan_reports"; mkdir -p "$tsan_reports"
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$tsan_reports/tsan:suppressions=$ROOT/tools/tsan.supp"
  # Left out under TSan (see docs/testing.md, "ThreadSanitizer"): none yet.
  CTEST_EXCLUDE="" run_suite tsan build/tsan -DCMAKE_BUILD_TYPE=Debug -DEARSHOT_TSAN=ON \
    -DEARSHOT_BENCH=OFF -DEARSHOT_SLOW_TESTS=OFF
  unset TSAN_OPTIONS
  if [ -n "$(ls -A "$tsan_reports")" ]; then
    cat "$tsan_reports"/*
    echo "=== tsan: ThreadSanitizer reported the above ($(ls "$tsan_reports" | wc -l) processes)"
    status=1
  fi
fi

if [ "${EARSHOT_SKIP_ARM64:-0}" != 1 ]; then
  # Cross-built with Debian's aarch64 toolchain and arm64 libraries; CTest runs every test program
  # (and the tests every program they start) under qemu-aarch64 (docs/deploy.md, "arm64"). The
  # tests: the labels of tests/CMakeLists.txt's cross_tests target, which builds them.
  # Left out under qemu-user: PrometheusText.ProcessMetricsComeFromProc, since qemu 7.2 emulates
  # /proc/self/stat with zeros for all but a few fields (no RSS, no CPU time; docs/testing.md).
  arm64_start=$(date +%s)
  BUILD_TARGET=cross_tests CTEST_LABELS='^(dsp|protocol|device|node|host|packaging|arm64)$' \
    CTEST_EXCLUDE='^PrometheusText\.ProcessMetricsComeFromProc$' run_suite arm64 build/arm64 -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/toolchain-aarch64-linux-gnu.cmake" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEARSHOT_BENCH=OFF -DEARSHOT_SLOW_TESTS=OFF
  ls build/arm64/packaging/debs/*.deb 2>/dev/null
  echo "=== arm64: $(($(date +%s) - arm64_start)) s"
fi

echo
echo "all suites: $total_passed passed, $total_failed failed"
exit $status
