"""Counting a cuda artifact's GPU kernels against the fused graph it was compiled from.

The count is read from the artifact's own files, not from what the compiler says about them:
``kernels.cu`` (the CUDA source TVM generated) is parsed for its ``__global__`` functions, the
manifest maps groups to PrimFuncs, and ``kernels.fatbin`` (nvcc's ahead-of-time build) must
define the same kernels — checked with ``cuobjdump`` where the CUDA toolkit has it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from mlc.backends.tvm.relax_module import VIEW_OPS
from mlc.ir import Graph

_GLOBAL = re.compile(r'extern "C" __global__ void(?: __launch_bounds__\(\d+\))? (\w+)\(')


def assert_one_kernel_per_group(artifact, graph: Graph) -> None:
    """Every compute node of ``graph`` (optimised, as compiled) is one group calling one PrimFunc
    that is exactly one GPU kernel; views (a lone reshape) have none."""
    folder = Path(artifact)
    manifest = json.loads((folder / "manifest.json").read_text())
    groups = manifest["options"]["groups"]
    assert len(groups) == len(graph.nodes)
    source = (folder / "kernels.cu").read_text()
    defined = set(_GLOBAL.findall(source))
    for group, node in zip(groups, graph.nodes):
        members = [n.op for n in node.body.nodes] if node.body is not None else [node.op]
        assert group["ops"] == members
        if node.body is None and node.op in VIEW_OPS:
            assert group["primfunc"] is None
            continue
        mine = sorted(k for k in defined
                      if re.fullmatch(re.escape(group["primfunc"]) + r"_kernel(_\d+)?", k))
        assert mine == [f"{group['primfunc']}_kernel"], (group, mine)
    used = {g["primfunc"] for g in groups if g["primfunc"]}
    assert defined == {f"{p}_kernel" for p in used}  # no kernel that no group calls
    assert manifest["options"]["gpu_kernels"] == len(defined)
    cuobjdump = shutil.which("cuobjdump")
    if cuobjdump:
        listing = subprocess.run([cuobjdump, "--list-elf", "--dump-elf-symbols",
                                  str(folder / "kernels.fatbin")], capture_output=True, text=True)
        assert listing.returncode == 0, listing.stderr
        for name in defined:
            assert name in listing.stdout
