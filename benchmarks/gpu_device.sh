#!/usr/bin/env bash
# The whole GPU check of the TVM backend, in one prepared pair of device calls.
#
# The GPU machine (see ../shared/NOTES.md) has CUDA, PyTorch, numpy and onnxruntime but no TVM,
# and one device call carries at most 64 MiB while TVM's wheel is ~100 MB. So:
#
#   here:          bash benchmarks/gpu_device.sh prepare [MODELS]
#                    builds every model's mlc-cuda and TVM-ONNX artifacts (kernels compiled ahead
#                    of time by nvcc), the feeds and onnxruntime's outputs (benchmarks/gpu.py
#                    --build), an mlc wheel, and splits TVM into two bundles: .gpu1 (the first
#                    40 MiB of TVM's compiler library, xz -9) and .gpu2 (the rest of it, the rest
#                    of TVM, tvm-ffi, ml_dtypes, mlc, the artifacts), each well under 64 MiB with
#                    the checkout.
#   device call 1: bash benchmarks/gpu_device.sh stage1          (carry: [".gpu1"])
#                    leaves the first part in /tmp/mlc-gpu.
#   device call 2: bash benchmarks/gpu_device.sh stage2          (carry: [".gpu2"]), at once,
#                    while the machine is still warm (it goes back after 30 s idle)
#                    installs the rest, prints nvidia-smi's card name, runs benchmarks/gpu.py
#                    --artifacts (mlc vs TVM's ONNX path vs PyTorch eager, outputs checked against
#                    onnxruntime's at rtol 1e-4, atol 1e-5 — what `mlc compare --targets ort,cuda`
#                    checks) and writes $OUT/gpu.json and $OUT/gpu.txt.
#
# stage2 finishes in a few minutes for the default models; each stage prints what it did.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SITE=/tmp/mlc-gpu
PY_VERSION=3.12  # the GPU machine's python3
SPLIT_BYTES=$((40 * 1024 * 1024))

prepare() {
    cd "$ROOT"
    local py="${PYTHON:-.venv/bin/python}"
    rm -rf .gpu1 .gpu2 && mkdir -p .gpu1 .gpu2  # both ignored by .gitignore: carried, not committed
    local work
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' RETURN
    echo "building artifacts"
    "$py" benchmarks/gpu.py --build "$work/artifacts" --target cuda ${1:+--models "$1"}
    tar -C "$work" -cJf .gpu2/artifacts.tar.xz artifacts
    echo "fetching TVM and tvm-ffi for cp${PY_VERSION/./} and building the mlc wheel"
    # TVM and what it imports that the GPU machine may lack, at the versions tested here
    local pins
    pins="$("$py" -c 'import importlib.metadata as m
print(" ".join(f"{p}=={m.version(p)}" for p in
      ("apache-tvm", "apache-tvm-ffi", "ml_dtypes", "typing_extensions")))')"
    # shellcheck disable=SC2086
    "$py" -m pip download -q --no-deps --only-binary=:all: --python-version "$PY_VERSION" \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$work/wheels" $pins
    "$py" -m pip wheel -q --no-deps -w "$work/wheels" .
    mkdir -p "$work/tvm"
    (cd "$work/tvm" && unzip -q "$work"/wheels/apache_tvm-*.whl)
    local compiler
    compiler="$(cd "$work/tvm" && find . -name libtvm_compiler.so | head -1)"
    echo "$compiler" > .gpu2/compiler-path
    # ~57 MiB compressed: split so that neither call, with the checkout, nears 64 MiB
    xz -9 -T0 -c "$work/tvm/$compiler" > "$work/compiler.xz"
    head -c "$SPLIT_BYTES" "$work/compiler.xz" > .gpu1/compiler.xz.1
    tail -c +"$((SPLIT_BYTES + 1))" "$work/compiler.xz" > .gpu2/compiler.xz.2
    rm "$work/tvm/$compiler"
    tar -C "$work/tvm" -czf .gpu2/tvm-rest.tar.gz .
    cp "$work"/wheels/apache_tvm_ffi-*.whl "$work"/wheels/ml_dtypes-*.whl \
        "$work"/wheels/typing_extensions-*.whl "$work"/wheels/mlc-*.whl .gpu2/
    du -sh .gpu1 .gpu2
}

stage1() {
    cd "$ROOT"
    mkdir -p "$SITE"
    cp .gpu1/compiler.xz.1 "$SITE/"
    ls -la "$SITE"
}

stage2() {
    cd "$ROOT"
    test -d "$SITE" || { echo "stage1 did not run on this machine (no $SITE)"; exit 1; }
    tar -C "$SITE" -xzf .gpu2/tvm-rest.tar.gz
    local compiler
    compiler="$(cat .gpu2/compiler-path)"
    cat "$SITE/compiler.xz.1" .gpu2/compiler.xz.2 | xz -dc > "$SITE/$compiler"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$SITE" .gpu2/*.whl
    mkdir -p /tmp/mlc-gpu-artifacts
    tar -C /tmp/mlc-gpu-artifacts -xJf .gpu2/artifacts.tar.xz
    export PYTHONPATH="$SITE" LD_LIBRARY_PATH="/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
    export PYTHONUNBUFFERED=1
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    local out="${OUT:-/tmp}"
    cd /tmp  # import mlc from the installed wheel, not the checkout
    python3 "$ROOT/benchmarks/gpu.py" --artifacts /tmp/mlc-gpu-artifacts/artifacts --json \
        > "$out/gpu.json"
    python3 - "$out/gpu.json" > "$out/gpu.txt" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
print(doc["device"])
for r in doc["models"]:
    s = r["systems"]
    cells = [f"{k}={s[k]['median_ms']} ms" if s[k]["error"] is None else f"{k}={s[k]['error']}"
             for k in ("mlc", "tvm", "torch")]
    print(r["model"], *cells, f"agree={s['mlc']['agrees']}", f"mlc/tvm={r['mlc_vs_tvm']}",
          f"mlc/torch={r['mlc_vs_torch']}")
print(json.dumps(doc["summary"]))
EOF
    cat "$out/gpu.txt"
}

case "${1:-}" in
    prepare) prepare "${2:-}" ;;
    stage1) stage1 ;;
    stage2) stage2 ;;
    *) echo "usage: $0 prepare [MODELS] | stage1 | stage2" >&2; exit 2 ;;
esac
