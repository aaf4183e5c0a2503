"""Reading user YAML (`argoexec.safeyaml`) and every place that reads it: aliases are bounded by
go-yaml's rule, an anchor that contains itself and nesting beyond the limit are refused, and
each refusal names the file or the option it came from."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from argoexec import safeyaml
from argoexec.cli import main
from argoexec.errors import ExecutorError
from argoexec.executor.resource.manifest import read_manifest


def laughs(levels: int, fanout: int, indent: str = "") -> str:
    """Nested anchors: each level a list of `fanout` aliases of the level below."""
    text = f'{indent}a0: &a0 "lol"\n'
    for level in range(1, levels + 1):
        aliases = ", ".join([f"*a{level - 1}"] * fanout)
        text += f"{indent}a{level}: &a{level} [{aliases}]\n"
    return text


def test_aliases_are_bounded_as_go_yaml_bounds_them() -> None:
    # go-yaml v3 decodes 3 levels of 10 and refuses 4 (its own tests and ours agree).
    assert len(safeyaml.load(laughs(3, 10))["a3"]) == 10
    with pytest.raises(safeyaml.LimitError, match="document contains excessive aliasing"):
        safeyaml.load(laughs(4, 10))
    # A billion laughs (9 levels of 9): refused after a few thousand values, not expanded.
    with pytest.raises(safeyaml.LimitError, match="excessive aliasing"):
        safeyaml.load(laughs(9, 9))


def test_ordinary_aliases_and_merge_keys_are_read() -> None:
    text = "base: &b {image: alpine, env: [a, b]}\n" + "".join(
        f"t{i}: {{<<: *b, name: t{i}}}\n" for i in range(2000)
    )
    loaded = safeyaml.load(text)
    assert loaded["t1999"] == {"image": "alpine", "env": ["a", "b"], "name": "t1999"}


@pytest.mark.parametrize("text", ["a: &x [*x]\n", "a: &x {b: {c: *x}}\n"])
def test_an_anchor_that_contains_itself_is_refused(text: str) -> None:
    with pytest.raises(safeyaml.LimitError, match="contains an alias of itself"):
        safeyaml.load(text)


def test_nesting_is_limited_aliases_expanded() -> None:
    deepest = "[" * safeyaml.MAX_DEPTH + "]" * safeyaml.MAX_DEPTH
    assert safeyaml.load(f"a: {deepest[1:-1]}\n") is not None
    with pytest.raises(safeyaml.LimitError, match=f"nested deeper than {safeyaml.MAX_DEPTH}"):
        safeyaml.load(f"a: {deepest}\n")
    half = safeyaml.MAX_DEPTH // 2 + 1
    with pytest.raises(safeyaml.LimitError, match="nested deeper"):
        safeyaml.load(f"a: &x {'[' * half}{']' * half}\nb: {'[' * half}*x{']' * half}\n")


def test_timestamps_stay_text_and_tags_are_refused() -> None:
    assert safeyaml.load("day: 2024-01-01\n") == {"day": "2024-01-01"}
    with pytest.raises(yaml.YAMLError):
        safeyaml.load("a: !!python/object/apply:os.system [true]\n")
    assert safeyaml.load_all("a: 1\n---\n---\nb: 2\n") == [{"a": 1}, None, {"b": 2}]
    assert safeyaml.load("") is None


def bomb_workflow(tmp_path: Path) -> Path:
    """A workflow whose loop items are a billion laughs: walking them would take minutes."""
    path = tmp_path / "bomb.yaml"
    path.write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: bomb-}\n"
        "spec:\n  entrypoint: main\n  templates:\n  - name: main\n    steps:\n"
        "    - - name: a\n        template: t\n        withItems:\n        - anchors:\n"
        + laughs(9, 9, indent=" " * 12)
        + "  - name: t\n    container: {image: alpine, command: [echo, hi]}\n"
    )
    return path


def test_lint_and_run_refuse_a_billion_laughs_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = bomb_workflow(tmp_path)
    assert main(["lint", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{path}:13:") and "document contains excessive aliasing" in out
    code = main(["run", str(path), "--state-dir", str(tmp_path / "state")])
    assert code == 2
    assert "excessive aliasing" in capsys.readouterr().err
    assert not (tmp_path / "state").exists() or not any((tmp_path / "state").iterdir())


def test_parameter_and_repository_files_are_bounded_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workflow = tmp_path / "wf.yaml"
    workflow.write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: w-}\n"
        "spec:\n  entrypoint: t\n  templates:\n"
        "  - name: t\n    container: {image: alpine, command: [echo, hi]}\n"
    )
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(laughs(9, 9))
    state = str(tmp_path / "state")
    for option in ("--parameter-file", "--artifact-repository"):
        assert main(["run", str(workflow), option, str(bomb), "--state-dir", state]) == 2
        err = capsys.readouterr().err
        assert f"{option} {bomb}" in err and "excessive aliasing" in err


def test_artifact_locations_and_manifests_are_bounded_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(laughs(9, 9))
    assert main(["artifact", "get", "--artifact", str(bomb), str(tmp_path / "out")]) == 2
    assert "excessive aliasing" in capsys.readouterr().err
    with pytest.raises(ExecutorError, match=f"the manifest {bomb} is not valid YAML: .*aliasing"):
        read_manifest(bomb)
