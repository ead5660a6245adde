#!/usr/bin/env bash
# Coverage-guided fuzzing of SeqModels' parsers with libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer (C code): builds seqmodels-fuzz (Sources/FuzzTargets) in its own
# build folder, then runs one target, or all of them one after another, for SECONDS each.
#
#   bash Tools/fuzz.sh TARGET|all SECONDS [extra libFuzzer flags]
#   bash Tools/fuzz.sh --list
#
# The corpus each target grows is kept in .build-fuzz/corpus/TARGET (so a longer run goes on
# from a shorter one), starting from the committed seeds (Tests/Fuzz/seeds/TARGET), the seeds
# the target makes itself (its tiny models' files) and the inputs that once found bugs
# (Tests/Fuzz/findings/TARGET). Findings (crashes, hangs over 10 s, sanitizer reports, runs
# over 2 GB) are written to .build-fuzz/findings/TARGET/; leak detection is off (the Swift
# runtime's caches live until the process ends). At the end a table gives, per target,
# the executions per second, the coverage (edges) reached and the findings; the status is 1 when
# anything was found.
#
# Environment: FUZZ_DIR (default .build-fuzz) holds the build, corpora and findings;
# FUZZ_JOBS (default 1) runs that many fuzzing processes per target at once.
# A long run, as the issue asks: bash Tools/fuzz.sh all 1800
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
fuzz_dir=${FUZZ_DIR:-$root/.build-fuzz}
jobs=${FUZZ_JOBS:-1}

build() {
    bash "$root/Tools/install-dependencies.sh" >/dev/null
    echo "== build seqmodels-fuzz (release, libFuzzer + AddressSanitizer; C code also UndefinedBehaviorSanitizer)" >&2
    local t0=$SECONDS
    swift build -c release --product seqmodels-fuzz --scratch-path "$fuzz_dir/build" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -DSEQMODELS_FUZZING -Xswiftc -use-ld=lld \
        -Xcc -fsanitize=fuzzer-no-link,address,undefined -Xcc -fno-sanitize-recover=undefined 2>&1 | grep -E "error|warning: unre|Compiling|Build" | grep -v "^\[" >&2 || true
    binary=$fuzz_dir/build/release/seqmodels-fuzz
    [ -x "$binary" ] || { echo "fuzz.sh: the build failed" >&2; exit 1; }
    echo "build: $(( SECONDS - t0 )) s" >&2
}

dictionary_for() {
    case $1 in
        csv) echo csv ;;
        xml-sentences|xml-texts) echo xml ;;
        conllu) echo conllu ;;
        safetensors|model-directory|resume-state) echo json ;;
        *) echo "" ;;
    esac
}

if [ "${1:-}" = "--list" ]; then
    build
    (SEQMODELS_FUZZ_TARGET=none "$binary" 2>&1 || true) | sed -n 's/.*one of: \(.*\) (got.*/\1/p'
    exit 0
fi
if [ $# -lt 2 ]; then echo "usage: $0 TARGET|all SECONDS [libFuzzer flags]   ($0 --list names the targets)" >&2; exit 2; fi
which=$1
seconds=$2
shift 2

build
all_targets=$( (SEQMODELS_FUZZ_TARGET=none "$binary" 2>&1 || true) | sed -n 's/.*one of: \(.*\) (got.*/\1/p' | tr -d ',')
if [ "$which" = all ]; then chosen=$all_targets; else chosen=$which; fi
for target in $chosen; do
    case " $all_targets " in *" $target "*) ;; *) echo "fuzz.sh: no target '$target'; the targets are: $all_targets" >&2; exit 2 ;; esac
done

scratch=$(mktemp -d /dev/shm/seqmodels-fuzz.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$scratch"' EXIT
report=$fuzz_dir/report.txt
: > "$report"
status=0
for target in $chosen; do
    corpus=$fuzz_dir/corpus/$target
    findings=$fuzz_dir/findings/$target
    mkdir -p "$corpus" "$findings" "$scratch/$target"
    # Seeds: committed, made by the target, past findings (libFuzzer merges them into the corpus).
    seeds=()
    for folder in "$root/Tests/Fuzz/seeds/$target" "$root/Tests/Fuzz/findings/$target"; do
        [ -d "$folder" ] && seeds+=("$folder")
    done
    generated=$scratch/$target/generated
    mkdir -p "$generated"
    SEQMODELS_FUZZ_TARGET=$target SEQMODELS_FUZZ_SEED_OUTPUT=$generated TMPDIR=$scratch/$target \
        ASAN_OPTIONS=detect_leaks=0 "$binary" -runs=0 -artifact_prefix="$scratch/$target/" "$generated" >/dev/null 2>&1 || true
    [ -n "$(ls -A "$generated")" ] && seeds+=("$generated")
    dict=$(dictionary_for "$target")
    flags=()
    [ -n "$dict" ] && flags+=(-dict="$root/Tests/Fuzz/dictionaries/$dict.dict")
    [ "$jobs" -gt 1 ] && flags+=(-jobs="$jobs" -workers="$jobs")
    log=$fuzz_dir/$target.log
    echo "== fuzz $target for $seconds s ($jobs job(s)); log $log" >&2
    before=$(ls "$findings" | wc -l)
    set +e
    SEQMODELS_FUZZ_TARGET=$target TMPDIR=$scratch/$target ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix="$findings/" -print_final_stats=1 "${flags[@]}" "$@" \
        "$corpus" "${seeds[@]}" > "$log" 2>&1
    code=$?
    set -e
    if [ "$jobs" -gt 1 ]; then cat fuzz-*.log >> "$log" 2>/dev/null || true; rm -f fuzz-*.log; fi
    after=$(ls "$findings" | wc -l)
    execs=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | awk '{s += $2} END {print s + 0}')
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s += $2} END {print s + 0}')
    edges=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    found=$(( after - before ))
    printf '%-16s %8s s %10s runs %8s exec/s %7s edges %3s findings\n' "$target" "$seconds" "$runs" "$execs" "${edges:-?}" "$found" \
        | tee -a "$report"
    if [ "$found" -gt 0 ] || { [ "$code" -ne 0 ] && ! grep -q "Done [0-9]* runs" "$log"; }; then
        status=1
        echo "   findings in $findings; the log's end:" >&2
        grep -E "ERROR|SUMMARY|Fatal error|fatal error|==[0-9]+==|artifact" "$log" | head -8 >&2 || tail -20 "$log" >&2
    fi
done
echo "== report ($report)" >&2
cat "$report"
exit $status
