"""The web view's parts on their own: previews, log chunks, action command lines, addresses."""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import random
import signal
import tarfile
import tracemalloc
from pathlib import Path

import pytest

from argoexec.view.web import actions, artifacts
from argoexec.view.web.security import is_loopback
from argoexec.view.web.streams import whole_characters


class Stream(io.BytesIO):
    """An object stream over bytes (the drivers' ObjectStream shape)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.size: int | None = len(data)


def tgz(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_a_text_is_previewed_up_to_the_limit() -> None:
    shown = artifacts.preview(Stream(b"x" * (artifacts.PREVIEW_BYTES + 10)))
    assert shown["kind"] == "text" and shown["truncated"]
    assert len(shown["text"]) == artifacts.PREVIEW_BYTES


def test_a_character_cut_at_the_previews_end_is_still_text() -> None:
    data = "é".encode() * (artifacts.PREVIEW_BYTES // 2) + b"tail"
    shown = artifacts.preview(Stream(data[: artifacts.PREVIEW_BYTES - 1] + data[-6:]))
    assert shown["kind"] == "text"


def test_bytes_that_are_not_text_are_binary() -> None:
    assert artifacts.preview(Stream(b"\x00\x01\x02binary"))["kind"] == "binary"
    assert artifacts.preview(Stream(b"\xff\xfe" + b"a" * 100))["kind"] == "binary"


def test_an_archive_lists_its_entries_and_shows_its_only_text_file() -> None:
    shown = artifacts.preview(Stream(tgz({"message.txt": b"hello\n"})))
    assert shown == {
        "kind": "archive",
        "entries": [{"name": "message.txt", "size": 6, "type": "file"}],
        "truncated": False,
        "text": "hello\n",
    }


def test_an_archive_listing_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(artifacts, "ARCHIVE_ENTRIES", 3)
    shown = artifacts.preview(Stream(tgz({f"f{i}": b"x" for i in range(10)})))
    assert len(shown["entries"]) == 3 and shown["truncated"] and "text" not in shown


def test_an_archive_scan_stops_at_its_byte_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(artifacts, "ARCHIVE_SCAN_BYTES", 200_000)
    noise = random.Random(0)
    big = {f"f{i}": noise.randbytes(100_000) for i in range(20)}  # 2 MB that does not compress
    shown = artifacts.preview(Stream(tgz(big)))
    assert shown["kind"] == "archive" and shown["truncated"]
    assert 0 < len(shown["entries"]) < 20


def test_a_cut_archive_lists_what_it_holds_and_says_it_is_cut() -> None:
    data = tgz({"a.txt": random.Random(1).randbytes(200_000), "b.txt": b"b"})
    shown = artifacts.preview(Stream(data[: len(data) // 2]))
    assert shown == {
        "kind": "archive",
        "entries": [{"name": "a.txt", "size": 200_000, "type": "file"}],
        "truncated": True,
    }


def test_a_cut_gzip_that_holds_no_whole_header_is_binary() -> None:
    data = tgz({"a.txt": b"a" * 5000})
    assert artifacts.preview(Stream(data[: len(data) // 2])) == {"kind": "binary", "size": 48}


def test_a_tar_header_claiming_a_huge_size_is_read_only_to_the_unpacked_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pax header's body is read whole by tarfile: without the bound on unpacked bytes,
    a few hundred KiB of gzip would make the view hold hundreds of MiB."""
    monkeypatch.setattr(artifacts, "ARCHIVE_UNPACKED_BYTES", 1 << 20)
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = 64 << 20
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb") as packed:
        packed.write(header.tobuf(format=tarfile.USTAR_FORMAT))
        for _ in range(64):
            packed.write(bytes(1 << 20))

    tracemalloc.start()
    try:
        shown = artifacts.preview(Stream(out.getvalue()))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert shown == {"kind": "archive", "entries": [], "truncated": True}
    assert peak < 16 << 20, f"the preview held {peak >> 20} MiB"


@pytest.mark.parametrize(
    ("data", "kept"),
    [
        (b"abc", b"abc"),
        ("aé".encode(), "aé".encode()),
        ("aé".encode()[:-1], b"a"),
        ("a€".encode()[:-1], b"a"),
        ("a€".encode()[:-2], b"a"),
        ("a😀".encode()[:-1], b"a"),
        ("a😀".encode(), "a😀".encode()),
        (b"", b""),
    ],
)
def test_a_log_chunk_never_ends_inside_a_character(data: bytes, kept: bytes) -> None:
    assert whole_characters(data) == kept


def test_an_actions_command_line_is_the_clis(tmp_path: Path) -> None:
    argv = actions.command_line(tmp_path, "resume", "wf", {"approve": "yes; rm -rf /"}, None)
    assert argv[1:] == [
        "-P", "-m", "argoexec", "resume", "wf", f"--state-dir={tmp_path}",
        "--parameter=approve=yes; rm -rf /",
    ]  # fmt: skip
    node = actions.command_line(tmp_path, "resume", "wf", {}, "--help")
    assert node[-1] == "--node=--help"


@pytest.mark.parametrize(
    ("verb", "parameters", "node", "message"),
    [
        ("rm", {}, None, "unknown action"),
        ("stop", {"a": "b"}, None, "stop takes no parameters"),
        ("resume", {"a=b": "c"}, None, "not a valid parameter name"),
        ("resume", {"--state-dir": "/"}, None, "not a valid parameter name"),
        ("retry", {}, "n1", "retry takes no node"),
    ],
)
def test_an_action_asked_for_wrongly_is_refused(
    tmp_path: Path, verb: str, parameters: dict[str, str], node: str | None, message: str
) -> None:
    with pytest.raises(actions.ActionError, match=message):
        actions.command_line(tmp_path, verb, "wf", parameters, node)


def sleeper(tmp_path: Path, *words: str) -> tuple[list[str], Path]:
    """A command that says `words`, writes its pid, then sleeps (the test ends it)."""
    pid = tmp_path / "pid"
    return ["sh", "-c", f"echo $$ > {pid}; echo {' '.join(words)}; exec sleep 30"], pid


def end(pid: Path) -> None:
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(pid.read_text()), signal.SIGKILL)


def test_a_command_that_goes_on_is_answered_while_it_runs(tmp_path: Path) -> None:
    argv, pid = sleeper(tmp_path, "started")
    try:
        outcome = actions.run_action(argv, "stop", cwd=tmp_path, environ={}, wait=0.5)
    finally:
        end(pid)
    assert not outcome.finished and outcome.ok and outcome.output == "started\n"


def test_resubmit_is_answered_with_the_new_name_as_soon_as_it_is_said(tmp_path: Path) -> None:
    argv, pid = sleeper(tmp_path, "workflow hello-a1b2c submitted")
    try:
        outcome = actions.run_action(argv, "resubmit", cwd=tmp_path, environ={}, wait=30)
    finally:
        end(pid)
    assert outcome.submitted == "hello-a1b2c" and not outcome.finished


def test_an_action_runs_this_argoexec_whatever_the_directory_holds(tmp_path: Path) -> None:
    """The view may be started anywhere: a directory holding another `argoexec` must not
    change what a click runs."""
    fake = tmp_path / "argoexec"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text("print('not the real one')")
    argv = actions.command_line(tmp_path, "stop", "nothing-here", {}, None)
    outcome = actions.run_action(argv, "stop", cwd=tmp_path, environ=dict(os.environ), wait=60)
    assert outcome.finished and not outcome.ok
    assert "not the real one" not in outcome.output
    assert "nothing-here" in outcome.output


@pytest.mark.parametrize(
    ("address", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("10.0.0.1", False), ("example.com", False), ("::", False)],
)  # fmt: skip
def test_loopback_addresses(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback
