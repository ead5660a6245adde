#!/usr/bin/env bash
# The main job of the README, on the samples bundled in Corpora/ (no network, no ../shared):
# installs what is missing, builds in release, trains a small POS tagger, review classifier,
# story generator and poem generator, then tags sentences, classifies reviews, continues a
# story and writes an acrostic poem. Models go to runs/ (ignored by git). About 2-4 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Tools/install-dependencies.sh
swift build -c release
seqmodels=.build/release/seqmodels
mkdir -p runs

echo "== Training a part-of-speech tagger on Corpora/pos (400 sentences)"
"$seqmodels" tag train --train Corpora/pos/sample.xml --dev Corpora/pos/sample-dev.xml \
    --model runs/tagger --epochs 15 --threads 1 --seed 1
"$seqmodels" tag --model runs/tagger "The honest pharmacist wrapped the walnuts." "Did Ingrid book a ticket to Reykjavik?"

echo; echo "== Training a review classifier on Corpora/reviews"
"$seqmodels" classify train --train Corpora/reviews/train.csv --dev Corpora/reviews/dev.csv --model runs/reviews \
    --embedding-dimension 32 --hidden-size 32 --min-frequency 1 --learning-rate 0.01 --batch-size 16 \
    --epochs 15 --patience 4 --threads 1 --seed 3
"$seqmodels" classify --model runs/reviews "The noodles were superb. Great!" "Our waiter was rude. Never again."

echo; echo "== Training a character-level story generator on Corpora/text"
"$seqmodels" generate train --text Corpora/text/sample.txt --model runs/story --level char \
    --hidden-size 128 --layers 1 --dropout 0 --seq-length 64 --validation-fraction 0 \
    --learning-rate 0.01 --batch-size 8 --epochs 25 --threads 1 --seed 2
"$seqmodels" generate --model runs/story --prefix "The " --length 200 --temperature 0.5 --seed 4

echo; echo "== Training a poem generator on Corpora/poems, then an acrostic poem on 春花秋月"
"$seqmodels" generate train --text Corpora/poems/poems.txt --records lines --model runs/poems --level char \
    --hidden-size 128 --layers 1 --dropout 0 --validation-fraction 0 \
    --learning-rate 0.01 --batch-size 8 --epochs 40 --threads 1 --seed 3
"$seqmodels" generate acrostic --model runs/poems --head 春花秋月 --line-length 7 --temperature 0.7 --seed 3

echo; echo "Done. For speed next to PyTorch: $seqmodels bench lstm (see README)."
