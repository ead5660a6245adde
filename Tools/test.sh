#!/usr/bin/env bash
# The test command of the README: installs what is missing, then runs every test (debug build).
# Tests that read the real corpora in ../shared skip with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Tools/install-dependencies.sh
swift test "$@"
