#!/usr/bin/env bash
# The waimai_10k food-delivery reviews classifier recipe: trains on `train.csv` in ../shared/corpora/sentiment/waimai_10k
# (or the folder given by WAIMAI_DIR) with the defaults (tokenizer characters: a BiLSTM with a bag of
# n-grams beside it), a seeded 10% held out for development, seed 1, 30 minutes at most on 2
# threads. Writes the model to OUTDIR/model, prints the time of each step, evaluates on the test
# set, then on ChnSentiCorp's test set (hotels), read as another domain
# ($CHNSENTICORP_TEST to use another file).
#
#   bash Tools/recipes/waimai-classifier.sh OUTDIR [extra classify-train flags]
set -euo pipefail
if [ $# -lt 1 ]; then echo "usage: $0 OUTDIR [extra classify-train flags]" >&2; exit 2; fi
out=$1; shift
root=$(cd "$(dirname "$0")/../.." && pwd)
data=${WAIMAI_DIR:-$root/../shared/corpora/sentiment/waimai_10k}
transfer=${CHNSENTICORP_TEST:-"$root/../shared/corpora/sentiment/chnsenticorp_htl/test.csv"}
source "$root/Tools/recipes/common.sh"
classifier_recipe "$out" "$data" characters "$transfer" -- "$@"
