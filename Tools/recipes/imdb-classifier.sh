#!/usr/bin/env bash
# The IMDB movie reviews classifier recipe: trains on `train.csv` in ../shared/corpora/sentiment/imdb
# (or the folder given by IMDB_DIR) with the defaults (tokenizer words: a BiLSTM with a bag of
# n-grams beside it), a seeded 10% held out for development, seed 1, 30 minutes at most on 2
# threads. Writes the model to OUTDIR/model, prints the time of each step, evaluates on the test
# set, then on SST-2's test sentences (short, other films' critics), read as another domain
# ($SST2_TEST to use another file).
#
# With PRETRAIN=1 it first pretrains a forward and a backward word language model of the
# classifier's shape on the reviews of train.csv (at once, one thread each, LM_MINUTES, default
# 25, at most; never the test set) and starts the classifier's embeddings and BiLSTM from them
# (classify train --pretrained, ULMFiT's initialisation).
#
#   bash Tools/recipes/imdb-classifier.sh OUTDIR [extra classify-train flags]
#   PRETRAIN=1 bash Tools/recipes/imdb-classifier.sh OUTDIR
set -euo pipefail
if [ $# -lt 1 ]; then echo "usage: $0 OUTDIR [extra classify-train flags]" >&2; exit 2; fi
out=$1; shift
root=$(cd "$(dirname "$0")/../.." && pwd)
data=${IMDB_DIR:-$root/../shared/corpora/sentiment/imdb}
transfer=${SST2_TEST:-"$root/../shared/corpora/sentiment/sst2/test.csv"}
source "$root/Tools/recipes/common.sh"
pretrained=()
if [ "${PRETRAIN:-0}" = 1 ]; then
    [ -f "$data/train.csv" ] || { echo "missing $data/train.csv" >&2; exit 1; }
    cd "$root"
    build_seqmodels
    pretrain_language_models "$out" "${LM_MINUTES:-25}" --csv "$data/train.csv" --level word --tokenizer words \
        --min-frequency 3 --max-vocabulary 40000 --embedding-size 128 --hidden-size 48 --seq-length 70
    pretrained=(--pretrained "$out/lm-forward" --pretrained "$out/lm-backward")
fi
classifier_recipe "$out" "$data" words "$transfer" -- "${pretrained[@]}" "$@"
