#!/usr/bin/env bash
# The tinyshakespeare recipe: a character model of tinyshakespeare (../shared/corpora, or the file
# given by SHAKESPEARE), one stream, seed 1, 30 minutes on 2 threads. The generator's defaults
# (a full softmax over its 65 characters, consecutive chunks of 100, batch 32, the last 10% of the
# text held out), except for the best settings found for this text and budget: a 2×512 LSTM,
# dropout 0.3, AdamW (decoupled weight decay 0.2) at 3e-3 annealed by a cosine over the 30
# minutes (over the epochs that fit on the processor at hand; --epochs 60 only caps them). Writes
# the model to OUTDIR/model, prints the time of each step and the validation loss and perplexity,
# then a sample from "ROMEO:".
#
#   bash Tools/recipes/shakespeare.sh OUTDIR [extra generate-train flags, which win]
set -euo pipefail
if [ $# -lt 1 ]; then echo "usage: $0 OUTDIR [extra generate-train flags]" >&2; exit 2; fi
out=$1; shift
root=$(cd "$(dirname "$0")/../.." && pwd)
text=${SHAKESPEARE:-$root/../shared/corpora/generation/tinyshakespeare.txt}
[ -f "$text" ] || { echo "missing $text (set SHAKESPEARE)" >&2; exit 1; }
mkdir -p "$out"
cd "$root"
source "$root/Tools/recipes/common.sh"
build_seqmodels

step "train (2×512, dropout 0.3, AdamW 3e-3 with weight decay 0.2 on a cosine over 30 minutes at most, 2 threads, seed 1)"
t0=$(seconds)
rm -rf "$out/model"
"$seqmodels" generate train --text "$text" --model "$out/model" \
    --hidden-size 512 --dropout 0.3 --optimizer adamw --weight-decay 0.2 --learning-rate 3e-3 --schedule cosine --epochs 60 \
    --time-limit 30 --threads 2 --seed 1 --sample-length 0 "$@" 2> >(grep -v '^\s*$' | tail -n 60 >&2)
echo "train: $(( $(seconds) - t0 )) s"

step "validation (the best epoch, from metrics.jsonl)"
print_best_validation "$out/model/metrics.jsonl"

step "a sample"
"$seqmodels" generate --model "$out/model" --prefix "ROMEO:" --length 300 --temperature 0.8 --seed 1
