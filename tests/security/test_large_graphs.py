"""Huge graphs from small files: verification, -O2 and memory planning stay linear (issue 14.5).

A 1.4 MB ONNX file can hold 50 000 MatMuls sharing one weight, or a 50 000-node chain; a
quadratic verifier or planner turns such a file into a hang. Each case runs in a subprocess under
a timeout and an address-space limit, so a regression fails the test instead of stalling the
suite or eating the machine; the cases assert results (the timeouts are far above the linear
code's seconds and far below the quadratic code's minutes). Speed itself is measured by
benchmarks/long_graphs.py, not here.

Run one case by hand with ``python tests/security/test_large_graphs.py CASE``.
"""

from __future__ import annotations

import importlib.util
import json
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve()
REPO = HERE.parents[2]
TIMEOUT_S = 120  # the quadratic code needed about 12 min for the 50 000-MatMul verify
MEMORY_CAP = 4 << 30  # bytes of address space for one case


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run_isolated(args: list[str]) -> subprocess.CompletedProcess:
    """Run ``args`` with the memory cap; a hang past TIMEOUT_S fails the calling test."""
    try:
        return subprocess.run(args, capture_output=True, text=True, cwd=REPO, timeout=TIMEOUT_S,
                              preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(args[-3:])} ran past {TIMEOUT_S} s (quadratic again?)")


def run_case(name: str) -> dict:
    """Run CASES[name] in a fresh interpreter and return the JSON it printed."""
    result = run_isolated([sys.executable, str(HERE), name])
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- graphs --------------------------------------------------------------------------------------
def shared_weight_matmuls(n: int):
    """x -> MatMul(., w) -> MatMul(., w) ... n times: the one weight has n uses."""
    from mlc.ir import GraphBuilder

    b = GraphBuilder("shared")
    v = b.input("x", (1, 4))
    w = b.const(np.eye(4, dtype=np.float32), name="w")
    for _ in range(n):
        v = b.matmul(v, w)
    b.outputs(v)
    return b.graph, w


def relu_add_chain(n: int):
    """x -> relu -> add(., b) -> relu ...: n nodes, each output read once by the next."""
    from mlc.ir import GraphBuilder

    b = GraphBuilder("chain")
    v = b.input("x", (1, 4))
    bias = b.const(np.ones((1, 4), np.float32), name="b")
    for i in range(n):
        v = b.add(v, bias) if i % 2 else b.relu(v)
    b.outputs(v)
    return b.graph


def _benchmark_models():
    """benchmarks/long_graphs.py, whose build_model writes the same long graphs it times."""
    spec = importlib.util.spec_from_file_location("long_graphs",
                                                  REPO / "benchmarks" / "long_graphs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- cases (each runs in its own interpreter, prints one JSON line) ------------------------------
def case_verify_shared_weight() -> dict:
    from mlc.ir import verify

    graph, w = shared_weight_matmuls(50_000)
    verify(graph)
    return {"nodes": len(graph.nodes), "weight_uses": len(w.uses)}


def case_verify_missing_use() -> dict:
    """One use dropped from the middle of a 50 000-long use-list is still found, at its node."""
    from mlc.errors import VerifyError
    from mlc.ir import verify

    graph, w = shared_weight_matmuls(50_000)
    victim = w._uses.pop(25_000)
    try:
        verify(graph)
    except VerifyError as err:
        return {"error": err.message, "victim": victim.node.outputs[0].name}
    return {"error": None}


def case_verify_duplicated_use() -> dict:
    """A use listed twice (a later removal would leave a stale entry) is a broken use-list."""
    from mlc.errors import VerifyError
    from mlc.ir import verify

    graph, w = shared_weight_matmuls(50_000)
    w._uses.append(w._uses[30_000])
    try:
        verify(graph)
    except VerifyError as err:
        return {"error": err.message}
    return {"error": None}


def case_o2_shared_weight() -> dict:
    """-O2 (verifying after every pass) on 5 000 MatMuls sharing one weight: 64 s before."""
    from mlc.passes import PassManager, parse_pipeline

    graph, _ = shared_weight_matmuls(5_000)
    PassManager(parse_pipeline("O2")).run(graph)
    return {"nodes": len(graph.nodes), "ops": sorted({n.op for n in graph.nodes})}


def case_plan_chain() -> dict:
    """A 20 000-node chain planned without in-place reuse: 91 s before."""
    from mlc.memory import plan_memory, validate_plan

    graph = relu_add_chain(20_000)
    plan = plan_memory(graph, inplace=False)
    validate_plan(plan)
    return {"arena": plan.arena, "lower_bound": plan.lower_bound, "tensors": len(plan.tensors),
            "strategies": plan.strategies, "steps": len(plan.order)}


def case_plan_chain_inplace() -> dict:
    from mlc.memory import plan_memory, validate_plan

    graph = relu_add_chain(20_000)
    plan = plan_memory(graph)
    validate_plan(plan)
    return {"arena": plan.arena, "buffers": len(plan.tensors),
            "offsets": len(plan.value_offsets)}


CASES = {name[len("case_"):]: fn for name, fn in globals().items() if name.startswith("case_")}


# -- tests ---------------------------------------------------------------------------------------
def test_verify_accepts_50000_matmuls_sharing_one_weight():
    assert run_case("verify_shared_weight") == {"nodes": 50_000, "weight_uses": 50_000}


def test_verify_finds_a_missing_use_in_a_50000_long_use_list():
    found = run_case("verify_missing_use")
    assert found["error"] is not None
    assert "use of @w is missing from its use-list" in found["error"]
    assert f"%{found['victim']} = matmul" in found["error"]


def test_verify_finds_a_use_listed_twice():
    found = run_case("verify_duplicated_use")
    assert found["error"] is not None and "@w lists" in found["error"]


def test_o2_on_5000_matmuls_sharing_one_weight():
    result = run_case("o2_shared_weight")
    assert result["nodes"] >= 1 and result["ops"]


def test_plan_20000_node_chain_without_inplace_reaches_the_bound():
    result = run_case("plan_chain")
    # the last value is the graph output (outside the arena); each step holds its input and output
    assert result["tensors"] == 19_999 and result["steps"] == 20_000
    assert result["lower_bound"] == 2 * 64
    assert result["arena"] == result["lower_bound"]
    assert result["strategies"]["greedy-breadth"] == 2 * 64


def test_plan_20000_node_chain_in_place_needs_one_buffer():
    result = run_case("plan_chain_inplace")
    assert result == {"arena": 64, "buffers": 1, "offsets": 19_999}


@pytest.mark.slow  # 6-11 s each: a 50 000-node import in a fresh interpreter
@pytest.mark.parametrize("command", [["show"], ["plan", "--no-inplace", "--json"]])
def test_cli_on_a_50000_matmul_file(tmp_path, command):
    model = tmp_path / "shared.onnx"
    _benchmark_models().build_model("matmul", 50_000, model)
    assert model.stat().st_size < 2_000_000  # the whole attack fits in a small file
    mlc = Path(sys.executable).with_name("mlc")
    result = run_isolated([str(mlc), command[0], str(model), *command[1:]])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    if command[0] == "show":
        assert result.stdout.count("matmul(") == 50_000
    else:
        assert json.loads(result.stdout)["arena"] == 2 * 64


if __name__ == "__main__":
    print(json.dumps(CASES[sys.argv[1]]()))
