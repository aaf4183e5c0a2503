"""A ``--state-dir`` (or ``ARGOEXEC_STATE_DIR``) that cannot be used: one line naming the option
and the cause, exit 2, for every command that takes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from argoexec.cli import main
from tests.tmpfs import tmpfs

HELLO = Path(__file__).resolve().parents[2] / "examples" / "workflows" / "hello-world.yaml"
COMMANDS = [
    ["list"],
    ["get", "x"],
    ["logs", "x"],
    ["resume", "x"],
    ["stop", "x"],
    ["run", str(HELLO)],
]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Errno" not in err and "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_state_dir_that_is_a_file_is_named_with_the_cause(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory\n")
    code, out, err = run_cli(capsys, *command, "--state-dir", str(a_file))
    assert (code, out) == (2, "")
    assert f'"--state-dir {a_file}: not a directory"' in one_line(err)
    code, out, err = run_cli(capsys, *command, "--state-dir", str(a_file / "below"))
    assert (code, out) == (2, "")
    assert f'"--state-dir {a_file}/below: {a_file} is not a directory"' in one_line(err)
    assert a_file.read_text() == "not a directory\n"


def test_the_environment_variable_is_named_when_it_gave_the_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    monkeypatch.setenv("ARGOEXEC_STATE_DIR", str(a_file))
    code, _, err = run_cli(capsys, "list")
    assert code == 2
    assert f'"ARGOEXEC_STATE_DIR={a_file}: not a directory"' in one_line(err)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_an_unwritable_state_dir_is_refused_by_the_commands_that_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    with tmpfs(tmp_path / "ro", size="64k", read_only=True) as ro:
        code, _, err = run_cli(capsys, *command, "--state-dir", str(ro))
        if command[0] in ("list", "get", "logs"):  # readers: an empty, readable directory
            assert code in (0, 64), err
            assert "no workflow named 'x'" in err or err == ""
        else:
            assert code == 2
            assert f'"--state-dir {ro}: cannot write to it: Read-only file system"' in one_line(err)
        if command[0] == "run":
            code, _, err = run_cli(capsys, *command, "--state-dir", str(ro / "sub"))
            assert code == 2
            assert "cannot create it: Read-only file system" in one_line(err)
