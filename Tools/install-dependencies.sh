#!/usr/bin/env bash
# Installs the system packages SeqModels needs, if missing: OpenBLAS, libxml2, pkg-config, and
# GNU time, with which the tests measure a child process's own peak memory.
# On Debian/Ubuntu it uses apt-get (as root, or through sudo). Elsewhere it says what to install.
# With --pytorch it also installs the CPU build of PyTorch used by the benchmarks (optional);
# with --onnx, onnx and ONNX Runtime from PyPI, for Tools/check_onnx_export.py and the tests
# that run exported models (optional; they skip without them); with --mpi, Open MPI from Debian
# (openmpi-bin), for training and labelling with several processes under mpirun (optional; the
# data-parallel tests skip without it). The flags may be combined.
set -euo pipefail

need=()
for package in libopenblas-dev libxml2-dev pkg-config time; do
    dpkg -s "$package" >/dev/null 2>&1 || need+=("$package")
done

if ! command -v dpkg >/dev/null 2>&1; then
    echo "Not a Debian/Ubuntu system: install OpenBLAS (pkg-config name 'openblas'), libxml2 and pkg-config"
    echo "with your package manager (macOS: Accelerate is built in; brew install libxml2 pkg-config)."
elif [ ${#need[@]} -gt 0 ]; then
    echo "Installing ${need[*]} ..."
    sudo_cmd=()
    [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
    echo "Swift 6 is needed: install a toolchain from swift.org and put it on PATH." >&2
    exit 1
fi

for flag in "$@"; do
    case "$flag" in
    --pytorch)
        if ! python3 -c "import torch, safetensors" >/dev/null 2>&1; then
            echo "Installing the CPU build of PyTorch (for side-by-side benchmarks) ..."
            python3 -m pip install -q "torch==2.13.0+cpu" safetensors \
                || echo "PyTorch could not be installed; benchmarks will print SeqModels figures only."
        fi
        ;;
    --onnx)
        if ! python3 -c "import onnx, onnxruntime, numpy" >/dev/null 2>&1; then
            echo "Installing onnx and ONNX Runtime (to check exported models) ..."
            python3 -m pip install -q "onnx==1.23.2" "onnxruntime==1.32.0" numpy \
                || echo "onnx/onnxruntime could not be installed; the ONNX Runtime checks will skip."
        fi
        ;;
    --mpi)
        # seqmodels loads libmpi.so.40 when mpirun starts it: the runtime and launcher suffice.
        if ! command -v mpirun >/dev/null 2>&1 || ! ldconfig -p 2>/dev/null | grep -q "libmpi.so.40 "; then
            if command -v dpkg >/dev/null 2>&1; then
                echo "Installing Open MPI (for mpirun) ..."
                sudo_cmd=()
                [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
                "${sudo_cmd[@]}" apt-get update -qq
                DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq openmpi-bin >/dev/null
            else
                echo "Install Open MPI 3.0 or later with your package manager (macOS: brew install open-mpi)."
            fi
        fi
        ;;
    *)
        echo "unknown option $flag (known: --pytorch, --onnx, --mpi)" >&2
        exit 2
        ;;
    esac
done
