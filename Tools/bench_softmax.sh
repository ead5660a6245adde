#!/usr/bin/env bash
# Training speed of the generator's output layers on the Tang poems (6,648 characters), side by
# side in one run: the same recipe (the defaults, --records lines, seed 1, 2 threads) for the same
# time with --softmax full and with --softmax adaptive, and, when a second seqmodels binary is given
# (an older build, say), its default full softmax too. Prints each run's training tokens/s (the
# evaluations after the epochs left out) and the ratios.
#
#   bash Tools/bench_softmax.sh OUTDIR [BASELINE_SEQMODELS]
#   MINUTES=1.5 (each run's time limit)   POEMS=path/to/tang_poems.txt
set -euo pipefail
if [ $# -lt 1 ]; then echo "usage: $0 OUTDIR [BASELINE_SEQMODELS]" >&2; exit 2; fi
out=$1
baseline=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)
poems=${POEMS:-$root/../shared/corpora/generation/tang_poems.txt}
minutes=${MINUTES:-1.5}
[ -f "$poems" ] || { echo "missing $poems (set POEMS)" >&2; exit 1; }
mkdir -p "$out"
cd "$root"
source "$root/Tools/recipes/common.sh"
build_seqmodels

# Trains one model for $minutes and prints its training tokens/s over every epoch it ran, the
# last one partial (metrics.jsonl records each epoch's tokens and training rate; the rate leaves
# out the evaluation after the epoch).
train() {
    local name=$1 binary=$2; shift 2
    rm -rf "$out/$name"
    "$binary" generate train --text "$poems" --records lines --model "$out/$name" \
        --time-limit "$minutes" --threads 2 --seed 1 --sample-length 0 "$@" > "$out/$name.log" 2>&1
    python3 - "$out/$name/metrics.jsonl" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
tokens = sum(r["tokens"] for r in rows)
seconds = sum(r["tokens"] / r["tokens_per_second"] for r in rows)
print(f"{tokens / seconds:.0f}")
EOF
}

step "train for $minutes minutes each (2 threads, seed 1)"
full=$(train full "$seqmodels" --softmax full)
adaptive=$(train adaptive "$seqmodels" --softmax adaptive)
echo "full softmax:      $full tokens/s"
echo "adaptive softmax:  $adaptive tokens/s ($(python3 -c "print(f'{$adaptive / $full:.2f}')")× the full softmax)"
if [ -n "$baseline" ]; then
    old=$(train baseline "$baseline")
    echo "baseline ($baseline), its full softmax: $old tokens/s"
    echo "adaptive against the baseline: $(python3 -c "print(f'{$adaptive / $old:.2f}')")×"
fi
