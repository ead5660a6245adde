#!/usr/bin/env bash
# The EWT part-of-speech tagger recipe: pretrains a forward and a backward character language
# model on unlabelled text (IMDB's training reviews and EWT's training sentences; never a test
# set), both at once on one thread each for at most LM_MINUTES (default 50) minutes, then trains
# a BiLSTM-CRF tagger on UD English EWT (the XML rendition in ../shared/corpora, or the folder
# given by EWT_DIR) reading their hidden states at every word (flair's contextual string
# embeddings), with fixed seeds and a 15-minute limit on 2 threads; writes the language models
# to OUTDIR/lm-forward and OUTDIR/lm-backward and the tagger to OUTDIR/model, prints the time of
# each step, and ends by evaluating on the test set.
#
#   bash Tools/recipes/ewt-tagger.sh OUTDIR                        # the recipe
#   PRETRAIN=0 bash Tools/recipes/ewt-tagger.sh OUTDIR             # the tagger alone, no language models
#   OUTPUT_LAYER=softmax bash Tools/recipes/ewt-tagger.sh OUTDIR   # a softmax per token instead of the CRF
#
# Extra arguments after OUTDIR go to `seqmodels tag train` as they are.
set -euo pipefail
if [ $# -lt 1 ]; then echo "usage: $0 OUTDIR [extra tag-train flags]" >&2; exit 2; fi
out=$1; shift
root=$(cd "$(dirname "$0")/../.." && pwd)
ewt=${EWT_DIR:-$root/../shared/corpora/pos/en_ewt}
imdb=${IMDB_DIR:-$root/../shared/corpora/sentiment/imdb}
for split in train dev test; do
    [ -f "$ewt/en_ewt-ud-$split.xml" ] || { echo "missing $ewt/en_ewt-ud-$split.xml (set EWT_DIR)" >&2; exit 1; }
done
pretrain=${PRETRAIN:-1}
lm_minutes=${LM_MINUTES:-50}
if [ "$pretrain" = 1 ]; then
    [ -f "$imdb/train.csv" ] || { echo "missing $imdb/train.csv (set IMDB_DIR, or PRETRAIN=0)" >&2; exit 1; }
fi
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

lm_flags=()
if [ "$pretrain" = 1 ]; then
    pretrain_language_models "$out" "$lm_minutes" --csv "$imdb/train.csv" --sentences "$ewt/en_ewt-ud-train.xml"
    lm_flags=(--char-lm "$out/lm-forward" --char-lm "$out/lm-backward")
fi

step "train ($output_layer output layer, 15 minutes at most, 2 threads, seed 1)"
t0=$(seconds)
rm -rf "$out/model"
"$seqmodels" tag train --train "$ewt/en_ewt-ud-train.xml" --dev "$ewt/en_ewt-ud-dev.xml" --model "$out/model" \
    "${layer_flags[@]}" "${lm_flags[@]}" --time-limit 15 --threads 2 --seed 1 "$@" 2> >(grep -v '^\s*$' | tail -n 40 >&2)
echo "train: $(( $(seconds) - t0 )) s"

step "evaluate on the test set"
t0=$(seconds)
"$seqmodels" tag eval --model "$out/model" --test "$ewt/en_ewt-ud-test.xml" --threads 2 | tee "$out/test-report.txt" | head -n 12
echo "evaluate: $(( $(seconds) - t0 )) s"
