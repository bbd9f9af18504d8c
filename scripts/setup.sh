#!/usr/bin/env bash
# Install archlab (editable, with its test tools, the deployment runtimes the tests run and optuna-dashboard) into the
# current Python environment.
#
# torch: kept as it is when already installed (a CUDA build stays a CUDA build). With no torch:
# on a machine with an NVIDIA GPU, pip's default torch (CUDA) is installed; without one, the CPU
# build torch==2.13.0. Set ARCHLAB_TORCH_INDEX to an index URL that serves CPU wheels (for
# example PyTorch's own CPU index) where pip's default index only has CUDA builds.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

if "$PY" -c "import torch" 2>/dev/null; then
    echo "setup: keeping the installed torch $("$PY" -c 'import torch; print(torch.__version__)')"
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "setup: no torch, GPU present: installing pip's default (CUDA) torch"
    "$PY" -m pip install --quiet torch
else
    echo "setup: no torch, no GPU: installing the CPU build torch==2.13.0"
    "$PY" -m pip install --quiet torch==2.13.0 ${ARCHLAB_TORCH_INDEX:+--index-url "$ARCHLAB_TORCH_INDEX"}
fi
"$PY" -m pip install --quiet -e ".[test,deploy,dashboard]"
echo "setup: archlab $("$PY" -c 'import archlab; print(archlab.__version__)') installed for $("$PY" --version)"
