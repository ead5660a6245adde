#!/usr/bin/env bash
# The main job of the README: installs what is missing, builds in release, and runs the
# LSTM benchmark next to PyTorch (SeqModels alone when PyTorch cannot be installed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash Tools/install-dependencies.sh --pytorch
swift build -c release
bin=.build/release/seqmodels
"$bin" bench lstm --threads 1 2 --rounds 3
