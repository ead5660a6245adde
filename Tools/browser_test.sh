#!/usr/bin/env bash
# The web page of `seqmodels serve` in a real browser: trains a small tagger, classifier and
# poem generator on Corpora/ (a few seconds each), serves them on a free loopback port, and
# runs Tools/browser_test.py (headless chromium through its DevTools protocol), which types
# into each panel, checks what the page renders and saves a screenshot of each panel in OUTDIR.
# Installs chromium and a CJK font (Debian) and websocket-client (PyPI) when missing.
#
#   bash Tools/browser_test.sh OUTDIR [path to seqmodels, default .build/debug/seqmodels]
set -euo pipefail
if [ $# -lt 1 ]; then echo "usage: $0 OUTDIR [seqmodels binary]" >&2; exit 2; fi
out=$(mkdir -p "$1" && cd "$1" && pwd)
cd "$(dirname "$0")/.."
seqmodels=${2:-.build/debug/seqmodels}
[ -x "$seqmodels" ] || swift build --product seqmodels
if ! command -v chromium >/dev/null || ! fc-list :lang=zh 2>/dev/null | grep -q .; then
    apt-get install -y --no-install-recommends chromium fonts-noto-cjk fontconfig >/dev/null
fi
python3 -c "import websocket" 2>/dev/null || python3 -m pip install --quiet websocket-client

models=$(mktemp -d)
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$models"
}
trap cleanup EXIT

"$seqmodels" tag train --train Corpora/pos/sample.xml --dev Corpora/pos/sample-dev.xml --model "$models/tagger" \
    --epochs 4 --threads 1 --seed 1 2>/dev/null
"$seqmodels" classify train --train Corpora/reviews/train.csv --dev Corpora/reviews/dev.csv --model "$models/reviews" \
    --embedding-dimension 32 --hidden-size 32 --min-frequency 1 --learning-rate 0.01 --batch-size 16 \
    --epochs 4 --threads 1 --seed 3 2>/dev/null
"$seqmodels" generate train --text Corpora/poems/poems.txt --records lines --model "$models/poems" --level char \
    --hidden-size 64 --layers 1 --dropout 0 --validation-fraction 0 --learning-rate 0.01 --batch-size 8 \
    --epochs 5 --threads 1 --seed 3 --sample-length 0 2>/dev/null

"$seqmodels" serve --tagger "$models/tagger" --classifier "$models/reviews" --generator "$models/poems" --port 0 \
    2> "$models/serve.log" &
server=$!
url=""
for _ in $(seq 1 100); do
    url=$(grep -o 'http://127.0.0.1:[0-9]*/' "$models/serve.log" | head -n 1 || true)
    [ -n "$url" ] && break
    sleep 0.1
done
[ -n "$url" ] || { cat "$models/serve.log" >&2; echo "the server did not start" >&2; exit 1; }
python3 Tools/browser_test.py --url "$url" --out "$out"
