"""Taking one file or directory (a subPath) out of a tar.gz or zip read as a stream: which
entries are written, where the pick is, and the safe-unpack rules applied to it."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from artifacts.archive import Strategy, commit_selected
from artifacts.archive_select import select_to_staging
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.subpath import is_within, join_sub_paths, sub_path_problem

MIB = 1024 * 1024


def tgz(entries: list[tuple[str, bytes | None]], *, links: dict[str, str] | None = None) -> bytes:
    """A tar.gz of files (bytes) and directories (None), plus symlinks name -> target."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o640
                tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return gzip.compress(raw.getvalue())


def zipped(entries: list[tuple[str, bytes]]) -> bytes:
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return raw.getvalue()


SITE = [
    ("site", None),
    ("site/index.txt", b"index\n"),
    ("site/assets", None),
    ("site/assets/a.css", b"css\n"),
    ("site/assets/img", None),
    ("site/assets/img/b.png", b"png\n"),
    ("site/other.txt", b"other\n"),
]


def select(
    tmp_path: Path, data: bytes, sub: str, fmt: Strategy | None = None, limit: int = 0
) -> Path | None:
    """Run the selection and place the pick at ``tmp_path/dest`` (None: not an archive)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    staging, spool, dest = tmp_path / "dest.tmpdir", tmp_path / "dest.tmp", tmp_path / "dest"
    found = select_to_staging(io.BytesIO(data), staging, sub, fmt=fmt, spool=spool, limit=limit)
    if found is None:
        assert not staging.exists() and not spool.exists()
        return None
    commit_selected(staging, found[1], dest)
    assert not staging.exists() and not spool.exists()
    return dest


def tree(root: Path) -> dict[str, bytes | None]:
    return {
        p.relative_to(root).as_posix(): None if p.is_dir() else p.read_bytes()
        for p in sorted(root.rglob("*"))
    }


def test_a_file_of_a_directory_archive_is_placed_as_the_file(tmp_path: Path) -> None:
    dest = select(tmp_path, tgz(SITE), "index.txt")
    assert dest is not None and dest.read_bytes() == b"index\n"
    assert (dest.stat().st_mode & 0o777) == 0o640  # the entry's mode, as a whole unpack keeps


def test_a_directory_of_a_directory_archive_is_placed_as_its_contents(tmp_path: Path) -> None:
    dest = select(tmp_path, tgz(SITE), "assets")
    assert dest is not None
    assert tree(dest) == {"a.css": b"css\n", "img": None, "img/b.png": b"png\n"}


def test_a_nested_path_is_selected(tmp_path: Path) -> None:
    dest = select(tmp_path, tgz(SITE), "assets/img")
    assert dest is not None and tree(dest) == {"b.png": b"png\n"}


def test_the_same_selection_works_from_a_zip(tmp_path: Path) -> None:
    data = zipped([(n, d) for n, d in SITE if d is not None])
    dest = select(tmp_path, data, "assets", fmt="zip")
    assert dest is not None
    assert tree(dest) == {"a.css": b"css\n", "img": None, "img/b.png": b"png\n"}


def test_paths_are_relative_to_the_archive_root_when_it_has_several_top_level_entries(
    tmp_path: Path,
) -> None:
    # `tar -C dir .`-style: the archive root is the artifact (the §11.6 rename rule).
    data = tgz([(".", None), ("./a.txt", b"a"), ("./d", None), ("./d/b.txt", b"b")])
    dest = select(tmp_path, data, "d")
    assert dest is not None and tree(dest) == {"b.txt": b"b"}
    assert select(tmp_path / "2", data, "a.txt") is not None


def test_with_one_top_level_entry_a_path_naming_it_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError) as caught:
        select(tmp_path, tgz(SITE), "site/index.txt")
    assert caught.value.code is ErrorCode.NOT_FOUND
    message = caught.value.message
    assert "subPath 'site/index.txt' not found" in message
    assert "assets, index.txt, other.txt" in message  # what is there, to help the user


def test_an_entry_under_a_missing_path_is_not_found_and_nothing_is_left(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError) as caught:
        select(tmp_path, tgz(SITE), "assets/nope")
    assert caught.value.code is ErrorCode.NOT_FOUND
    assert sorted(os.listdir(tmp_path)) == []


def test_only_the_selected_entries_count_against_the_size_limit(tmp_path: Path) -> None:
    big = os.urandom(3 * MIB)
    data = tgz([("out", None), ("out/big.bin", big), ("out/small.txt", b"small")])
    dest = select(tmp_path / "1", data, "small.txt", limit=MIB)
    assert dest is not None and dest.read_bytes() == b"small"
    with pytest.raises(ArtifactError, match="beyond the size cap"):
        select(tmp_path / "2", data, "big.bin", limit=MIB)


def test_a_link_inside_the_pick_is_kept(tmp_path: Path) -> None:
    data = tgz(SITE, links={"site/assets/style.css": "a.css"})
    dest = select(tmp_path, data, "assets")
    assert dest is not None and os.readlink(dest / "style.css") == "a.css"


def test_a_link_leaving_the_pick_is_refused(tmp_path: Path) -> None:
    # Valid in the whole archive (it stays inside `site`), but not inside `assets`.
    data = tgz(SITE, links={"site/assets/up": "../index.txt"})
    with pytest.raises(ArtifactError, match="must stay inside it") as caught:
        select(tmp_path, data, "assets")
    assert caught.value.code is ErrorCode.BAD_REQUEST
    assert sorted(os.listdir(tmp_path)) == []


def test_an_escaping_entry_outside_the_pick_still_refuses_the_archive(tmp_path: Path) -> None:
    data = tgz([*SITE, ("../evil.txt", b"x")])
    with pytest.raises(ArtifactError, match="illegal file path"):
        select(tmp_path, data, "index.txt")
    assert not (tmp_path.parent / "evil.txt").exists()


def test_a_stream_that_is_not_an_archive_is_declined_when_auto_detecting(tmp_path: Path) -> None:
    assert select(tmp_path, b"just text\n", "a.txt") is None
    with pytest.raises(ArtifactError) as caught:
        select(tmp_path, b"just text\n", "a.txt", fmt="tar")
    assert caught.value.code is ErrorCode.INTEGRITY


@pytest.mark.parametrize(
    ("sub", "reason"),
    [
        ("../x", "'..'"),
        ("a/../../x", "'..'"),
        ("/etc/passwd", "absolute"),
        ("a//b", "empty segment"),
        ("a/", "empty segment"),
        ("./a", "'.' segment"),
        ("a\x00b", "NUL"),
    ],
)
def test_a_sub_path_must_be_a_clean_relative_path(sub: str, reason: str) -> None:
    problem = sub_path_problem(sub)
    assert problem is not None and reason in problem


def test_clean_sub_paths_join_and_contain() -> None:
    assert sub_path_problem("a/b.c/d-e") is None
    assert join_sub_paths("a", None, "", "b/c") == "a/b/c"
    assert join_sub_paths(None, "") == ""
    assert is_within("a/b", "a") and is_within("a", "a") and not is_within("ab", "a")
