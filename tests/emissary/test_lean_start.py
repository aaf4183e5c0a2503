"""The emissary's stand-ins for stdlib modules it avoids at start (``pathlib``, ``subprocess``,
``shutil``, ``threading``) behave as the modules they replace."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from argoexec.emissary.child import spawn
from argoexec.emissary.outputs import copy_file
from argoexec.emissary.paths import Layout
from argoexec.emissary.run import which
from argoexec.emissary.threads import Done, Worker
from argoexec.varrun import VarRun
from tests.emissary.conftest import Emissary


@pytest.mark.parametrize("root", ["/var/run/argo", "/tmp/some where/var-run-argo"])
def test_the_layout_is_varruns(root: str) -> None:
    layout, varrun = Layout(root), VarRun(Path(root))
    assert layout.template == str(varrun.template)
    for name in ("main", "wait", "a-b"):
        for method in ("ctr", "exitcode", "stdout", "combined", "signal"):
            assert getattr(layout, method)(name) == str(getattr(varrun, method)(name))
        for when in ("before", "after"):
            assert layout.pause_marker(name, when) == str(varrun.pause_marker(name, when))
    for path in ("/tmp/x", "/tmp/out/", "relative/p", "/a/b.txt"):
        # The same file; pathlib drops a trailing "/", which the OS reads alike.
        assert os.path.normpath(layout.output_parameter(path)) == str(varrun.output_parameter(path))
        assert layout.output_artifact(path) == str(varrun.output_artifact(path))


# --- starting the child: as subprocess.Popen(argv, process_group=0) starts it -----------------


def popen_error(argv: list[str]) -> str:
    with pytest.raises(OSError) as caught:
        subprocess.Popen(argv, process_group=0)
    return str(caught.value)


def test_a_program_that_cannot_run_fails_with_popens_error(tmp_path: Path) -> None:
    no_exec = tmp_path / "no-exec"
    no_exec.write_text("echo hi\n")
    no_shebang = tmp_path / "no-shebang"
    no_shebang.write_text("echo hi\n")
    no_shebang.chmod(0o755)
    for program in ("/nonexistent/program", str(no_exec), str(no_shebang), str(tmp_path)):
        with pytest.raises(OSError) as caught:
            spawn([program])
        assert str(caught.value) == popen_error([program])
        assert type(caught.value) is type(OSError(caught.value.errno, ""))


def output_of(argv: list[str], popen: bool) -> str:
    read, write = os.pipe()
    try:
        if popen:
            proc = subprocess.Popen(argv, stdout=write, process_group=0)
            pid = proc.pid
        else:
            pid = spawn(argv, stdout=write)
    finally:
        os.close(write)
    with os.fdopen(read) as f:
        text = f.read()
    os.waitpid(pid, 0)
    return text


def test_the_child_leads_its_own_process_group() -> None:
    argv = [sys.executable, "-S", "-c", "import os; print(os.getpgid(0) == os.getpid())"]
    assert output_of(argv, popen=False) == "True\n"


# The child's blocked, ignored and caught signals (hex masks) and its descriptors.
STATUS = "grep -E '^Sig(Ign|Blk|Cgt)' /proc/self/status | cut -f2; ls /proc/self/fd | wc -l"
# Signals 1-31: glibc's posix_spawn also resets its own internal signals (32, 33) where a parent
# of ours ignored them; a container's PID 1 never starts with them ignored.
STANDARD = (1 << 31) - 1


def child_state(popen: bool) -> list[int]:
    *masks, fds = output_of(["/bin/sh", "-c", STATUS], popen).split()
    return [int(mask, 16) & STANDARD for mask in masks] + [int(fds)]


def test_the_child_gets_popens_signal_dispositions_and_no_extra_descriptors() -> None:
    read, write = os.pipe()
    os.set_inheritable(read, True)  # an inheritable descriptor of ours: Popen closes it
    try:
        ours, popens = child_state(popen=False), child_state(popen=True)
    finally:
        os.close(read)
        os.close(write)
    assert ours == popens
    assert ours[1] == 0  # nothing ignored: SIGPIPE and SIGXFSZ are back at their defaults


@pytest.mark.parametrize("path", ["/usr/bin:/bin", "/nonexistent::/bin", "", "/bin:/bin"])
def test_which_finds_what_shutil_which_finds(
    path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sh").mkdir()  # a directory named like the program is skipped
    local = tmp_path / "only-here"
    local.write_text("#!/bin/sh\n")
    local.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path}:{path}" if path else path)
    for name in ("sh", "true", "only-here", "no-such-program-xyz"):
        assert which(name) == shutil.which(name)
    monkeypatch.delenv("PATH")
    assert which("sh") == shutil.which("sh")


def test_copy_file_copies_bytes_and_refuses_what_shutil_refuses(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    copy_file(str(source), str(tmp_path / "copy"))
    assert (tmp_path / "copy").read_bytes() == source.read_bytes()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for bad in (fifo, tmp_path):
        with pytest.raises(OSError) as ours:
            copy_file(str(bad), str(tmp_path / "never"))
        with pytest.raises(OSError) as theirs:
            shutil.copyfile(bad, tmp_path / "never")
        assert str(ours.value) == str(theirs.value)


def test_done_wakes_every_waiter_and_stays_set() -> None:
    done = Done()
    assert not done.is_set()
    assert not done.wait(0.01)

    class Waiter(Worker):
        woke = False

        def run(self) -> None:
            self.woke = done.wait(10)

    waiters = [Waiter() for _ in range(3)]
    for waiter in waiters:
        waiter.start()
    done.set()
    done.set()  # setting twice is harmless
    for waiter in waiters:
        waiter.join(10)
        assert not waiter.is_alive()
        assert waiter.woke
    assert done.is_set()
    assert done.wait(0)


# --- what a container's start imports ---------------------------------------------------------

# Each costs every container's start milliseconds (directly or through what it imports).
HEAVY = {
    "json", "re", "enum", "subprocess", "pathlib", "threading", "signal", "shutil", "selectors",
    "collections", "functools", "contextlib", "logging", "typing", "datetime", "urllib", "locale",
    "tarfile", "gzip", "dataclasses",
}  # fmt: skip
LIST_MODULES = (
    "import sys\n"
    "from argoexec.emissary.main import main\n"
    "code = main(['--', '/bin/true'])\n"
    "print(code, ' '.join(sorted(sys.modules)))\n"
)


@pytest.mark.parametrize("with_outputs", [False, True])
def test_the_hot_path_imports_nothing_heavy(emissary: Emissary, with_outputs: bool) -> None:
    if with_outputs:
        param = emissary.work / "param"
        param.write_text("value")
        outputs = {"parameters": [{"name": "p", "valueFrom": {"path": str(param)}}]}
        emissary.write_template({"outputs": outputs})
    result = subprocess.run(
        [sys.executable, "-S", "-c", LIST_MODULES],
        env=emissary.env(ARGO_DEADLINE="0001-01-01T00:00:00Z"),
        cwd=emissary.work,
        capture_output=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    code, modules = result.stdout.decode().split(" ", 1)
    assert code == "0", result.stderr
    imported = {name.partition(".")[0] for name in modules.split()}
    assert imported & HEAVY == set()
    if with_outputs:
        assert emissary.file("outputs", "parameters", str(param).lstrip("/")).read_text() == "value"
