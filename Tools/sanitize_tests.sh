#!/usr/bin/env bash
# The whole test suite under AddressSanitizer (Swift and C code) and UndefinedBehaviorSanitizer
# (C code: the kernels, the libxml2 wrapper; UB traps, so no runtime library is needed), in a
# build folder of its own (.build-sanitize). A sanitizer report fails the test that caused it.
#
#   bash Tools/sanitize_tests.sh [swift test arguments, e.g. --filter CSVReaderTests]
#
# Leak detection is off: the Swift runtime's metadata caches and Foundation's singletons live
# until exit and would be reported as leaks. swiftc on Linux has no -sanitize=undefined; Swift's
# own arithmetic overflow and bounds checks are on in this debug build anyway.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Tools/install-dependencies.sh >/dev/null
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1
start=$SECONDS
swift build --build-tests --scratch-path .build-sanitize --sanitize=address \
    -Xcc -fsanitize=undefined -Xcc -fsanitize-trap=undefined -Xcc -fno-sanitize-recover=undefined 2>&1 \
    | grep -E "error|warning: unre|Build" | grep -v "^\[" || true
built=$SECONDS
echo "== sanitizer build: $(( built - start )) s"
swift test --skip-build --scratch-path .build-sanitize --sanitize=address "$@"
echo "== sanitized tests: $(( SECONDS - built )) s (build $(( built - start )) s)"
