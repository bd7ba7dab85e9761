"""The whole artifact path without a compiler backend: a hand-written C "model"
(y = relu(x @ W + b), W and b as const arrays, rows spread with mlc_parallel_for, x @ W kept in the
arena) is built with the runtime's build helper, written as an artifact with its manifest, loaded
with ``mlc.runtime.load`` and checked against numpy — then every way an artifact or a feed can be
wrong, each as one clear line."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from mlc.backends.toolchain.abi import ABI_VERSION
from mlc.backends.toolchain.artifact import ArtifactWriter
from mlc.backends.toolchain.cc import build_shared_library, find_c_compiler
from mlc.backends.toolchain.tools import ToolchainError
from mlc.runtime import (ArtifactError, ExecutionError, FeedError, Manifest, TensorSpec, load,
                         read_manifest)
from mlc.runtime.targets import Runner
from tests.skips import skip_outside_ci

M, K, N = 7, 16, 5
ARENA = 192  # M * N floats (140 bytes) rounded up to 64
RNG = np.random.default_rng(7)
W = RNG.standard_normal((K, N)).astype(np.float32)
B = RNG.standard_normal(N).astype(np.float32)

MODEL_C = r"""
#include "mlc_runtime.h"

#define M %(M)d
#define K %(K)d
#define N %(N)d

static const float W[K * N] = {%(W)s};
static const float B[N] = {%(B)s};

typedef struct { const float *x; float *h; float *y; float *z; } ctx_t;

static void matmul_row(void *p, int64_t i) {
    const ctx_t *c = (const ctx_t *)p;
    int n, k;
    for (n = 0; n < N; ++n) {
        float acc = 0.0f;
        for (k = 0; k < K; ++k) acc += c->x[i * K + k] * W[k * N + n];
        c->h[i * N + n] = acc;
    }
}

static void epilogue_row(void *p, int64_t i) {
    const ctx_t *c = (const ctx_t *)p;
    int n;
    for (n = 0; n < N; ++n) {
        float z = c->h[i * N + n] + B[n];
        c->z[i * N + n] = z;
        c->y[i * N + n] = z > 0.0f ? z : 0.0f;
    }
}

static const int64_t x_dims[2] = { M, K }, y_dims[2] = { M, N };
static const mlc_tensor_desc io_in[1] = { { MLC_DTYPE_FLOAT32, 2, M * K * 4, x_dims } };
static const mlc_tensor_desc io_out[2] = { { MLC_DTYPE_FLOAT32, 2, M * N * 4, y_dims },
                                           { MLC_DTYPE_FLOAT32, 2, M * N * 4, y_dims } };

MLC_EXPORT int mlc_io_count(int kind) {
    return kind == MLC_IO_INPUT ? 1 : kind == MLC_IO_OUTPUT ? 2 : -1;
}

MLC_EXPORT const mlc_tensor_desc *mlc_io_desc(int kind, int i) {
    if (kind == MLC_IO_INPUT && i == 0) return &io_in[0];
    if (kind == MLC_IO_OUTPUT && (i == 0 || i == 1)) return &io_out[i];
    return NULL;
}

MLC_EXPORT size_t mlc_arena_bytes(void) { return %(ARENA)d; }

MLC_EXPORT int mlc_run(const void *const *inputs, void *const *outputs, void *arena) {
    ctx_t c;
    int i;
    if (!inputs || !outputs || !arena || (size_t)arena %% MLC_ARENA_ALIGN != 0)
        return MLC_ERR_ARGUMENT;
    c.x = (const float *)inputs[0];
    for (i = 0; i < M * K; ++i)
        if (c.x[i] != c.x[i]) return MLC_ERR_INPUT; /* NaN: refuse before writing anything */
    c.h = (float *)arena;
    c.y = (float *)outputs[0];
    c.z = (float *)outputs[1];
    mlc_parallel_for(M, matmul_row, &c);
    mlc_parallel_for(M, epilogue_row, &c);
    return MLC_OK;
}
"""


def c_floats(values: np.ndarray) -> str:
    return ", ".join(f"{v:.9g}f" for v in values.ravel())


def manifest(**changes) -> Manifest:
    base = Manifest(model="mlp", target="c",
                    inputs=(TensorSpec("x", (M, K), "float32"),),
                    outputs=(TensorSpec("y", (M, N), "float32"),
                             TensorSpec("z", (M, N), "float32")),
                    arena_bytes=ARENA, weight_bytes=W.nbytes + B.nbytes, library="model.so",
                    abi_version=ABI_VERSION, plan="plan.json", passes=("simplify", "fuse"),
                    options={"opt_level": 2}, compile_seconds=0.5)
    return replace(base, **changes)


def write_model(out_dir, **changes):
    try:
        find_c_compiler()
    except ToolchainError as exc:
        skip_outside_ci(f"no C compiler: {exc.one_line()}")
    with ArtifactWriter(out_dir) as writer:
        source = writer.path / "model.c"
        source.write_text(MODEL_C % {"M": M, "K": K, "N": N, "W": c_floats(W), "B": c_floats(B),
                                     "ARENA": ARENA})
        build_shared_library([source], writer.path / "model.so",
                             flags=["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        (writer.path / "plan.json").write_text("{}")
        return writer.commit(manifest(**changes))


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    out = tmp_path_factory.mktemp("artifacts") / "mlp"
    write_model(out)
    return out


@pytest.fixture
def copy(artifact, tmp_path):
    """A private copy of the artifact that a test may damage."""
    return shutil.copytree(artifact, tmp_path / "copy")


def feeds(seed: int = 0) -> dict[str, np.ndarray]:
    return {"x": np.random.default_rng(seed).standard_normal((M, K)).astype(np.float32)}


def reference(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = x @ W + B
    return np.maximum(z, 0), z


def one_line(info) -> str:
    line = info.value.one_line()
    assert "\n" not in line
    return line


# -- the path that works ---------------------------------------------------------------------------

def test_manifest_round_trips_and_lists_the_files(artifact):
    m = read_manifest(artifact)
    assert m == replace(manifest(), files=("model.c", "model.so", "plan.json"),
                        mlc_version=m.mlc_version)
    assert m.mlc_version
    data = json.loads((artifact / "manifest.json").read_text())
    assert data["format"] == "mlc-artifact" and data["format_version"] == 1
    assert data["inputs"] == [{"name": "x", "shape": [M, K], "dtype": "float32"}]
    assert not [p for p in artifact.parent.iterdir() if p.name.startswith(".")]  # no stage left


@pytest.mark.parametrize("threads", [1, 2])
def test_run_matches_numpy(artifact, threads):
    exe = load(artifact, threads=threads)
    assert isinstance(exe, Runner) and exe.threads == threads
    for seed in range(3):
        f = feeds(seed)
        y, z = exe.run(f)
        want_y, want_z = reference(f["x"])
        np.testing.assert_allclose(y, want_y, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(z, want_z, rtol=1e-5, atol=1e-6)
        assert y.dtype == np.float32 and y.shape == (M, N)


def test_threads_can_change_between_runs(artifact):
    exe = load(artifact)
    assert exe.threads >= 1
    first = exe.run(feeds())[0]
    assert exe.set_threads(2) == 2
    np.testing.assert_array_equal(exe.run(feeds())[0], first)
    assert exe.set_threads(1) == 1 and exe.threads == 1
    np.testing.assert_array_equal(exe.run(feeds())[0], first)


def test_non_contiguous_feed_is_accepted(artifact):
    x = np.asfortranarray(feeds()["x"])
    y, _ = load(artifact, threads=2).run({"x": x})
    np.testing.assert_allclose(y, reference(x)[0], rtol=1e-5, atol=1e-6)


def test_benchmark_stats(artifact):
    exe = load(artifact, threads=1)
    stats = exe.benchmark(feeds(), warmup=1, repeat=5, threads=2)
    assert set(stats) == {"median_ms", "p90_ms", "min_ms", "mean_ms", "times_ms", "threads",
                          "warmup", "repeat", "timing"}
    assert stats["timing"] == "host"
    assert stats["threads"] == 2 and stats["repeat"] == 5 and len(stats["times_ms"]) == 5
    assert 0 <= stats["min_ms"] <= stats["median_ms"] <= stats["p90_ms"]
    assert exe.threads == 1  # restored after the benchmark


def test_model_error_code_becomes_a_clear_error(artifact):
    f = feeds()
    f["x"][3, 4] = np.nan
    with pytest.raises(ExecutionError) as info:
        load(artifact, threads=1).run(f)
    assert "code 2" in one_line(info) and "input value" in one_line(info)


# -- writing ---------------------------------------------------------------------------------------

def test_failed_compile_leaves_nothing_behind(tmp_path):
    out = tmp_path / "art"
    with pytest.raises(RuntimeError):
        with ArtifactWriter(out) as writer:
            (writer.path / "model.so").write_bytes(b"half")
            raise RuntimeError("compiler crashed")
    assert list(tmp_path.iterdir()) == []


def test_rewriting_replaces_an_artifact_but_never_a_foreign_folder(artifact, tmp_path):
    out = shutil.copytree(artifact, tmp_path / "art")
    with ArtifactWriter(out) as writer:
        (writer.path / "model.so").write_bytes(b"new")
        writer.commit(manifest(plan=None, arena_bytes=0))
    assert read_manifest(out).files == ("model.so",)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art"]

    foreign = tmp_path / "home"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("precious")
    with pytest.raises(ArtifactError, match="refusing to replace") as info:
        ArtifactWriter(foreign)
    one_line(info)
    assert (foreign / "notes.txt").read_text() == "precious"


def test_commit_checks_the_library_is_there(tmp_path):
    with pytest.raises(ArtifactError, match="library 'model.so' is not among") as info:
        with ArtifactWriter(tmp_path / "art") as writer:
            writer.commit(manifest(plan=None))
    one_line(info)
    assert not (tmp_path / "art").exists()


# -- reading: each mistake is one line -------------------------------------------------------------

def edit_manifest(folder, change) -> None:
    path = folder / "manifest.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_missing_directory_and_missing_manifest(tmp_path):
    with pytest.raises(ArtifactError, match="does not exist") as info:
        load(tmp_path / "nowhere")
    one_line(info)
    with pytest.raises(ArtifactError, match="has no manifest.json") as info:
        load(tmp_path)
    assert "mlc compile" in one_line(info)


def test_bad_json(copy):
    (copy / "manifest.json").write_text('{"format": "mlc-artifact",\n "model": }')
    with pytest.raises(ArtifactError, match="invalid JSON at line 2 column") as info:
        load(copy)
    one_line(info)


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_wrong_format_version(copy, version):
    edit_manifest(copy, lambda d: d.update(format_version=version))
    with pytest.raises(ArtifactError, match="format version") as info:
        load(copy)
    assert "recompile" in one_line(info)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(format="onnx"), "not an mlc artifact manifest"),
    (lambda d: d.pop("target"), "field 'target' is missing"),
    (lambda d: d.update(arena_bytes="64"), "'arena_bytes' has the wrong type"),
    (lambda d: d.update(arena_bytes=-1), "'arena_bytes' is negative"),
    (lambda d: d["inputs"][0].update(dtype="float128"), "unknown dtype 'float128'"),
    (lambda d: d["inputs"][0].update(shape=[7, -1]), "not a list of sizes"),
    (lambda d: d["files"].append("../../etc/passwd"), "not a relative path inside"),
    (lambda d: d.update(library="other.so"), "library 'other.so' is not among"),
    (lambda d: d["outputs"][1].update(name="y"), "output name 'y' appears twice"),
    (lambda d: d.update(target="rocm"), "no loader for 'rocm' artifacts"),
])
def test_malformed_manifest(copy, change, message):
    edit_manifest(copy, change)
    with pytest.raises(ArtifactError, match=message) as info:
        load(copy)
    one_line(info)


def test_missing_library(copy):
    (copy / "model.so").unlink()
    with pytest.raises(ArtifactError, match="lists 'model.so' but the file is missing") as info:
        load(copy)
    one_line(info)


def test_library_that_is_not_a_shared_object(copy):
    (copy / "model.so").write_bytes(b"\x7fELF but not really")
    with pytest.raises(ArtifactError, match="cannot load .*model.so") as info:
        load(copy)
    one_line(info)


def test_library_without_the_abi_symbols(copy):
    source = copy / "model.c"
    source.write_text('__attribute__((visibility("default"))) int mlc_run(void) { return 0; }\n')
    build_shared_library([source], copy / "model.so", with_runtime=False)
    with pytest.raises(ArtifactError, match="not an mlc model library") as info:
        load(copy)
    line = one_line(info)
    assert "mlc_abi_version, mlc_arena_bytes, mlc_num_threads" in line and "mlc_run" not in line


def test_library_and_manifest_that_disagree_on_the_arena(copy):
    edit_manifest(copy, lambda d: d.update(arena_bytes=64))
    with pytest.raises(ArtifactError, match="192-byte arena but the manifest says 64") as info:
        load(copy)
    one_line(info)


@pytest.mark.parametrize("bad, message", [
    ({"x": np.zeros((M, K), np.float64)}, "input 'x' has dtype float64, expected float32"),
    ({"x": np.zeros((K, M), np.float32)}, r"input 'x' has shape \[16, 7\], expected \[7, 16\]"),
    ({"x": np.zeros((1, M, K), np.float32)}, "has shape"),
    ({}, r"input 'x' \(float32\[7, 16\]\) is missing"),
    ({"x": np.zeros((M, K), np.float32), "w": np.zeros(1)}, "has no input named 'w'"),
    ([np.zeros((M, K), np.float32)], "feeds must be a mapping"),
])
def test_wrong_feeds(artifact, bad, message):
    exe = load(artifact, threads=1)
    with pytest.raises(FeedError, match=message) as info:
        exe.run(bad)
    one_line(info)


@pytest.mark.parametrize("threads", [0, -2, 1.5])
def test_bad_thread_count(artifact, threads):
    with pytest.raises(FeedError, match="threads must be a positive integer"):
        load(artifact, threads=threads)


def test_manifest_for_a_graph(mlp):
    m = Manifest.for_graph(mlp.graph(), "llvm", arena_bytes=64)
    assert m.model == "mlp" and m.target == "llvm" and m.arena_bytes == 64
    assert m.inputs == (TensorSpec("x", (2, 4), "float32"),)
    assert [(t.shape, t.dtype) for t in m.outputs] == [((2, 3), "float32")]
    assert m.inputs[0].nbytes == 32
    assert Manifest.from_json(m.to_json()) == m


def test_passes_must_be_strings(copy):
    edit_manifest(copy, lambda d: d.update(passes=["fuse", 3]))
    with pytest.raises(ArtifactError, match="'passes' is not a list of strings"):
        load(copy)
