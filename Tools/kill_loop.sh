#!/usr/bin/env bash
# Kills a training run with SIGKILL at least 50 times (half at random moments, half during a
# save) and checks after each kill that the model directory loads, then that --resume reaches
# the model of an uninterrupted run byte for byte (Tools/kill_loop.py says how).
#
#   bash Tools/kill_loop.sh OUTDIR [KILLS]     (default 60 kills; about two minutes)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: $0 OUTDIR [KILLS]}
kills=${2:-60}
bash "$root/Tools/install-dependencies.sh" >/dev/null
(cd "$root" && swift build -c release --product seqmodels 2>&1 | grep -E "error|Compiling|Build" | grep -v "^\[" >&2) || true
binary=$root/.build/release/seqmodels
[ -x "$binary" ] || { echo "kill_loop.sh: the build failed" >&2; exit 1; }
echo "== processor: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs"
python3 "$root/Tools/kill_loop.py" --seqmodels "$binary" --out "$out" --kills "$kills"
