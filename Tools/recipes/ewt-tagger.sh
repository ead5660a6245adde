#!/usr/bin/env bash
# The EWT part-of-speech tagger recipe: trains on UD English EWT (the XML rendition in
# ../shared/corpora, or the folder given by EWT_DIR), with fixed seeds and a 15-minute limit
# on 2 threads, writes the model to OUTDIR/model, prints the time of each step, and ends by
# evaluating on the test set.
#
#   bash Tools/recipes/ewt-tagger.sh OUTDIR                  # BiLSTM-CRF (the recipe)
#   OUTPUT_LAYER=softmax bash Tools/recipes/ewt-tagger.sh OUTDIR   # the same with a softmax per token
#
# Extra arguments after OUTDIR go to `seqmodels tag train` as they are.
set -euo pipefail
if [ $# -lt 1 ]; then echo "usage: $0 OUTDIR [extra tag-train flags]" >&2; exit 2; fi
out=$1; shift
root=$(cd "$(dirname "$0")/../.." && pwd)
ewt=${EWT_DIR:-$root/../shared/corpora/pos/en_ewt}
for split in train dev test; do
    [ -f "$ewt/en_ewt-ud-$split.xml" ] || { echo "missing $ewt/en_ewt-ud-$split.xml (set EWT_DIR)" >&2; exit 1; }
done
output_layer=${OUTPUT_LAYER:-crf}
case "$output_layer" in
    crf) layer_flags=(--crf) ;;
    softmax) layer_flags=() ;;
    *) echo "OUTPUT_LAYER must be crf or softmax, got $output_layer" >&2; exit 2 ;;
esac
mkdir -p "$out"
cd "$root"
source "$root/Tools/recipes/common.sh"
build_seqmodels

step "train ($output_layer output layer, 15 minutes at most, 2 threads, seed 1)"
t0=$(seconds)
rm -rf "$out/model"
"$seqmodels" tag train --train "$ewt/en_ewt-ud-train.xml" --dev "$ewt/en_ewt-ud-dev.xml" --model "$out/model" \
    "${layer_flags[@]}" --time-limit 15 --threads 2 --seed 1 "$@" 2> >(grep -v '^\s*$' | tail -n 40 >&2)
echo "train: $(( $(seconds) - t0 )) s"

step "evaluate on the test set"
t0=$(seconds)
"$seqmodels" tag eval --model "$out/model" --test "$ewt/en_ewt-ud-test.xml" --threads 2 | tee "$out/test-report.txt" | head -n 12
echo "evaluate: $(( $(seconds) - t0 )) s"
