"""The ``local`` kind (a directory on this machine): what the shared conformance suite does not
cover. Keys that try to leave the root, symlinks that lead out of it, atomic writes, directory
trees, relocation through a ``local`` repository and the ``argoexec artifact`` CLI."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from argoexec.lifecycle import Stop
from argoexec.models import Artifact, ArtifactLocation
from artifacts.driver import DriverContext
from artifacts.drivers.local import TMP_PREFIX, LocalDriver
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.locations import (
    get_key,
    has_location,
    parse_location_url,
    prepare_output,
    relocate,
    repository_location,
    select_repository,
    with_key,
)
from artifacts.registry import driver_for
from artifacts.secrets import NoSecrets
from artifacts.transfer import load_artifact, save_artifact
from tests.artifacts.trees import make_tree

ROOT = Path(__file__).resolve().parents[2]


def context(**fields: Any) -> DriverContext:
    return DriverContext(secrets=NoSecrets(), **fields)


def local(root: Path | str, key: str, name: str = "art", **fields: Any) -> Artifact:
    return Artifact.model_validate(
        {"name": name, "local": {"root": str(root), "key": key}, **fields}
    )


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    root.mkdir()
    return root


@pytest.fixture
def driver() -> LocalDriver:
    return LocalDriver(context())


def leftovers(root: Path) -> list[str]:
    """Temporary entries of writes anywhere under ``root``."""
    return sorted(p.name for p in root.rglob(f"{TMP_PREFIX}*"))


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# Every operation, called with an artifact; the file/stream arguments are harmless ones.
def operations(tmp_path: Path) -> dict[str, Callable[[LocalDriver, Artifact], object]]:
    src = tmp_path / "src.txt"
    src.write_text("data\n")
    return {
        "load": lambda d, a: d.load(a, tmp_path / "loaded"),
        "open_stream": lambda d, a: d.open_stream(a),
        "save": lambda d, a: d.save(src, a),
        "save_stream": lambda d, a: d.save_stream(io.BytesIO(b"data"), a),
        "delete": lambda d, a: d.delete(a),
        "list_objects": lambda d, a: d.list_objects(a),
        "is_directory": lambda d, a: d.is_directory(a),
    }


OPERATIONS = [
    "load",
    "open_stream",
    "save",
    "save_stream",
    "delete",
    "list_objects",
    "is_directory",
]


# --- keys must stay inside root -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("../outside.txt", "'..'"),
        ("a/../../outside.txt", "'..'"),
        ("a/..", "'..'"),
        ("..", "'..'"),
        ("/etc/passwd", "absolute"),
        ("a\0b", "NUL"),
    ],
)
@pytest.mark.parametrize("op", OPERATIONS)
def test_a_key_that_could_leave_the_root_is_refused_by_every_operation(
    op: str, key: str, why: str, store: Path, tmp_path: Path
) -> None:
    (tmp_path / "outside.txt").write_text("precious\n")
    with pytest.raises(ArtifactError) as info:
        operations(tmp_path)[op](LocalDriver(context()), local(store, key, name="evil"))
    err = info.value
    assert err.code is ErrorCode.BAD_REQUEST
    text = str(err)
    assert why in text
    assert "(local)" in text and "'evil'" in text
    assert repr(key) in text and repr(str(store)) in text
    assert (tmp_path / "outside.txt").read_text() == "precious\n"
    assert files_under(store) == {}


def test_dot_segments_and_doubled_slashes_are_cleaned(store: Path, driver: LocalDriver) -> None:
    result = driver.save_stream(io.BytesIO(b"x"), local(store, "./a//b/./c.txt"))
    assert result.key == "a/b/c.txt"
    assert (store / "a" / "b" / "c.txt").read_bytes() == b"x"


@pytest.mark.parametrize("root", ["relative/dir", "", "./store"])
def test_the_root_must_be_an_absolute_path(root: str, driver: LocalDriver) -> None:
    with pytest.raises(ArtifactError) as info:
        driver.save_stream(io.BytesIO(b"x"), local(root, "k"))
    assert info.value.code is ErrorCode.BAD_REQUEST
    assert "root" in str(info.value)
    with pytest.raises(ArtifactError):
        driver.describe_credentials(local(root, "k"))


def test_a_symlink_leading_out_of_the_root_is_refused(
    store: Path, tmp_path: Path, driver: LocalDriver
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret\n")
    (store / "escape").symlink_to(outside)
    (store / "file-link").symlink_to(outside / "secret.txt")
    for key in ("escape/secret.txt", "escape/new.txt", "escape", "file-link"):
        for op in OPERATIONS:
            with pytest.raises(ArtifactError) as info:
                operations(tmp_path)[op](driver, local(store, key))
            assert info.value.code is ErrorCode.BAD_REQUEST, (key, op)
            assert "outside the root" in str(info.value)
            assert repr(key) in str(info.value)
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "secret\n"


def test_a_symlink_inside_the_root_is_followed(store: Path, driver: LocalDriver) -> None:
    (store / "real").mkdir()
    (store / "alias").symlink_to(store / "real")
    driver.save_stream(io.BytesIO(b"via alias"), local(store, "alias/f.txt"))
    assert (store / "real" / "f.txt").read_bytes() == b"via alias"
    assert driver.list_objects(local(store, "alias")) == ["alias/f.txt"]


def test_a_root_that_is_itself_a_symlink_works(tmp_path: Path, driver: LocalDriver) -> None:
    real = tmp_path / "real-store"
    real.mkdir()
    (tmp_path / "linked-store").symlink_to(real)
    art = local(tmp_path / "linked-store", "k/v.txt")
    driver.save_stream(io.BytesIO(b"v"), art)
    assert (real / "k" / "v.txt").read_bytes() == b"v"


def test_merging_into_a_directory_refuses_a_symlinked_subdirectory_leading_out(
    store: Path, tmp_path: Path, driver: LocalDriver
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (store / "tree").mkdir()
    (store / "tree" / "a").symlink_to(outside)
    source = tmp_path / "source"
    (source / "a").mkdir(parents=True)
    (source / "a" / "f.txt").write_text("x\n")
    with pytest.raises(ArtifactError) as info:
        driver.save(source, local(store, "tree"))
    assert info.value.code is ErrorCode.BAD_REQUEST
    assert list(outside.iterdir()) == []
    assert leftovers(store) == []


# --- missing objects and roots ------------------------------------------------------------------


@pytest.mark.parametrize("op", ["load", "open_stream", "list_objects"])
def test_a_missing_root_is_not_found_and_not_created(
    op: str, tmp_path: Path, driver: LocalDriver
) -> None:
    root = tmp_path / "never"
    with pytest.raises(ArtifactError) as info:
        operations(tmp_path)[op](driver, local(root, "a/b.tgz"))
    assert info.value.code is ErrorCode.NOT_FOUND
    assert "'a/b.tgz'" in str(info.value) and str(root) in str(info.value)
    assert not root.exists()
    assert driver.is_directory(local(root, "a")) is False


def test_a_save_creates_the_root_and_the_directories_of_the_key(
    tmp_path: Path, driver: LocalDriver
) -> None:
    root = tmp_path / "new" / "store"
    result = driver.save_stream(io.BytesIO(b"hello"), local(root, "wf/pod/out.tgz"))
    assert (result.key, result.size) == ("wf/pod/out.tgz", 5)
    assert (root / "wf" / "pod" / "out.tgz").read_bytes() == b"hello"


def test_a_key_below_a_file_is_not_found(store: Path, driver: LocalDriver) -> None:
    (store / "file.tgz").write_bytes(b"x")
    with pytest.raises(ArtifactError) as info:
        driver.open_stream(local(store, "file.tgz/inner"))
    assert info.value.code is ErrorCode.NOT_FOUND


def test_an_empty_directory_holds_no_objects(store: Path, driver: LocalDriver) -> None:
    (store / "empty" / "nested").mkdir(parents=True)
    art = local(store, "empty")
    assert driver.is_directory(art) is False
    for call in (driver.list_objects, lambda a: driver.load(a, store.parent / "out")):
        with pytest.raises(ArtifactError) as info:
            call(art)
        assert info.value.code is ErrorCode.NOT_FOUND


def test_a_fifo_at_the_key_is_refused_without_blocking(store: Path, driver: LocalDriver) -> None:
    os.mkfifo(store / "pipe")
    with pytest.raises(ArtifactError) as info:
        driver.open_stream(local(store, "pipe"))
    assert info.value.code is ErrorCode.BAD_REQUEST
    assert "not a regular file" in str(info.value)


# --- atomic writes ------------------------------------------------------------------------------


class FailingStream(io.RawIOBase):
    """Yields ``chunks`` blocks of data, calling ``during`` after the first, then fails."""

    def __init__(self, chunks: int, during: Callable[[], None] = lambda: None) -> None:
        self.left = chunks
        self.during = during
        self.sent = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.sent == 1:
            self.during()
        if self.left == 0:
            raise ArtifactError("the packer failed", code=ErrorCode.INTERNAL)
        self.left -= 1
        self.sent += 1
        view = memoryview(buffer)
        view[:] = b"z" * len(view)
        return len(view)


def test_a_failed_stream_leaves_no_partial_file_and_no_temporary(
    store: Path, driver: LocalDriver
) -> None:
    art = local(store, "wf/pod/out.tgz")
    seen: dict[str, object] = {}

    def look() -> None:  # mid-write: the key must not be visible, not even partly
        seen["exists"] = (store / "wf" / "pod" / "out.tgz").exists()
        seen["listing"] = driver.list_objects(local(store, "wf")) if seen["exists"] else None
        seen["temporaries"] = leftovers(store)

    with pytest.raises(ArtifactError, match="the packer failed"):
        driver.save_stream(FailingStream(3, look), art)  # type: ignore[arg-type]
    assert seen["exists"] is False
    assert len(seen["temporaries"]) == 1  # type: ignore[arg-type]
    assert not (store / "wf" / "pod" / "out.tgz").exists()
    assert leftovers(store) == []
    with pytest.raises(ArtifactError) as info:
        driver.list_objects(local(store, "wf"))
    assert info.value.code is ErrorCode.NOT_FOUND


def test_temporaries_are_never_listed_or_loaded(store: Path, driver: LocalDriver) -> None:
    (store / "d").mkdir()
    (store / "d" / "kept.txt").write_text("k")
    (store / "d" / f"{TMP_PREFIX}abc").write_text("in progress")
    (store / "d" / f"{TMP_PREFIX}dir").mkdir()
    (store / "d" / f"{TMP_PREFIX}dir" / "x").write_text("in progress")
    assert driver.list_objects(local(store, "d")) == ["d/kept.txt"]
    out = store.parent / "out"
    driver.load(local(store, "d"), out)
    assert files_under(out) == {"kept.txt": b"k"}


def test_a_failed_overwrite_keeps_the_old_object_whole(store: Path, driver: LocalDriver) -> None:
    art = local(store, "out.tgz")
    driver.save_stream(io.BytesIO(b"old contents"), art)
    with pytest.raises(ArtifactError):
        driver.save_stream(FailingStream(2), art)  # type: ignore[arg-type]
    assert (store / "out.tgz").read_bytes() == b"old contents"
    assert leftovers(store) == []


def test_an_open_stream_keeps_reading_the_version_it_opened(
    store: Path, driver: LocalDriver
) -> None:
    art = local(store, "v.bin")
    driver.save_stream(io.BytesIO(b"1" * 1000), art)
    stream = driver.open_stream(art)
    try:
        driver.save_stream(io.BytesIO(b"2" * 10), art)  # replaced, not rewritten in place
        assert stream.size == 1000
        assert stream.read() == b"1" * 1000
    finally:
        stream.close()


def test_a_file_truncated_in_place_while_read_is_a_transient_error(
    store: Path, driver: LocalDriver
) -> None:
    (store / "t.bin").write_bytes(b"x" * 100)
    stream = driver.open_stream(local(store, "t.bin"))
    try:
        os.truncate(store / "t.bin", 10)
        with pytest.raises(ArtifactError) as info:
            while stream.read(7):
                pass
    finally:
        stream.close()
    assert info.value.transient is True
    assert "ended after 10 of 100 bytes" in str(info.value)


def test_a_stop_request_ends_a_save(store: Path) -> None:
    stop = Stop()
    stop.set("terminated")
    driver = LocalDriver(context(stop=stop))
    with pytest.raises(ArtifactError, match="terminated"):
        driver.save_stream(io.BytesIO(b"x"), local(store, "k"))
    assert files_under(store) == {}


# --- files and directories ----------------------------------------------------------------------


def test_a_file_cannot_replace_a_directory_nor_a_directory_a_file(
    store: Path, tmp_path: Path, driver: LocalDriver
) -> None:
    (store / "dir").mkdir()
    (store / "dir" / "x").write_text("x")
    (store / "file").write_text("f")
    with pytest.raises(ArtifactError, match="is a directory") as info:
        driver.save_stream(io.BytesIO(b"y"), local(store, "dir"))
    assert info.value.code is ErrorCode.BAD_REQUEST
    with pytest.raises(ArtifactError, match="is a file") as info:
        driver.save(make_tree(tmp_path), local(store, "file"))
    assert info.value.code is ErrorCode.BAD_REQUEST
    assert files_under(store) == {"dir/x": b"x", "file": b"f"}


def test_a_directory_save_copies_regular_files_and_never_follows_symlinks(
    store: Path, tmp_path: Path, driver: LocalDriver
) -> None:
    (tmp_path / "secret.txt").write_text("secret\n")
    tree = make_tree(tmp_path)
    (tree / "leak").symlink_to(tmp_path / "secret.txt")
    (tree / "leak-dir").symlink_to(tmp_path)
    (tree / "inner-link").symlink_to(tree / "top.txt")
    result = driver.save(tree, local(store, "runs/tree"))
    stored = files_under(store / "runs" / "tree")
    assert set(stored) == {"top.txt", "a/b/c/deep.bin", "a/ünïcødé 文件.txt", "a/empty"}
    assert result.objects == 4
    assert result.size == sum(len(v) for v in stored.values())
    assert not any(p.is_symlink() for p in (store / "runs").rglob("*"))
    assert leftovers(store) == []


def test_saving_a_tree_onto_an_existing_one_merges_and_overwrites(
    store: Path, tmp_path: Path, driver: LocalDriver
) -> None:
    (store / "t" / "old").mkdir(parents=True)
    (store / "t" / "old" / "kept.txt").write_text("kept")
    (store / "t" / "top.txt").write_text("stale")
    driver.save(make_tree(tmp_path), local(store, "t"))
    stored = files_under(store / "t")
    assert stored["old/kept.txt"] == b"kept"
    assert stored["top.txt"] == b"top\n"
    assert stored["a/b/c/deep.bin"] == bytes(range(256)) * 100
    assert leftovers(store) == []


def test_list_objects_names_a_file_or_every_file_under_a_directory(
    store: Path, driver: LocalDriver
) -> None:
    for key in ("d/a", "d/b/c", "other/x", "single.tgz"):
        (store / key).parent.mkdir(parents=True, exist_ok=True)
        (store / key).write_text(key)
    assert driver.list_objects(local(store, "single.tgz")) == ["single.tgz"]
    assert sorted(driver.list_objects(local(store, "d/"))) == ["d/a", "d/b/c"]
    assert sorted(driver.list_objects(local(store, ""))) == [
        "d/a",
        "d/b/c",
        "other/x",
        "single.tgz",
    ]
    assert driver.is_directory(local(store, "d")) is True
    assert driver.is_directory(local(store, "single.tgz")) is False
    assert driver.is_directory(local(store, "missing")) is False


def test_delete_removes_files_and_trees_and_tolerates_what_is_gone(
    store: Path, driver: LocalDriver
) -> None:
    for key in ("f.tgz", "tree/a", "tree/b/c", "keep/k"):
        (store / key).parent.mkdir(parents=True, exist_ok=True)
        (store / key).write_text(key)
    (store / "link").symlink_to(store / "keep")
    driver.delete(local(store, "f.tgz"))
    driver.delete(local(store, "tree/"))
    driver.delete(local(store, "link"))  # the link only, never what it points to
    driver.delete(local(store, "never/there"))
    assert files_under(store) == {"keep/k": b"keep/k"}
    assert sorted(p.name for p in store.iterdir()) == ["keep"]


@pytest.mark.parametrize("key", ["", ".", "./"])
def test_writing_or_deleting_the_whole_root_is_refused(
    key: str, store: Path, tmp_path: Path, driver: LocalDriver
) -> None:
    (store / "k").write_text("k")
    for op in ("save", "save_stream", "delete"):
        art = Artifact.model_validate({"name": "a", "local": {"root": str(store), "key": key}})
        with pytest.raises(ArtifactError, match="whole root") as info:
            operations(tmp_path)[op](driver, art)
        assert info.value.code is ErrorCode.BAD_REQUEST
    assert files_under(store) == {"k": b"k"}


def test_progress_counts_every_byte_saved_and_loaded(store: Path, tmp_path: Path) -> None:
    counted: list[int] = []
    driver = LocalDriver(context(progress=counted.append))
    src = tmp_path / "big.bin"
    src.write_bytes(b"p" * (3 * 1024 * 1024 + 5))
    driver.save(src, local(store, "big.bin"))
    assert sum(counted) == src.stat().st_size
    counted.clear()
    driver.load(local(store, "big.bin"), tmp_path / "back.bin")
    assert sum(counted) == src.stat().st_size
    assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()


def test_the_driver_describes_its_location_and_needs_no_credentials(store: Path) -> None:
    art = local(store, "a/b.tgz")
    drv = driver_for(art, context())
    assert drv.kind == "local"
    assert drv.location(art) == f"file://{store}/a/b.tgz"
    assert "none" in drv.describe_credentials(art)


# --- locations, repositories and relocation -----------------------------------------------------


def test_local_locations_follow_the_s3_key_rules() -> None:
    assert has_location(local("/r", "k")) is True
    assert has_location(Artifact.model_validate({"name": "a", "local": {"key": "k"}})) is False
    assert has_location(Artifact.model_validate({"name": "a", "local": {"root": "/r"}})) is False
    assert get_key(local("/r", "a/b")) == "a/b"
    moved = with_key(local("/r", "a/b"), "c/d")
    assert moved.local is not None and (moved.local.root, moved.local.key) == ("/r", "c/d")
    bare = Artifact(name="a").model_copy(update={"local": {}})  # as the executor builds it
    assert with_key(bare, "k").to_wire() == {"name": "a", "local": {"key": "k"}}
    doc = {"name": "a", "local": {"root": "/r", "key": "k", "future": 1}}
    assert Artifact.model_validate(doc).to_wire() == doc


def test_local_is_the_last_kind_in_the_selection_order() -> None:
    both = Artifact.model_validate(
        {"name": "a", "local": {"root": "/r", "key": "k"}, "s3": {"bucket": "b", "key": "k"}}
    )
    assert both.location_kind() == "s3"
    assert local("/r", "k").location_kind() == "local"


def test_a_local_repository_relocates_key_only_artifacts_through_its_key_format(
    tmp_path: Path,
) -> None:
    root = tmp_path / "repo-root"
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"annotations": {"workflows.argoproj.io/default-artifact-repository": "here"}},
        "data": {
            "here": yaml.safe_dump(
                {"local": {"root": str(root), "keyFormat": "{{workflow.name}}/x/{{pod.name}}"}}
            )
        },
    }
    repo = select_repository(config_map)
    archive = repository_location(repo, {"workflow.name": "wf", "pod.name": "wf-1"})
    assert archive.to_wire() == {"local": {"root": str(root), "key": "wf/x/wf-1"}}

    # An output: <key format>/<name>.tgz, exactly as S3 would.
    (tmp_path / "result.txt").write_text("42\n")
    output = Artifact(name="result", path=str(tmp_path / "result.txt"))
    placed = prepare_output(output, archive)
    assert placed.to_wire()["local"] == {"root": str(root), "key": "wf/x/wf-1/result.tgz"}
    saved = save_artifact(placed, tmp_path / "result.txt", context())
    assert saved is not None and saved.key == "wf/x/wf-1/result.tgz"
    assert (root / "wf" / "x" / "wf-1" / "result.tgz").is_file()

    # An input carrying only its key (as a later step receives it) is relocated and loaded.
    key_only = Artifact.model_validate({"name": "in", "local": {"key": "wf/x/wf-1/result.tgz"}})
    assert has_location(key_only) is False
    located = relocate(key_only, archive)
    assert load_artifact(located, tmp_path / "in.txt", context()) is not None
    assert (tmp_path / "in.txt").read_text() == "42\n"


def test_a_bare_local_repository_uses_the_default_key_format() -> None:
    repo = select_repository({"local": {"root": "/srv/a"}})
    archive = repository_location(repo, {"workflow.name": "wf", "pod.name": "p"})
    assert archive.to_wire() == {"local": {"root": "/srv/a", "key": "wf/p"}}
    relocated = relocate(Artifact(name="x"), ArtifactLocation.model_validate(archive.to_wire()))
    assert relocated.local is not None and relocated.local.key == ""


def test_a_file_url_names_a_file_under_its_parent_directory() -> None:
    art = parse_location_url("file:///srv/store/wf/out%20put.tgz")
    assert art.name == "out-put"
    assert art.to_wire()["local"] == {"root": "/srv/store/wf", "key": "out put.tgz"}
    assert parse_location_url("file://localhost/srv/d/", name="n").to_wire() == {
        "name": "n",
        "local": {"root": "/srv", "key": "d"},
    }
    for bad in ("file:///", "file://host/x", "file:///x?y=1"):
        with pytest.raises(ArtifactError):
            parse_location_url(bad)


# --- the CLI ------------------------------------------------------------------------------------


def argoexec(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "argoexec", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


def test_put_get_ls_and_rm_round_trip_through_the_cli(store: Path, tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    loc = tmp_path / "loc.yaml"
    loc.write_text(yaml.safe_dump(local(store, "runs/tree.tgz", name="tree").to_wire()))

    put = argoexec("artifact", "put", str(tree), "--artifact", str(loc), "-o", "json")
    assert put.returncode == 0, put.stderr
    stored = (store / "runs" / "tree.tgz").read_bytes()
    assert json.loads(put.stdout)["key"] == "runs/tree.tgz"
    assert json.loads(put.stdout)["size"] == len(stored)

    get = argoexec("artifact", "get", "--artifact", str(loc), str(tmp_path / "out"))
    assert get.returncode == 0, get.stderr
    assert files_under(tmp_path / "out") == files_under(tree)

    ls = argoexec("artifact", "ls", f"file://{store}/runs")
    assert ls.returncode == 0, ls.stderr
    assert ls.stdout.splitlines() == ["runs/tree.tgz"]

    rm = argoexec("artifact", "rm", "--artifact", str(loc))
    assert rm.returncode == 0, rm.stderr
    assert files_under(store) == {}

    missing = argoexec("artifact", "get", "--artifact", str(loc), str(tmp_path / "again"))
    assert missing.returncode == 1
    assert "runs/tree.tgz" in missing.stderr
    assert not (tmp_path / "again").exists()


def test_put_through_a_local_repository_and_get_by_file_url(store: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo.yaml"
    repo.write_text(yaml.safe_dump({"local": {"root": str(store), "keyFormat": "{{wf}}/p"}}))
    (tmp_path / "report.txt").write_text("done\n")
    put = argoexec(
        "artifact", "put", str(tmp_path / "report.txt"), "--artifact", "{name: report}",
        "--repository", str(repo), "--var", "wf=wf-7", "-o", "json",
    )  # fmt: skip
    assert put.returncode == 0, put.stderr
    assert json.loads(put.stdout)["key"] == "wf-7/p/report.tgz"
    get = argoexec("artifact", "get", f"file://{store}/wf-7/p/report.tgz", str(tmp_path / "r.txt"))
    assert get.returncode == 0, get.stderr
    assert (tmp_path / "r.txt").read_text() == "done\n"


def test_a_traversal_key_in_an_artifact_document_fails_the_cli(store: Path, tmp_path: Path) -> None:
    doc = json.dumps({"name": "evil", "local": {"root": str(store), "key": "../escaped.txt"}})
    (tmp_path / "payload.txt").write_text("x\n")
    put = argoexec("artifact", "put", str(tmp_path / "payload.txt"), "--artifact", doc)
    assert put.returncode != 0
    assert "'..'" in put.stderr
    assert not (tmp_path / "escaped.txt").exists()
