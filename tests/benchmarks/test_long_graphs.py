"""benchmarks/long_graphs.py builds its models, runs the commands and reports rows (tiny sizes)."""

from __future__ import annotations

import json
import subprocess
import sys

from mlc.testing.models import REPO_ROOT

SCRIPT = REPO_ROOT / "benchmarks" / "long_graphs.py"


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=600)


def test_json_rows_for_small_models():
    result = run_script("--json", "--nodes", "50", "--commands", "show,plan")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(r["model"], r["command"]) for r in rows] == [
        ("matmul", "show"), ("matmul", "plan"), ("chain", "show"), ("chain", "plan")]
    for row in rows:
        assert row["nodes"] == 50 and row["rc"] == 0 and row["under_60s"] and not row["error"]
        assert row["file_bytes"] > 0 and row["seconds"] > 0


def test_unknown_command_is_refused():
    result = run_script("--commands", "fly")
    assert result.returncode == 2 and "unknown fly" in result.stderr
