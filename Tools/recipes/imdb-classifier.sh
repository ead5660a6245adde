#!/usr/bin/env bash
# The IMDB movie reviews classifier recipe: trains on `train.csv` in ../shared/corpora/sentiment/imdb
# (or the folder given by IMDB_DIR) with the defaults (tokenizer words: a BiLSTM with a bag of
# n-grams beside it), a seeded 10% held out for development, seed 1, 30 minutes at most on 2
# threads. Writes the model to OUTDIR/model, prints the time of each step, evaluates on the test
# set, then on SST-2's test sentences (short, other films' critics), read as another domain
# ($SST2_TEST to use another file).
#
#   bash Tools/recipes/imdb-classifier.sh OUTDIR [extra classify-train flags]
set -euo pipefail
if [ $# -lt 1 ]; then echo "usage: $0 OUTDIR [extra classify-train flags]" >&2; exit 2; fi
out=$1; shift
root=$(cd "$(dirname "$0")/../.." && pwd)
data=${IMDB_DIR:-$root/../shared/corpora/sentiment/imdb}
transfer=${SST2_TEST:-"$root/../shared/corpora/sentiment/sst2/test.csv"}
source "$root/Tools/recipes/common.sh"
classifier_recipe "$out" "$data" words "$transfer" -- "$@"
