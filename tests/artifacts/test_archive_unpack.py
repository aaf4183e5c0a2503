"""Unpacking: GNU tar's archives and ours, Argo's sniffing and rename rules, limits, corruption."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import stat
import subprocess
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest

from artifacts.archive import apply_mode, commit, unpack_local, unpack_to_staging
from artifacts.archive_pack import pack_tar
from artifacts.errors import ArtifactError, ErrorCode
from tests.artifacts.test_archive_pack import make_tree
from tests.fixtures.make_malicious import gnu_sparse, pax_sparse
from tests.servers.procs import require_binary

MIB = 1024 * 1024


class Trickle(io.RawIOBase):
    """A download that hands out at most ``step`` bytes per read, like a slow network."""

    def __init__(self, data: bytes, step: int = 7) -> None:
        self._data = memoryview(data)
        self._step = step

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(b), self._step, len(self._data))
        b[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


def unpack(
    data: bytes | BinaryIO, dest: Path, fmt: str | None = None, limit: int | None = 0
) -> str:
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    staging = dest.with_name(dest.name + ".tmpdir")
    spool = dest.with_name(dest.name + ".tmp")
    kind = unpack_to_staging(stream, staging, dest.name, fmt=fmt, spool=spool, limit=limit)  # type: ignore[arg-type]
    commit(staging, dest)
    assert not staging.exists() and not spool.exists()
    return kind


def gnu_tar(*args: str) -> None:
    subprocess.run([require_binary("tar"), *args], check=True, capture_output=True)


def same_tree(a: Path, b: Path) -> bool:
    return subprocess.run(["diff", "-r", "--no-dereference", str(a), str(b)]).returncode == 0


def our_tgz(source: Path, level: int = 1) -> bytes:
    buf = io.BytesIO()
    pack_tar(source, buf, level=level, threads=2)
    return buf.getvalue()


def test_a_gnu_tarball_of_a_directory_unpacks_to_its_contents(tmp_path: Path) -> None:
    src = make_tree(tmp_path)
    gnu_tar("-czf", str(tmp_path / "x.tgz"), "-C", str(tmp_path), "src")
    dest = tmp_path / "dest"
    assert unpack((tmp_path / "x.tgz").read_bytes(), dest) == "tar"
    assert same_tree(src, dest)
    assert stat.S_IMODE(os.stat(dest / "a.txt").st_mode) == 0o751
    assert os.readlink(dest / "link") == "a.txt"


def test_a_gnu_tarball_of_dot_puts_every_entry_in_the_destination(tmp_path: Path) -> None:
    src = make_tree(tmp_path)
    gnu_tar("-czf", str(tmp_path / "x.tgz"), "-C", str(src), ".")
    dest = tmp_path / "dest"
    unpack((tmp_path / "x.tgz").read_bytes(), dest)
    assert same_tree(src, dest)


def test_a_gnu_tarball_of_one_file_becomes_that_file(tmp_path: Path) -> None:
    (tmp_path / "report.csv").write_text("a,b\n")
    gnu_tar("-czf", str(tmp_path / "x.tgz"), "-C", str(tmp_path), "report.csv")
    dest = tmp_path / "inputs" / "my-art"
    dest.parent.mkdir()
    unpack((tmp_path / "x.tgz").read_bytes(), dest)
    assert dest.read_text() == "a,b\n"


def test_gnu_hard_links_are_restored_as_hard_links(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "one").write_text("same\n")
    os.link(src / "one", src / "two")
    gnu_tar("-czf", str(tmp_path / "x.tgz"), "-C", str(tmp_path), "src")
    dest = tmp_path / "dest"
    unpack((tmp_path / "x.tgz").read_bytes(), dest)
    assert os.stat(dest / "one").st_ino == os.stat(dest / "two").st_ino
    assert (dest / "two").read_text() == "same\n"


def test_our_round_trip_keeps_modes_links_times_empty_dirs_and_unicode(tmp_path: Path) -> None:
    src = make_tree(tmp_path)
    os.utime(src / "sub" / "b.bin", (1_600_000_000, 1_600_000_000))
    dest = tmp_path / "dest"
    unpack(our_tgz(src), dest)
    assert same_tree(src, dest)
    assert (dest / "empty").is_dir()
    assert (dest / "sub" / "ünïcødé ☃.txt").read_text() == "snow\n"
    assert os.stat(dest / "sub" / "b.bin").st_mtime == 1_600_000_000
    assert stat.S_IMODE(os.stat(dest / "sub" / "deeper").st_mode) == 0o700
    assert os.readlink(dest / "sub" / "uplink") == "../a.txt"


def test_a_slow_trickling_stream_unpacks_the_same(tmp_path: Path) -> None:
    src = make_tree(tmp_path)
    dest = tmp_path / "dest"
    unpack(Trickle(our_tgz(src), step=5), dest)  # type: ignore[arg-type]
    assert same_tree(src, dest)


def test_a_multi_member_gzip_is_one_tarball(tmp_path: Path) -> None:
    src = make_tree(tmp_path)
    raw = gzip.decompress(our_tgz(src))
    half = len(raw) // 2
    dest = tmp_path / "dest"
    unpack(gzip.compress(raw[:half]) + gzip.compress(raw[half:]), dest)
    assert same_tree(src, dest)


@pytest.mark.parametrize(
    "kind",
    ["plain tar", "gzip of a non-tar", "zip", "empty", "tiny gzip", "text"],
)
def test_auto_detection_places_anything_but_a_gzip_tarball_as_is(tmp_path: Path, kind: str) -> None:
    (tmp_path / "f.txt").write_text("not an archive\n" * 100)
    if kind == "plain tar":
        gnu_tar("-cf", str(tmp_path / "x"), "-C", str(tmp_path), "f.txt")
        data = (tmp_path / "x").read_bytes()
    elif kind == "gzip of a non-tar":
        data = gzip.compress(b"plain text, long enough to fill a tar block " * 50)
    elif kind == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("f.txt", "hello")
        data = buf.getvalue()
    elif kind == "empty":
        data = b""
    elif kind == "tiny gzip":
        data = gzip.compress(b"x")
    else:
        data = b"\x1f"
    dest = tmp_path / "dest"
    assert unpack(data, dest) == "none"
    assert dest.read_bytes() == data


def test_an_empty_gzip_tar_is_not_a_tarball(tmp_path: Path) -> None:
    data = gzip.compress(bytes(10240))
    dest = tmp_path / "dest"
    assert unpack(data, dest) == "none"
    assert dest.read_bytes() == data


def test_archive_none_never_unpacks(tmp_path: Path) -> None:
    data = our_tgz(make_tree(tmp_path))
    dest = tmp_path / "dest"
    assert unpack(data, dest, fmt="none") == "none"
    assert dest.read_bytes() == data


def test_archive_tar_refuses_a_plain_tar(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    gnu_tar("-cf", str(tmp_path / "x"), "-C", str(tmp_path), "f.txt")
    with pytest.raises(ArtifactError) as err:
        unpack((tmp_path / "x").read_bytes(), tmp_path / "dest", fmt="tar")
    assert err.value.code is ErrorCode.INTEGRITY


def test_archive_tar_refuses_a_gzip_of_a_non_tar(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError) as err:
        unpack(gzip.compress(b"hello" * 1000), tmp_path / "dest", fmt="tar")
    assert err.value.code is ErrorCode.INTEGRITY


def test_archive_zip_unzips_an_info_zip_archive_with_modes(tmp_path: Path) -> None:
    src = make_tree(tmp_path)
    os.remove(src / "link")
    os.remove(src / "sub" / "uplink")
    subprocess.run(
        [require_binary("zip"), "-qr", str(tmp_path / "x.zip"), "src"], cwd=tmp_path, check=True
    )
    dest = tmp_path / "dest"
    assert unpack((tmp_path / "x.zip").read_bytes(), dest, fmt="zip") == "zip"
    assert same_tree(src, dest)
    assert stat.S_IMODE(os.stat(dest / "a.txt").st_mode) == 0o751


def test_a_zip_symlink_entry_becomes_a_file_holding_the_link_text(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    os.symlink("/etc/passwd", src / "link")
    subprocess.run(
        [require_binary("zip"), "-qry", str(tmp_path / "x.zip"), "src"], cwd=tmp_path, check=True
    )
    dest = tmp_path / "dest"
    unpack((tmp_path / "x.zip").read_bytes(), dest, fmt="zip")
    assert not (dest / "link").is_symlink()
    assert (dest / "link").read_text() == "/etc/passwd"


def test_a_zip_is_not_unzipped_unless_asked(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("f.txt", "hello")
    dest = tmp_path / "dest"
    assert unpack(buf.getvalue(), dest) == "none"
    assert zipfile.is_zipfile(dest)


def test_the_size_cap_allows_exactly_the_limit(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_bytes(b"x" * 600)
    (src / "b").write_bytes(b"y" * 400)
    unpack(our_tgz(src), tmp_path / "ok", limit=1000)
    with pytest.raises(ArtifactError) as err:
        unpack(our_tgz(src), tmp_path / "over", limit=999)
    assert err.value.code is ErrorCode.BAD_REQUEST
    assert "at entry src/b" in err.value.message


def test_record_padding_after_the_tar_does_not_count_against_the_cap(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_bytes(b"x" * 1000)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(src / "a", "a")
    # As `tar -b 1024` would pad: 512 KiB records, zeros after the end-of-archive blocks.
    padded = buf.getvalue().ljust(512 * 1024, b"\0")
    unpack(gzip.compress(padded), tmp_path / "ok", limit=1000)
    assert (tmp_path / "ok").read_bytes() == b"x" * 1000
    with pytest.raises(ArtifactError, match="after the end of the tar archive"):
        unpack(gzip.compress(padded + bytes(2 * MIB)), tmp_path / "over", limit=MIB)


@pytest.mark.parametrize("build", [gnu_sparse, pax_sparse], ids=["gnu", "pax"])
def test_a_sparse_member_counts_by_its_expanded_size(
    tmp_path: Path, build: Callable[[int], bytes]
) -> None:
    data = build(2 * MIB)
    assert len(data) < 300  # a few hundred bytes that expand to 2 MiB
    with pytest.raises(ArtifactError) as err:
        unpack(data, tmp_path / "over", limit=MIB)
    assert "at entry sparse.bin, which declares 2.0 MiB" in err.value.message
    assert not (tmp_path / "over").exists() and not (tmp_path / "over.tmpdir").exists()
    unpack(data, tmp_path / "ok", limit=0)  # 0: no cap
    assert (tmp_path / "ok").read_bytes() == bytes(2 * MIB)


def free_space(monkeypatch: pytest.MonkeyPatch, free: int) -> None:
    """Make the destination's filesystem report ``free`` bytes free."""
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real(path)._replace(free=free))


def three_mib(tmp_path: Path, fmt: str) -> bytes:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "big.bin").write_bytes(b"x" * (3 * MIB))
    if fmt == "tar":
        return our_tgz(src)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(src / "big.bin", "big.bin")
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["tar", "zip"])
def test_without_a_setting_the_cap_is_half_the_free_space(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    data = three_mib(tmp_path, fmt)
    free_space(monkeypatch, 8 * MIB)
    unpack(data, tmp_path / "fits", fmt=fmt, limit=None)
    free_space(monkeypatch, 4 * MIB)
    with pytest.raises(ArtifactError) as err:
        unpack(data, tmp_path / "over", fmt=fmt, limit=None)
    assert err.value.code is ErrorCode.BAD_REQUEST
    message = err.value.message
    assert "beyond the size cap of 2.0 MiB = 2097152 bytes" in message
    assert "the default: 50% of the 4.0 MiB free on the destination's disk" in message
    assert "set ARGOEXEC_MAX_EXTRACT_BYTES to a larger number of bytes" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fits", "src"]
    unpack(data, tmp_path / "uncapped", fmt=fmt, limit=0)


def test_a_gzip_that_is_not_a_tarball_is_placed_without_decompressing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Argo places a gzip of a non-tar as stored (§11.6), so its size is the download's size.
    bomb = gzip.compress(bytes(64 * MIB), mtime=0)
    free_space(monkeypatch, MIB)
    assert unpack(bomb, tmp_path / "dest", limit=None) == "none"
    assert (tmp_path / "dest").read_bytes() == bomb


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.999])
def test_a_truncated_tarball_is_an_integrity_error(tmp_path: Path, fraction: float) -> None:
    src = make_tree(tmp_path)
    data = our_tgz(src)
    with pytest.raises(ArtifactError) as err:
        unpack(data[: int(len(data) * fraction)], tmp_path / "dest")
    assert err.value.code is ErrorCode.INTEGRITY


def test_a_flipped_byte_inside_the_deflate_stream_is_an_integrity_error(tmp_path: Path) -> None:
    data = bytearray(our_tgz(make_tree(tmp_path), level=9))
    data[len(data) // 2] ^= 0x55
    with pytest.raises(ArtifactError) as err:
        unpack(bytes(data), tmp_path / "dest")
    assert err.value.code is ErrorCode.INTEGRITY


def test_trailing_garbage_after_the_gzip_stream_is_an_integrity_error(tmp_path: Path) -> None:
    data = our_tgz(make_tree(tmp_path)) + b"garbage"
    with pytest.raises(ArtifactError) as err:
        unpack(data, tmp_path / "dest")
    assert err.value.code is ErrorCode.INTEGRITY


def test_the_staging_directory_must_not_exist_yet(tmp_path: Path) -> None:
    (tmp_path / "dest.tmpdir").mkdir()
    with pytest.raises(FileExistsError):
        unpack(b"data", tmp_path / "dest")


def test_commit_refuses_to_merge_into_a_non_empty_directory(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    (dest / "old").mkdir(parents=True)
    staging = tmp_path / "dest.tmpdir"
    (staging / "a").mkdir(parents=True)
    (staging / "b").mkdir()
    with pytest.raises(ArtifactError, match="cannot move the artifact into place"):
        commit(staging, dest)


def test_mode_applies_to_the_top_and_with_recurse_mode_to_everything(tmp_path: Path) -> None:
    src = make_tree(tmp_path)
    flat, deep = tmp_path / "flat", tmp_path / "deep"
    unpack(our_tgz(src), flat)
    unpack(our_tgz(src), deep)
    apply_mode(flat, 0o750, recurse=False)
    apply_mode(deep, 0o750, recurse=True)
    assert stat.S_IMODE(os.stat(flat).st_mode) == 0o750
    assert stat.S_IMODE(os.stat(flat / "a.txt").st_mode) == 0o751
    modes = {
        stat.S_IMODE(os.lstat(os.path.join(r, n)).st_mode)
        for r, ds, fs in os.walk(deep)
        for n in (*ds, *fs)
        if not os.path.islink(os.path.join(r, n))
    }
    assert modes == {0o750}
    assert os.path.islink(deep / "link")


def test_unpack_local_places_a_tarball_on_disk(tmp_path: Path) -> None:
    src = make_tree(tmp_path)
    gnu_tar("-czf", str(tmp_path / "x.tgz"), "-C", str(tmp_path), "src")
    dest = tmp_path / "outputs" / "art"
    dest.parent.mkdir()
    assert unpack_local(tmp_path / "x.tgz", dest) == "tar"
    assert same_tree(src, dest)
    assert sorted(os.listdir(dest.parent)) == ["art"]


def test_unpack_local_leaves_nothing_behind_on_failure(tmp_path: Path) -> None:
    from tests.fixtures.make_malicious import HERE

    dest = tmp_path / "outputs" / "art"
    dest.parent.mkdir()
    with pytest.raises(ArtifactError):
        unpack_local(HERE / "symlink_escape_after_rename.tgz", dest)
    assert os.listdir(dest.parent) == []
