"""Packing: our tar+gzip and zip streams are standard archives GNU tar / unzip readers accept."""

from __future__ import annotations

import gzip
import io
import os
import stat
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from argoexec.lifecycle import Stop
from artifacts.archive_pack import effective_level, isal_level, pack_tar, pack_zip, walk
from artifacts.errors import ArtifactError, ErrorCode
from tests.servers.procs import require_binary


def make_tree(root: Path) -> Path:
    src = root / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "empty").mkdir()
    (src / "a.txt").write_text("hello\n")
    (src / "sub" / "b.bin").write_bytes(os.urandom(200_000))
    (src / "sub" / "ünïcødé ☃.txt").write_text("snow\n")
    (src / "sub" / "deeper" / "c.txt").write_text("c\n")
    os.symlink("a.txt", src / "link")
    os.symlink("../a.txt", src / "sub" / "uplink")
    os.chmod(src / "a.txt", 0o751)
    os.chmod(src / "sub" / "deeper", 0o700)
    return src


def packed(source: Path, tmp_path: Path, *, level: int = 1, threads: int = 2) -> Path:
    out = tmp_path / "out.tgz"
    with out.open("wb") as f:
        pack_tar(source, f, level=level, threads=threads)
    return out


def gnu_list(archive: Path) -> list[str]:
    tar = require_binary("tar")
    run = subprocess.run([tar, "-tzf", str(archive)], capture_output=True, text=True, check=True)
    return run.stdout.splitlines()


def test_a_directory_is_packed_with_argo_entry_names_in_sorted_walk_order(tmp_path: Path) -> None:
    src = make_tree(tmp_path)
    assert gnu_list(packed(src, tmp_path)) == [
        "src/",
        "src/a.txt",
        "src/empty/",
        "src/link",
        "src/sub/",
        "src/sub/b.bin",
        "src/sub/deeper/",
        "src/sub/deeper/c.txt",
        "src/sub/uplink",
        "src/sub/ünïcødé ☃.txt",
    ]


def test_gnu_tar_extracts_our_archive_to_an_identical_tree(tmp_path: Path) -> None:
    tar = require_binary("tar")
    src = make_tree(tmp_path)
    archive = packed(src, tmp_path)
    out = tmp_path / "gnu"
    out.mkdir()
    subprocess.run([tar, "-xzf", str(archive), "-C", str(out)], check=True)
    diff = subprocess.run(["diff", "-r", "--no-dereference", str(src), str(out / "src")])
    assert diff.returncode == 0
    assert os.readlink(out / "src" / "link") == "a.txt"
    assert stat.S_IMODE(os.stat(out / "src" / "a.txt").st_mode) == 0o751
    assert stat.S_IMODE(os.stat(out / "src" / "sub" / "deeper").st_mode) == 0o700


def test_headers_carry_mode_mtime_and_owner(tmp_path: Path) -> None:
    src = make_tree(tmp_path)
    os.utime(src / "a.txt", (1_600_000_000, 1_600_000_000))
    with tarfile.open(packed(src, tmp_path)) as tar:
        member = tar.getmember("src/a.txt")
        link = tar.getmember("src/link")
    assert member.mode == 0o751
    assert member.mtime == 1_600_000_000
    assert member.uid == os.getuid()
    assert link.issym() and link.linkname == "a.txt"


def test_a_single_file_is_one_entry_named_by_its_basename(tmp_path: Path) -> None:
    f = tmp_path / "report.csv"
    f.write_text("a,b\n")
    assert gnu_list(packed(f, tmp_path)) == ["report.csv"]


def test_a_hard_linked_file_is_stored_twice_as_regular_files(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "one").write_text("same\n")
    os.link(src / "one", src / "two")
    with tarfile.open(packed(src, tmp_path)) as tar:
        assert [m.isreg() for m in tar.getmembers()[1:]] == [True, True]


def test_a_missing_source_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError) as err:
        pack_tar(tmp_path / "nope", io.BytesIO(), level=1, threads=1)
    assert err.value.code is ErrorCode.NOT_FOUND
    assert "no such file or directory" in str(err.value)


def test_a_fifo_inside_the_directory_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    os.mkfifo(src / "pipe")
    with pytest.raises(ArtifactError) as err:
        pack_tar(src, io.BytesIO(), level=1, threads=1)
    assert err.value.code is ErrorCode.BAD_REQUEST
    assert "pipe" in str(err.value)


def test_a_fifo_as_the_source_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(ArtifactError) as err:
        pack_tar(tmp_path / "pipe", io.BytesIO(), level=1, threads=1)
    assert err.value.code is ErrorCode.BAD_REQUEST


def test_a_set_stop_token_ends_packing(tmp_path: Path) -> None:
    stop = Stop()
    stop.set("SIGTERM")
    with pytest.raises(ArtifactError, match="archiving stopped: SIGTERM"):
        pack_tar(make_tree(tmp_path), io.BytesIO(), level=1, threads=1, stop=stop)


@pytest.mark.parametrize(
    ("template", "isal"), [(0, -1), (-2, 0), (1, 1), (3, 1), (4, 2), (6, 2), (7, 3), (9, 3)]
)
def test_template_levels_map_onto_isal_levels(template: int, isal: int) -> None:
    assert isal_level(template) == isal


def test_an_out_of_range_level_is_a_bad_request() -> None:
    with pytest.raises(ArtifactError) as err:
        isal_level(10)
    assert err.value.code is ErrorCode.BAD_REQUEST


def test_an_unset_or_default_level_uses_the_configured_default() -> None:
    assert effective_level(None, 5) == 5
    assert effective_level(-1, 5) == 5
    assert effective_level(0, 5) == 0


@pytest.mark.parametrize("level", [0, 1, 5, 9, -2])
@pytest.mark.parametrize("threads", [1, 2])
def test_every_level_gives_a_valid_gzip_holding_the_same_tar(
    tmp_path: Path, level: int, threads: int
) -> None:
    src = make_tree(tmp_path)
    archive = packed(src, tmp_path, level=level, threads=threads)
    raw = gzip.decompress(archive.read_bytes())
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        names = tar.getnames()
        data = tar.extractfile("src/sub/b.bin")
        assert data is not None
        assert data.read() == (src / "sub" / "b.bin").read_bytes()
    assert names[0] == "src"


def test_level_zero_stores_without_compression(tmp_path: Path) -> None:
    f = tmp_path / "zeros"
    f.write_bytes(bytes(1_000_000))
    stored = packed(f, tmp_path, level=0).stat().st_size
    assert stored > 1_000_000
    assert packed(f, tmp_path, level=1).stat().st_size < 100_000


def test_the_walk_yields_the_source_first_then_descendants(tmp_path: Path) -> None:
    src = make_tree(tmp_path)
    names = [name for _, name, _ in walk(src)]
    assert names[0] == "src"
    assert names == sorted(names, key=lambda n: n.split("/"))


def zipped(source: Path, tmp_path: Path, level: int = 1) -> zipfile.ZipFile:
    buf = io.BytesIO()

    class Unseekable(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, b: bytes) -> int:  # type: ignore[override]
            return buf.write(b)

    pack_zip(source, Unseekable(), level=level)  # type: ignore[arg-type]
    return zipfile.ZipFile(io.BytesIO(buf.getvalue()))


def test_a_directory_zips_to_regular_files_named_under_its_basename(tmp_path: Path) -> None:
    src = make_tree(tmp_path)
    with zipped(src, tmp_path) as zf:
        assert zf.namelist() == [
            "src/a.txt",
            "src/sub/b.bin",
            "src/sub/deeper/c.txt",
            "src/sub/ünïcødé ☃.txt",
        ]
        assert zf.testzip() is None
        assert zf.read("src/sub/b.bin") == (src / "sub" / "b.bin").read_bytes()
        assert (zf.getinfo("src/a.txt").external_attr >> 16) & 0o777 == 0o751


def test_a_single_file_zips_under_its_basename_not_its_absolute_path(tmp_path: Path) -> None:
    f = tmp_path / "deep" / "report.csv"
    f.parent.mkdir()
    f.write_text("a,b\n")
    with zipped(f, tmp_path) as zf:
        assert zf.namelist() == ["report.csv"]


def test_a_zip_at_level_zero_is_stored(tmp_path: Path) -> None:
    src = make_tree(tmp_path)
    with zipped(src, tmp_path, level=0) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}


def test_unzip_reads_our_streamed_zip(tmp_path: Path) -> None:
    unzip = require_binary("unzip")
    src = make_tree(tmp_path)
    out = tmp_path / "z.zip"
    with out.open("wb") as f:
        pack_zip(src, f, level=1)
    run = subprocess.run([unzip, "-t", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
