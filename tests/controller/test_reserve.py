"""Room set aside for a last write: a write that must not be lost succeeds on a full disk
(a small tmpfs) once, with the room given back; other failures are not touched."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from argoexec.controller.loop.state_store import RESERVE_BYTES, DirectoryStore
from argoexec.controller.reserve import Reserve
from tests.tmpfs import fill, tmpfs


def test_a_write_on_a_full_disk_succeeds_with_the_reserved_room(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small", size="256k") as small:
        reserve = Reserve(small / "reserve", 32 * 1024)
        assert reserve.keep() and (small / "reserve").stat().st_size == 32 * 1024
        fill(small)
        target = small / "final"
        with pytest.raises(OSError) as failed:
            target.write_bytes(b"x" * 8192)
        assert failed.value.errno == errno.ENOSPC
        reserve.write(lambda: target.write_bytes(b"x" * 8192))
        assert target.read_bytes() == b"x" * 8192
        assert not (small / "reserve").exists()
        # Spent: the next full-disk failure is the caller's, and no room can be set aside.
        with pytest.raises(OSError):
            reserve.write(lambda: (small / "more").write_bytes(b"y" * 65536))
        assert not reserve.keep()
        assert [p.name for p in small.iterdir() if p.name.endswith(".partial")] == []


def test_other_failures_keep_the_reserved_room(tmp_path: Path) -> None:
    reserve = Reserve(tmp_path / "reserve", 4096)
    assert reserve.keep()

    def fails() -> None:
        raise PermissionError(errno.EACCES, "denied")

    with pytest.raises(PermissionError):
        reserve.write(fails)
    assert (tmp_path / "reserve").exists()


def test_the_state_directory_spends_its_room_only_on_a_completing_write(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small", size="1m") as small:
        store = DirectoryStore(small)
        wf = store.create({"metadata": {"name": "w"}, "spec": {"entrypoint": "main"}})
        wf["status"] = {"phase": "Running", "nodes": {}}
        wf = store.update(wf)
        assert (small / ".reserve").stat().st_size == RESERVE_BYTES
        fill(small)
        big = {"n": {"id": "n", "message": "m" * 100_000}}
        wf["status"] = {"phase": "Running", "nodes": big}
        with pytest.raises(Exception, match="No space left on device"):
            store.update(wf)
        assert (small / ".reserve").exists()  # a running workflow's write is tried again later
        wf["status"]["phase"] = "Failed"
        stored = store.update(wf)
        assert store.get("w")["status"] == stored["status"]
        assert not (small / ".reserve").exists()
