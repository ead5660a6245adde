#!/usr/bin/env bash
# Compiles SeqModels' C kernels for ARM64 Linux (Graviton, Ampere; Apple silicon runs the same
# portable build) with clang's target flag, warnings as errors, so that the portable path keeps
# compiling on a machine without an ARM64 processor. Installs Debian's ARM64 C library headers
# (libc6-dev-arm64-cross) if missing. Compiles only: nothing is linked or run.
set -euo pipefail
cd "$(dirname "$0")/.."
sysroot=/usr/aarch64-linux-gnu
if [ ! -f "$sysroot/include/stdio.h" ]; then
    if command -v apt-get >/dev/null 2>&1; then
        sudo_cmd=()
        [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
        echo "Installing libc6-dev-arm64-cross (ARM64 C headers) ..."
        "${sudo_cmd[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq libc6-dev-arm64-cross >/dev/null
    else
        echo "ARM64 C headers not found at $sysroot and no apt-get to install them" >&2
        exit 1
    fi
fi
clang=$(command -v clang || true)
[ -n "$clang" ] || { echo "clang not found (Swift's toolchain ships one)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count=0
for source in Sources/CKernels/*.c; do
    "$clang" --target=aarch64-linux-gnu --sysroot="$sysroot" -isystem "$sysroot/include" \
        -O3 -fno-math-errno -Wall -Wextra -Werror -ISources/CKernels/include \
        -c "$source" -o "$out/$(basename "$source").o"
    count=$((count + 1))
done
echo "ARM64: $count C kernel files compile for aarch64-linux-gnu with -Wall -Wextra -Werror."
