#!/usr/bin/env bash
# Load on `seqmodels serve` (release build) from wrk on loopback, with real sentences and reviews:
#
#   1. offline baseline: `seqmodels tag text --pretokenized --threads 2` on the EWT test sentences (tokens/s);
#   2. POST /v1/tag (one EWT test sentence per request) and POST /v1/classify (one IMDB test review
#      per request) at 1, 8, 64 and 256 connections, SECONDS each: requests/s, p50/p99 latency,
#      errors, the server's RSS; tagging tokens/s through the server against the offline figure;
#   3. a soak: 64 connections on /v1/tag for SOAK seconds, the server's RSS every 10 s;
#   4. graceful shutdown under load: SIGTERM 5 s into a 64-connection run; the server must exit 0
#      and log as many requests answered as received (every request it accepted got its answer;
#      wrk's read errors are then requests sent on connections the server had closed).
#
#   TAGGER=DIR CLASSIFIER=DIR bash Tools/serve_load.sh OUTDIR [SECONDS=60] [SOAK=600]
#
# SECONDS 0 skips step 2 and SOAK 0 step 3 (the shutdown check alone: `… OUTDIR 0 0`).
#
# TAGGER and CLASSIFIER are trained model directories (Tools/recipes/ewt-tagger.sh and a
# `classify train` on IMDB make them). The corpora come from ../shared/corpora. Results go to
# OUTDIR/summary.txt (and the raw wrk lines beside it). Installs wrk when missing.
set -euo pipefail
if [ $# -lt 1 ]; then echo "usage: TAGGER=DIR CLASSIFIER=DIR $0 OUTDIR [SECONDS] [SOAK]" >&2; exit 2; fi
out=$(mkdir -p "$1" && cd "$1" && pwd)
seconds=${2:-60}
soak=${3:-600}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
: "${TAGGER:?set TAGGER to a tagger model directory}"
: "${CLASSIFIER:?set CLASSIFIER to a classifier model directory}"
shared=$root/../shared/corpora
command -v wrk >/dev/null || apt-get install -y --no-install-recommends wrk >/dev/null
swift build -c release --product seqmodels >/dev/null
seqmodels=$root/.build/release/seqmodels
summary=$out/summary.txt
: > "$summary"
say() { echo "$*" | tee -a "$summary"; }

# Request bodies: one EWT test sentence (tokens) or one IMDB test review per request.
python3 - "$shared" "$out" <<'PY'
import csv, json, sys
shared, out = sys.argv[1], sys.argv[2]
sentences, tokens = [], []
with open(f"{shared}/pos/en_ewt/en_ewt-ud-test.conllu", encoding="utf-8") as f:
    for line in f:
        line = line.rstrip("\n")
        if not line:
            if tokens: sentences.append(tokens); tokens = []
        elif not line.startswith("#"):
            cols = line.split("\t")
            if cols[0].isdigit(): tokens.append(cols[1])
with open(f"{out}/sentences.txt", "w", encoding="utf-8") as f:
    f.writelines(" ".join(s) + "\n" for s in sentences)
with open(f"{out}/tag.bodies", "w", encoding="utf-8") as f:
    f.writelines(json.dumps({"sentences": [" ".join(s)], "pretokenized": True}) + "\n" for s in sentences)
csv.field_size_limit(1 << 24)
with open(f"{shared}/sentiment/imdb/test.csv", encoding="utf-8") as src, open(f"{out}/classify.bodies", "w", encoding="utf-8") as f:
    for row in csv.DictReader(src):
        f.write(json.dumps({"texts": [row["text"]]}) + "\n")
print(f"{len(sentences)} sentences, {sum(map(len, sentences))} tokens", file=sys.stderr)
PY
sentences=$(wc -l < "$out/sentences.txt")
tokens=$(awk '{ n += NF } END { print n }' "$out/sentences.txt")
say "machine: $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) cores); $("$seqmodels" --version | head -n 1)"
say "corpora: $sentences EWT test sentences ($tokens tokens), $(wc -l < "$out/classify.bodies") IMDB test reviews"

# 1. Offline baseline (best of three).
best=0
for _ in 1 2 3; do
    start=$(date +%s.%N)
    "$seqmodels" tag text --model "$TAGGER" --pretokenized --threads 2 < "$out/sentences.txt" > /dev/null
    rate=$(python3 -c "import sys; print(f'{$tokens / ($(date +%s.%N) - $start):.0f}')")
    [ "$rate" -gt "$best" ] && best=$rate
done
offline=$best
say "offline: seqmodels tag text --threads 2: $offline tokens/s (best of 3)"

start_server() {
    "$seqmodels" serve --tagger "$TAGGER" --classifier "$CLASSIFIER" --port 0 2> "$out/serve.log" &
    server=$!
    url=""
    for _ in $(seq 1 300); do
        url=$(grep -o 'http://127.0.0.1:[0-9]*/' "$out/serve.log" | head -n 1 || true)
        [ -n "$url" ] && return 0
        sleep 0.1
    done
    echo "the server did not start" >&2; cat "$out/serve.log" >&2; exit 1
}
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }
run_wrk() {  # endpoint connections seconds
    wrk -t1 -c"$2" -d"$3"s --timeout 10s --latency -s Tools/load/post.lua "${url}v1/$1" -- "$out/$1.bodies" \
        | tee -a "$out/wrk.txt" | grep '^RESULT'
}
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

start_server
trap 'kill $server 2>/dev/null || true' EXIT
say ""
[ "$seconds" -gt 0 ] && say "endpoint     conns   req/s    p50 ms   p99 ms  errors  tokens/s  vs offline  RSS MiB"
for endpoint in tag classify; do
    [ "$seconds" -gt 0 ] || break
    for connections in 1 8 64 256; do
        result=$(run_wrk "$endpoint" "$connections" "$seconds")
        requests=$(field "$result" requests); elapsed=$(field "$result" seconds)
        errors=$(( $(field "$result" connect) + $(field "$result" read) + $(field "$result" write) + $(field "$result" status) + $(field "$result" timeout) ))
        line=$(python3 -c "
r = $requests / $elapsed
tok = r * $tokens / $sentences if '$endpoint' == 'tag' else 0
ratio = f'{tok / $offline:.2f}' if tok else '-'
print(f'{\"$endpoint\":10s} {$connections:6d} {r:8.1f} {$(field "$result" p50_ms):8.2f} {$(field "$result" p99_ms):8.2f} {$errors:7d} {tok:9.0f} {ratio:>10s} {$(rss $server) / 1024:8.1f}')")
        say "$line"
    done
done
say "peak RSS so far: $(( $(hwm $server) / 1024 )) MiB"

# 3. Soak.
if [ "$soak" -gt 0 ]; then
    say ""
    say "soak: 64 connections on /v1/tag for $soak s; RSS (MiB) every 10 s:"
    run_wrk tag 64 "$soak" > "$out/soak.result" &
    load=$!
    samples=""
    for _ in $(seq 1 $(( soak / 10 ))); do sleep 10; samples="$samples $(( $(rss $server) / 1024 ))"; done
    wait $load
    say "  $samples"
    say "  $(cat "$out/soak.result")"
fi
kill -TERM $server; wait $server || true

# 4. Graceful shutdown under load.
start_server
say ""
run_wrk tag 64 20 > "$out/shutdown.result" &
load=$!
sleep 5
kill -TERM $server
set +e; wait $server; status=$?; set -e
wait $load
result=$(cat "$out/shutdown.result")
stopped=$(grep -o 'stopped: [0-9]* requests received, [0-9]* answered' "$out/serve.log" || true)
say "graceful shutdown: SIGTERM 5 s into 64 connections; server exit status $status; server: ${stopped:-no report}"
say "  wrk: $result"
received=$(echo "$stopped" | sed -n 's/stopped: \([0-9]*\) requests received, \([0-9]*\) answered/\1/p')
answered=$(echo "$stopped" | sed -n 's/stopped: \([0-9]*\) requests received, \([0-9]*\) answered/\2/p')
if [ "$status" -ne 0 ] || [ -z "$received" ] || [ "$received" != "$answered" ] || [ "$(field "$result" timeout)" -ne 0 ]; then
    say "FAIL: an accepted request lost its answer, or the server did not exit 0"
    exit 1
fi
say "ok: all $received requests the server accepted were answered; wrk's read/write errors are requests sent after it closed their connections"
