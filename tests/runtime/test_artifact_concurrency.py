"""Two processes committing an artifact into the same folder at once (two ``mlc compile -o DIR``
in parallel builds): neither fails, no ``.old-*`` or stage folder is left beside DIR, and DIR ends
as one of the two complete artifacts, never a mix."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from mlc.backends.toolchain.artifact import ArtifactWriter, Manifest, TensorSpec, read_manifest

WRITERS = 3
ROUNDS = 40
FILES = 20


def write_artifact(out_dir: str, writer: int, start, errors) -> None:
    """Stage FILES files that name ``writer``, wait for the others, then commit together."""
    try:
        for _ in range(ROUNDS):
            with ArtifactWriter(out_dir) as w:
                for k in range(FILES):
                    (w.path / f"part{k}.txt").write_text(f"writer {writer}\n")
                start.wait(timeout=30)
                w.commit(Manifest(model=f"m{writer}", target="toy",
                                  inputs=(TensorSpec("x", (1,), "float32"),),
                                  outputs=(TensorSpec("y", (1,), "float32"),)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as text
        start.abort()  # the others stop waiting for this one
        errors.put(f"writer {writer}: {type(exc).__name__}: {exc}")


def test_concurrent_commits_into_one_folder(tmp_path):
    out = tmp_path / "artifact"
    ctx = multiprocessing.get_context("fork")
    start, errors = ctx.Barrier(WRITERS), ctx.Queue()
    workers = [ctx.Process(target=write_artifact, args=(str(out), i, start, errors))
               for i in range(WRITERS)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=120)
    problems = [errors.get() for _ in range(errors.qsize())] if not errors.empty() else []
    assert not problems, problems
    assert all(p.exitcode == 0 for p in workers)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artifact"]
    assert_one_complete_artifact(out)


def assert_one_complete_artifact(out: Path) -> None:
    manifest = read_manifest(out)
    writer = manifest.model.removeprefix("m")
    assert len(manifest.files) == FILES
    assert {(out / f).read_text() for f in manifest.files} == {f"writer {writer}\n"}
    assert sorted(p.name for p in out.iterdir()) == sorted([*manifest.files, "manifest.json"])
