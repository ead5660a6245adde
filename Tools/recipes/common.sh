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
