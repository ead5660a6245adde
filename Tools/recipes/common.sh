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
