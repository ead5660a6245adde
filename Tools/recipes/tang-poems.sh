#!/usr/bin/env bash
# The Tang poems recipe: a character model of 32,416 Tang poems (../shared/corpora, or the file
# given by TANG_POEMS), one poem a line, trained with the generator's defaults (2×256 LSTM, the
# adaptive softmax picked for its 6,648 characters, the last 10% of the poems held out), seed 1,
# 30 minutes on 2 threads. Writes the model to OUTDIR/model, prints the time of each step and the
# validation loss and perplexity, then a rhyming acrostic poem.
#
#   bash Tools/recipes/tang-poems.sh OUTDIR [extra generate-train flags]
set -euo pipefail
if [ $# -lt 1 ]; then echo "usage: $0 OUTDIR [extra generate-train flags]" >&2; exit 2; fi
out=$1; shift
root=$(cd "$(dirname "$0")/../.." && pwd)
poems=${TANG_POEMS:-$root/../shared/corpora/generation/tang_poems.txt}
[ -f "$poems" ] || { echo "missing $poems (set TANG_POEMS)" >&2; exit 1; }
mkdir -p "$out"
cd "$root"
source "$root/Tools/recipes/common.sh"
build_seqmodels

step "train (defaults, 30 minutes at most, 2 threads, seed 1)"
t0=$(seconds)
rm -rf "$out/model"
"$seqmodels" generate train --text "$poems" --records lines --model "$out/model" \
    --time-limit 30 --threads 2 --seed 1 --sample-length 0 "$@" 2> >(grep -v '^\s*$' | tail -n 60 >&2)
echo "train: $(( $(seconds) - t0 )) s"

step "validation (the best epoch, from metrics.jsonl)"
print_best_validation "$out/model/metrics.jsonl"

step "a rhyming acrostic poem"
"$seqmodels" generate acrostic --model "$out/model" --head 春花秋月 --line-length 7 --beam 5 --rhyme
