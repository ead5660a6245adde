# Shared by the recipes (sourced, not run): step headings with the time, a seconds clock, and
# the release build of seqmodels with what it runs on. Sets $seqmodels. Expects $root.
step() { echo "== $1 ($(date -u +%H:%M:%S))"; }
seconds() { date +%s; }

build_seqmodels() {
    step "build (release)"
    local t0
    t0=$(seconds)
    bash "$root/Tools/install-dependencies.sh" >/dev/null
    (cd "$root" && swift build -c release --product seqmodels 2>&1 | tail -1)
    seqmodels=$root/.build/release/seqmodels
    "$seqmodels" --version | sed -n '2,6p'
    echo "build: $(( $(seconds) - t0 )) s"
}

# The best epoch of a generator's metrics.jsonl: validation loss, perplexity, training tokens/s.
print_best_validation() {
    python3 - "$1" <<'PY'
import json, math, sys
records = [json.loads(line) for line in open(sys.argv[1])]
best = min(records, key=lambda r: r["dev_metric"])
print(f"best validation loss {best['dev_metric']:.4f} nats/token, perplexity {math.exp(best['dev_metric']):.1f} "
      f"(epoch {best['epoch']}, {best['tokens_per_second']:.0f} training tokens/s)")
PY
}

# A forward and a backward language model at once, one thread each, seed 1, MINUTES at most:
# OUTDIR/lm-forward and OUTDIR/lm-backward (logs beside them), then each one's best validation.
#   pretrain_language_models OUTDIR MINUTES [lm-pretrain flags: texts, level, sizes...]
pretrain_language_models() {
    local out=$1 minutes=$2
    shift 2
    step "pretrain the language models (forward and backward at once, one thread each, $minutes minutes at most)"
    local t0 direction pids=()
    t0=$(seconds)
    mkdir -p "$out"
    rm -rf "$out/lm-forward" "$out/lm-backward"
    for direction in forward backward; do
        "$seqmodels" lm pretrain "$@" --direction "$direction" --model "$out/lm-$direction" \
            --time-limit "$minutes" --threads 1 --seed 1 > "$out/lm-$direction.log" 2>&1 &
        pids+=($!)
    done
    wait "${pids[0]}" || { tail -n 20 "$out/lm-forward.log" >&2; exit 1; }
    wait "${pids[1]}" || { tail -n 20 "$out/lm-backward.log" >&2; exit 1; }
    for direction in forward backward; do
        echo "$direction: $(grep -E '^(stopped|finished)' "$out/lm-$direction.log" | tail -n 1)"
        print_best_validation "$out/lm-$direction/metrics.jsonl"
    done
    echo "pretrain: $(( $(seconds) - t0 )) s"
}

# A classifier recipe: trains on DIR/train.csv (a seeded 10% held out for development) with the
# defaults and TOKENIZER, 30 minutes at most on 2 threads, seed 1; writes OUTDIR/model, then
# evaluates on DIR/test.csv and on each further labelled CSV given (other domains).
#   classifier_recipe OUTDIR DIR TOKENIZER [TRANSFER_CSV...] [-- extra classify-train flags]
classifier_recipe() {
    local out=$1 data=$2 tokenizer=$3
    shift 3
    local transfers=() extra=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do transfers+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    extra=("$@")
    for file in "$data/train.csv" "$data/test.csv" "${transfers[@]}"; do
        [ -f "$file" ] || { echo "missing $file" >&2; exit 1; }
    done
    mkdir -p "$out"
    cd "$root"
    build_seqmodels

    step "train (tokenizer $tokenizer, defaults, 30 minutes at most, 2 threads, seed 1)"
    local t0
    t0=$(seconds)
    rm -rf "$out/model"
    "$seqmodels" classify train --train "$data/train.csv" --model "$out/model" --tokenizer "$tokenizer" \
        --time-limit 30 --threads 2 --seed 1 "${extra[@]}" 2> >(grep -v '^\s*$' | tail -n 30 >&2)
    echo "train: $(( $(seconds) - t0 )) s"

    step "evaluate on the test set ($data/test.csv)"
    t0=$(seconds)
    "$seqmodels" classify eval --model "$out/model" --test "$data/test.csv" --threads 2 | tee "$out/test-report.txt" | head -n 3
    tail -n 1 "$out/test-report.txt"
    echo "evaluate: $(( $(seconds) - t0 )) s"

    local file
    for file in "${transfers[@]}"; do
        step "evaluate on another domain ($file)"
        "$seqmodels" classify eval --model "$out/model" --test "$file" --threads 2 | head -n 3
    done
}
