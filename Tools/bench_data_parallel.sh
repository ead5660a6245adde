#!/usr/bin/env bash
# Data parallelism on this machine: the EWT tagger, the IMDB classifier and the tinyshakespeare
# generator trained with the same global batch, seed and epochs by one process on 2 threads and
# by 2 processes (mpirun) on 1 thread each; prints each run's seconds per epoch, training
# tokens/s, best dev metric and test accuracy, and the ratio. Then, from the 2-process runs,
# the bytes each step sums and the compute of one step on one core, and the efficiency the
# ring all-reduce cost model predicts at 4, 16 and 64 processes on 10 and 100 Gbit/s networks,
# with the --accumulate setting that keeps it above 80% (the README's projection).
# Needs ../shared (or EWT_DIR, IMDB_DIR, SHAKESPEARE) and Open MPI.
#
#   bash Tools/bench_data_parallel.sh OUTDIR [TAGGER_EPOCHS (default 6)] [CLASSIFIER_EPOCHS (default 3)]
#   REPORT_ONLY=1 bash Tools/bench_data_parallel.sh OUTDIR     # print the report of the runs in OUTDIR again
set -euo pipefail
if [ $# -lt 1 ]; then echo "usage: $0 OUTDIR [TAGGER_EPOCHS] [CLASSIFIER_EPOCHS]" >&2; exit 2; fi
out=$1
tagger_epochs=${2:-6}
classifier_epochs=${3:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
ewt=${EWT_DIR:-$root/../shared/corpora/pos/en_ewt}
imdb=${IMDB_DIR:-$root/../shared/corpora/sentiment/imdb}
text=${SHAKESPEARE:-$root/../shared/corpora/generation/tinyshakespeare.txt}
for file in "$ewt/en_ewt-ud-train.xml" "$imdb/train.csv" "$text"; do [ -f "$file" ] || { echo "missing $file (set EWT_DIR / IMDB_DIR / SHAKESPEARE)" >&2; exit 1; }; done
mkdir -p "$out"
cd "$root"
source "$root/Tools/recipes/common.sh"
if [ -z "${REPORT_ONLY:-}" ]; then
bash Tools/install-dependencies.sh --mpi >/dev/null
build_seqmodels
mpirun=(mpirun --allow-run-as-root -np 2 --bind-to core)

# run NAME PROCESSES THREADS -- seqmodels arguments (the model directory is OUTDIR/NAME)
run() {
    local name=$1 processes=$2 threads=$3
    shift 4
    step "$name: $processes process(es) × $threads thread(s)"
    rm -rf "${out:?}/$name"
    local launcher=()
    [ "$processes" -gt 1 ] && launcher=("${mpirun[@]}")
    local t0
    t0=$(seconds)
    "${launcher[@]}" "$seqmodels" "$@" --model "$out/$name" --threads "$threads" --seed 1 > "$out/$name.log" 2>&1 \
        || { tail -n 20 "$out/$name.log" >&2; exit 1; }
    echo "$name: $(( $(seconds) - t0 )) s in all"
}

tag=(tag train --train "$ewt/en_ewt-ud-train.xml" --dev "$ewt/en_ewt-ud-dev.xml" --epochs "$tagger_epochs" --patience 1000)
run tagger-1x2 1 2 -- "${tag[@]}"
run tagger-2x1 2 1 -- "${tag[@]}"
classify=(classify train --train "$imdb/train.csv" --tokenizer words --epochs "$classifier_epochs" --patience 1000)
run classifier-1x2 1 2 -- "${classify[@]}"
run classifier-2x1 2 1 -- "${classify[@]}"
generate=(generate train --text "$text" --epochs 2 --sample-length 0)
run generator-1x2 1 2 -- "${generate[@]}"
run generator-2x1 2 1 -- "${generate[@]}"

step "test sets"
for name in tagger-1x2 tagger-2x1; do
    "$seqmodels" tag eval --model "$out/$name" --test "$ewt/en_ewt-ud-test.xml" --threads 2 --json > "$out/$name-test.json"
done
for name in classifier-1x2 classifier-2x1; do
    "$seqmodels" classify eval --model "$out/$name" --test "$imdb/test.csv" --threads 2 --json > "$out/$name-test.json"
done
fi

python3 - "$out" <<'PY'
import json, math, os, re, sys
out = sys.argv[1]
def load(name, test=True):
    epochs = [json.loads(line) for line in open(os.path.join(out, name, "metrics.jsonl"))]
    higher = epochs[0]["higher_is_better"]
    best = (max if higher else min)(epochs, key=lambda r: r["dev_metric"])
    accuracy = json.load(open(os.path.join(out, name + "-test.json")))["accuracy"] if test else None
    seconds = sum(r["seconds"] for r in epochs) / len(epochs)
    steps = sum(r["batches"] for r in epochs) / len(epochs)
    # Training alone (the epoch's seconds include the dev evaluation).
    train_seconds = sum(r["tokens"] / r["tokens_per_second"] for r in epochs) / len(epochs)
    tokens = sum(r["tokens_per_second"] for r in epochs) / len(epochs)
    return dict(seconds=seconds, train_seconds=train_seconds, steps=steps, tokens=tokens, dev=best["dev_metric"],
                higher=higher, test=accuracy)
def fmt(value, higher):
    return f"{100 * value:.2f}%" if higher else f"{value:.4f}"
print(f"{'run':<16}{'s/epoch':>9}{'steps/epoch':>13}{'train tok/s':>13}{'best dev':>10}{'test':>9}")
measured = {}
for head in ("tagger", "classifier", "generator"):
    rows = {}
    for layout in ("1x2", "2x1"):
        name = f"{head}-{layout}"
        r = rows[layout] = load(name, test=head != "generator")
        test = fmt(r["test"], True) if r["test"] is not None else "-"
        print(f"{name:<16}{r['seconds']:>9.1f}{r['steps']:>13.0f}{r['tokens']:>13,.0f}{fmt(r['dev'], r['higher']):>10}{test:>9}")
    log = open(os.path.join(out, f"{head}-2x1.log")).read()
    m = re.search(r"summed ([0-9.]+) MB in each of ([0-9]+) steps, ([0-9.]+) ms per sum", log)
    step_ms = 1000 * rows["2x1"]["train_seconds"] / rows["2x1"]["steps"]
    megabytes, sum_ms = float(m.group(1)), float(m.group(3))
    measured[head] = (megabytes * 1e6, (step_ms - sum_ms) / 1000)
    print(f"{head}: 2 processes × 1 thread train {rows['1x2']['seconds'] / rows['2x1']['seconds']:.2f}× as fast as "
          f"1 process × 2 threads (epoch time); a training step: {step_ms:.1f} ms, of which {sum_ms:.2f} ms summing {megabytes:.1f} MB")
print()
print("Projection (ring all-reduce: 2(N-1)/N x bytes / bandwidth + 2(N-1) x 50 us; each process computing a")
print("share of the size measured here, on one core; efficiency = compute / (compute + all-reduce);")
print("k = the smallest --accumulate that keeps it at 80% or more):")
layouts = [(n, g) for g in (10, 100) for n in (4, 16, 64)]
print(f"{'head':<12}{'MB/step':>8}{'ms/step':>8}" + "".join(f"{f'{n} x {g}G':>16}" for n, g in layouts))
for head, (size, compute) in measured.items():
    cells = ""
    for n, g in layouts:
        allreduce = 2 * (n - 1) / n * size / (g * 1e9 / 8) + 2 * (n - 1) * 50e-6
        k = max(1, math.ceil(4 * allreduce / compute))
        cells += f"{f'{100 * compute / (compute + allreduce):.0f}% (k={k}: {100 * k * compute / (k * compute + allreduce):.0f}%)':>16}"
    print(f"{head:<12}{size / 1e6:>8.1f}{1000 * compute:>8.1f}{cells}")
PY
