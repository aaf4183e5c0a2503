"""`init` places an input artifact where a runtime pre-created main's subPath mount point.

podman's ``kube play`` needs the source of every mount when it creates the pod, so the podman
runtime makes main's ``subPath`` mount of an input artifact (a directory in the
``input-artifacts`` volume) before init runs; the kubelet makes it only when main starts.
"""

from __future__ import annotations

from pathlib import Path

from argoexec.executor.init import _drop_placeholder


def test_an_empty_directory_where_the_artifact_goes_is_removed(tmp_path: Path) -> None:
    target = tmp_path / "message"
    target.mkdir()
    _drop_placeholder(target)
    assert not target.exists()


def test_anything_else_where_the_artifact_goes_is_left_as_it_is(tmp_path: Path) -> None:
    full = tmp_path / "full"
    full.mkdir()
    (full / "kept").write_text("x")
    file = tmp_path / "file"
    file.write_text("y")
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "empty-dir")
    (tmp_path / "empty-dir").mkdir()
    for path in (full, file, link, tmp_path / "absent"):
        _drop_placeholder(path)
    assert (full / "kept").read_text() == "x"
    assert file.read_text() == "y"
    assert link.is_symlink() and (tmp_path / "empty-dir").is_dir()
