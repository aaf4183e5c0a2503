"""save_artifact / load_artifact through the real S3 driver against moto on loopback."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import logging
import os
import stat
import tarfile
import tempfile
import threading
import zipfile
from pathlib import Path

import pytest

from argoexec.models import Artifact
from argoexec.retry import Backoff
from artifacts.driver import DriverContext
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.transfer import (
    clean_path,
    delete_artifact,
    list_objects,
    load_artifact,
    save_artifact,
)
from tests.servers.backend import Backend

MIB = 1024 * 1024


def make_tree(root: Path) -> Path:
    src = root / "out"
    (src / "sub" / "deep").mkdir(parents=True)
    (src / "empty").mkdir()
    (src / "a.txt").write_text("alpha\n")
    (src / "sub" / "b.bin").write_bytes(os.urandom(300_000))
    (src / "sub" / "deep" / "ünï.txt").write_text("unicode\n")
    os.symlink("a.txt", src / "link")
    return src


def files_of(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def with_settings(backend: Backend, **changes: object) -> DriverContext:
    settings = dataclasses.replace(
        backend.ctx.settings,
        backoff=Backoff(steps=3, duration=0.01, factor=1.0, jitter=0.0),
        **changes,  # type: ignore[arg-type]
    )
    return DriverContext(secrets=backend.ctx.secrets, settings=settings)


def leftovers(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.parent.iterdir() if p.name.startswith(dest.name + "."))


@pytest.fixture
def ctx(s3_moto: Backend) -> DriverContext:
    return with_settings(s3_moto)


def test_a_directory_round_trips_as_a_standard_tgz(
    s3_moto: Backend, ctx: DriverContext, tmp_path: Path
) -> None:
    src = make_tree(tmp_path)
    art = s3_moto.artifact("wf/pod/out.tgz", name="out")
    saved = save_artifact(art, src, ctx)
    assert saved is not None
    stored = s3_moto.get_object("wf/pod/out.tgz")
    assert (saved.size, saved.sha256) == (len(stored), hashlib.sha256(stored).hexdigest())
    with tarfile.open(fileobj=io.BytesIO(stored)) as tar:
        assert tar.getnames()[:3] == ["out", "out/a.txt", "out/empty"]
    dest = tmp_path / "inputs" / "out"
    loaded = load_artifact(art, dest, ctx, expected_sha256=saved.sha256)
    assert loaded is not None
    assert (loaded.unpacked, loaded.sha256, loaded.size) == ("tar", saved.sha256, saved.size)
    assert files_of(dest) == files_of(src)
    assert os.readlink(dest / "link") == "a.txt"
    assert leftovers(dest) == []


def test_a_file_saved_with_tar_loads_back_as_the_file(
    s3_moto: Backend, ctx: DriverContext, tmp_path: Path
) -> None:
    (tmp_path / "result.json").write_text('{"ok": true}\n')
    art = s3_moto.artifact("k/result.tgz", name="result")
    save_artifact(art, tmp_path / "result.json", ctx)
    with tarfile.open(fileobj=io.BytesIO(s3_moto.get_object("k/result.tgz"))) as tar:
        assert tar.getnames() == ["result.json"]
    dest = tmp_path / "in" / "result"
    load_artifact(art, dest, ctx)
    assert dest.read_text() == '{"ok": true}\n'


def test_the_template_compression_level_is_used(
    s3_moto: Backend, ctx: DriverContext, tmp_path: Path
) -> None:
    (tmp_path / "zeros").write_bytes(bytes(MIB))
    stored_art = s3_moto.artifact("k/z0.tgz", archive={"tar": {"compressionLevel": 0}})
    fast_art = s3_moto.artifact("k/z1.tgz", archive={"tar": {"compressionLevel": 1}})
    save_artifact(stored_art, tmp_path / "zeros", ctx)
    save_artifact(fast_art, tmp_path / "zeros", ctx)
    assert len(s3_moto.get_object("k/z0.tgz")) > MIB
    assert len(s3_moto.get_object("k/z1.tgz")) < MIB // 10


def test_archive_none_stores_a_file_verbatim_and_loads_it_as_is(
    s3_moto: Backend, ctx: DriverContext, tmp_path: Path
) -> None:
    data = gzip.compress(b"looks like gzip but is not a tar" * 100)
    (tmp_path / "blob.gz").write_bytes(data)
    art = s3_moto.artifact("k/blob.gz", archive={"none": {}})
    saved = save_artifact(art, tmp_path / "blob.gz", ctx)
    assert saved is not None and saved.sha256 == hashlib.sha256(data).hexdigest()
    assert s3_moto.get_object("k/blob.gz") == data
    dest = tmp_path / "in" / "blob"
    loaded = load_artifact(s3_moto.artifact("k/blob.gz"), dest, ctx)
    assert loaded is not None and loaded.unpacked == "none"
    assert dest.read_bytes() == data


def test_archive_none_of_a_directory_loads_back_through_the_directory_path(
    s3_moto: Backend, ctx: DriverContext, tmp_path: Path
) -> None:
    src = make_tree(tmp_path)
    art = s3_moto.artifact("k/tree", archive={"none": {}})
    saved = save_artifact(art, src, ctx)
    assert saved is not None and saved.objects == 3
    dest = tmp_path / "in" / "tree"
    loaded = load_artifact(art, dest, ctx, expected_sha256=saved.sha256)
    assert loaded is not None
    assert (loaded.unpacked, loaded.sha256) == ("directory", saved.sha256)
    assert files_of(dest) == files_of(src)
    assert leftovers(dest) == []


def test_a_directory_whose_tree_digest_differs_is_refused(
    s3_moto: Backend, ctx: DriverContext, tmp_path: Path
) -> None:
    src = make_tree(tmp_path)
    art = s3_moto.artifact("k/tree", archive={"none": {}})
    saved = save_artifact(art, src, ctx)
    assert saved is not None
    s3_moto.put_object("k/tree/a.txt", b"tampered\n")
    dest = tmp_path / "in" / "tree"
    with pytest.raises(ArtifactError) as err:
        load_artifact(art, dest, ctx, expected_sha256=saved.sha256)
    assert err.value.code is ErrorCode.INTEGRITY
    assert not dest.exists() and leftovers(dest) == []


def test_zip_round_trips_a_directory_and_names_a_single_file_by_basename(
    s3_moto: Backend, ctx: DriverContext, tmp_path: Path
) -> None:
    src = make_tree(tmp_path)
    art = s3_moto.artifact("k/out.zip", archive={"zip": {}})
    save_artifact(art, src, ctx)
    with zipfile.ZipFile(io.BytesIO(s3_moto.get_object("k/out.zip"))) as zf:
        assert zf.namelist() == ["out/a.txt", "out/sub/b.bin", "out/sub/deep/ünï.txt"]
    dest = tmp_path / "in" / "out"
    loaded = load_artifact(art, dest, ctx)
    assert loaded is not None and loaded.unpacked == "zip"
    assert files_of(dest) == files_of(src)
    assert leftovers(dest) == []

    one = s3_moto.artifact("k/one.zip", archive={"zip": {}})
    save_artifact(one, src / "a.txt", ctx)
    with zipfile.ZipFile(io.BytesIO(s3_moto.get_object("k/one.zip"))) as zf:
        assert zf.namelist() == ["a.txt"]


def test_a_zip_without_archive_zip_is_placed_as_is(
    s3_moto: Backend, ctx: DriverContext, tmp_path: Path
) -> None:
    save_artifact(s3_moto.artifact("k/out.zip", archive={"zip": {}}), make_tree(tmp_path), ctx)
    dest = tmp_path / "in" / "z"
    loaded = load_artifact(s3_moto.artifact("k/out.zip"), dest, ctx)
    assert loaded is not None and loaded.unpacked == "none"
    assert zipfile.is_zipfile(dest)


def test_a_missing_optional_output_is_skipped_and_a_required_one_is_not_found(
    s3_moto: Backend, ctx: DriverContext, tmp_path: Path
) -> None:
    art = s3_moto.artifact("k/x.tgz", name="x", path="/tmp/missing", optional=True)
    assert save_artifact(art, tmp_path / "missing", ctx) is None
    required = s3_moto.artifact("k/x.tgz", name="x", path="/tmp/missing")
    with pytest.raises(ArtifactError) as err:
        save_artifact(required, tmp_path / "missing", ctx)
    assert err.value.code is ErrorCode.NOT_FOUND
    assert "/tmp/missing no such file or directory" in str(err.value)
    assert "artifact 'x' (s3) at s3://" in str(err.value)
    assert s3_moto.list_keys("k/") == []


def test_a_missing_optional_input_is_skipped_and_a_required_one_is_not_found(
    s3_moto: Backend, ctx: DriverContext, tmp_path: Path
) -> None:
    dest = tmp_path / "in" / "x"
    assert load_artifact(s3_moto.artifact("nope", optional=True), dest, ctx) is None
    with pytest.raises(ArtifactError) as err:
        load_artifact(s3_moto.artifact("nope", name="x"), dest, ctx)
    assert err.value.code is ErrorCode.NOT_FOUND
    assert "nope" in str(err.value) and "artifact 'x'" in str(err.value)
    assert not dest.exists() and leftovers(dest) == []


def test_an_input_that_was_not_supplied(ctx: DriverContext, tmp_path: Path) -> None:
    dest = tmp_path / "x"
    assert load_artifact(Artifact(name="x", optional=True), dest, ctx) is None
    with pytest.raises(ArtifactError, match="required artifact 'x' not supplied") as err:
        load_artifact(Artifact(name="x"), dest, ctx)
    assert err.value.code is ErrorCode.NOT_FOUND


def test_a_flipped_stored_byte_fails_the_digest_and_leaves_nothing(
    s3_moto: Backend, ctx: DriverContext, tmp_path: Path
) -> None:
    (tmp_path / "data.bin").write_bytes(os.urandom(100_000))
    art = s3_moto.artifact("k/data.bin", archive={"none": {}})
    saved = save_artifact(art, tmp_path / "data.bin", ctx)
    assert saved is not None
    stored = bytearray(s3_moto.get_object("k/data.bin"))
    stored[50_000] ^= 0x01
    s3_moto.put_object("k/data.bin", bytes(stored))
    dest = tmp_path / "in" / "data"
    with pytest.raises(ArtifactError) as err:
        load_artifact(art, dest, ctx, expected_sha256=saved.sha256)
    assert err.value.code is ErrorCode.INTEGRITY
    assert saved.sha256 in str(err.value)
    assert not dest.exists() and leftovers(dest) == []


def test_a_flipped_byte_in_a_stored_tarball_is_an_integrity_error(
    s3_moto: Backend, ctx: DriverContext, tmp_path: Path
) -> None:
    art = s3_moto.artifact("k/out.tgz")
    saved = save_artifact(art, make_tree(tmp_path), ctx)
    assert saved is not None
    stored = bytearray(s3_moto.get_object("k/out.tgz"))
    stored[len(stored) // 2] ^= 0x10
    s3_moto.put_object("k/out.tgz", bytes(stored))
    dest = tmp_path / "in" / "out"
    with pytest.raises(ArtifactError) as err:
        load_artifact(art, dest, ctx, expected_sha256=saved.sha256)
    assert err.value.code is ErrorCode.INTEGRITY
    assert not dest.exists() and leftovers(dest) == []


def test_a_hostile_tarball_leaves_nothing_at_the_destination(
    s3_moto: Backend, ctx: DriverContext, tmp_path: Path
) -> None:
    from tests.fixtures.make_malicious import HERE

    s3_moto.put_object("k/evil.tgz", (HERE / "symlink_escape_after_rename.tgz").read_bytes())
    dest = tmp_path / "in" / "evil"
    with pytest.raises(ArtifactError, match="illegal symlink target"):
        load_artifact(s3_moto.artifact("k/evil.tgz"), dest, ctx)
    assert not dest.exists() and leftovers(dest) == []


def test_the_extract_size_cap_applies_to_loads(s3_moto: Backend, tmp_path: Path) -> None:
    ctx = with_settings(s3_moto, max_extract_bytes=100_000)
    art = s3_moto.artifact("k/out.tgz")
    save_artifact(art, make_tree(tmp_path), ctx)
    dest = tmp_path / "in" / "out"
    with pytest.raises(ArtifactError, match="beyond the size cap of 100000 bytes"):
        load_artifact(art, dest, ctx)
    assert not dest.exists()


@pytest.mark.parametrize("sub_path", [None, "sparse.bin"])
def test_a_sparse_bomb_is_refused_by_the_default_cap_naming_the_artifact(
    s3_moto: Backend, ctx: DriverContext, tmp_path: Path, sub_path: str | None
) -> None:
    from tests.fixtures.make_malicious import HERE

    assert ctx.settings.max_extract_bytes is None  # the default: a share of the free space
    s3_moto.put_object("k/sparse.tgz", (HERE / "sparse_gnu.tgz").read_bytes())
    art = s3_moto.artifact("k/sparse.tgz", name="bomb", subPath=sub_path)
    dest = tmp_path / "in" / "bomb"
    with pytest.raises(ArtifactError) as err:
        load_artifact(art, dest, ctx)
    text = str(err.value)
    assert text.startswith("artifact 'bomb' (s3)")
    assert "beyond the size cap" in text and "free on the destination's disk" in text
    assert "set ARGOEXEC_MAX_EXTRACT_BYTES to a larger number of bytes" in text
    assert not dest.exists() and leftovers(dest) == []


def test_mode_and_recurse_mode_are_applied_after_loading(
    s3_moto: Backend, ctx: DriverContext, tmp_path: Path
) -> None:
    save_artifact(s3_moto.artifact("k/out.tgz"), make_tree(tmp_path), ctx)
    dest = tmp_path / "in" / "out"
    load_artifact(s3_moto.artifact("k/out.tgz", mode=0o700, recurseMode=True), dest, ctx)
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(dest / "sub" / "b.bin").st_mode) == 0o700


def test_each_operation_logs_exactly_one_line_with_its_fields(
    s3_moto: Backend, ctx: DriverContext, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="argoexec.artifacts")
    art = s3_moto.artifact("k/out.tgz", name="out")
    saved = save_artifact(art, make_tree(tmp_path), ctx)
    load_artifact(s3_moto.artifact("missing", name="opt", optional=True), tmp_path / "o", ctx)
    records = [r for r in caplog.records if r.name == "argoexec.artifacts"]
    assert [r.getMessage() for r in records] == ["Save artifact", "Load artifact"]
    save, skipped = records
    assert saved is not None
    assert save.__dict__["artifact"] == "out"
    assert save.__dict__["kind"] == "s3"
    assert "k/out.tgz" in save.__dict__["location"]
    assert save.__dict__["bytes"] == saved.size
    assert save.__dict__["outcome"] == "ok"
    assert save.__dict__["duration"] >= 0
    assert skipped.__dict__["outcome"] == "skipped"


def test_progress_counts_every_downloaded_byte(
    s3_moto: Backend, ctx: DriverContext, tmp_path: Path
) -> None:
    saved = save_artifact(s3_moto.artifact("k/out.tgz"), make_tree(tmp_path), ctx)
    seen: list[int] = []
    counting = DriverContext(secrets=ctx.secrets, settings=ctx.settings, progress=seen.append)
    load_artifact(s3_moto.artifact("k/out.tgz"), tmp_path / "in", counting)
    assert saved is not None and sum(seen) == saved.size


def test_no_temporary_file_is_written_while_a_directory_is_saved(
    s3_moto: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "tmp"
    empty.mkdir()
    monkeypatch.setenv("TMPDIR", str(empty))
    monkeypatch.setattr(tempfile, "tempdir", str(empty))
    ctx = with_settings(s3_moto, tmp_dir=empty)
    src = tmp_path / "work" / "big"
    src.mkdir(parents=True)
    for i in range(30):
        (src / f"f{i:02}.bin").write_bytes(os.urandom(MIB))
    before = set(os.listdir(tmp_path)) | {"tmp-seen"}
    seen: set[str] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.update(os.listdir(empty))
            seen.update(os.listdir(src.parent))
            done.wait(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        saved = save_artifact(s3_moto.artifact("k/big.tgz"), src, ctx)
    finally:
        done.set()
        watcher.join()
    assert saved is not None and saved.size > 30 * MIB
    assert seen == {"big"}
    assert set(os.listdir(tmp_path)) | {"tmp-seen"} == before


def test_the_stop_token_aborts_a_save(s3_moto: Backend, tmp_path: Path) -> None:
    ctx = with_settings(s3_moto)
    ctx.stop.set("SIGTERM")
    with pytest.raises(ArtifactError, match="SIGTERM"):
        save_artifact(s3_moto.artifact("k/out.tgz"), make_tree(tmp_path), ctx)


@pytest.mark.parametrize(
    ("path", "cleaned"),
    [
        ("/tmp/out//x/", "/tmp/out/x"),
        ("/a/b/../b/c", "/a/b/c"),
        ("relative/./p", "relative/p"),
    ],
)
def test_clean_path_normalises(path: str, cleaned: str) -> None:
    assert clean_path("a", path) == cleaned


@pytest.mark.parametrize("path", ["/tmp/../etc/passwd", "/tmp/x/..", "/a/b/../c", "/tmp/../tmpfoo"])
def test_clean_path_refuses_traversal(path: str) -> None:
    with pytest.raises(ArtifactError, match="Directory traversal is not permitted"):
        clean_path("a", path)


def test_clean_path_refuses_an_empty_path() -> None:
    with pytest.raises(ArtifactError, match="Artifact 'a' did not specify a path"):
        clean_path("a", "")


def test_a_traversing_artifact_path_is_refused_before_any_transfer(
    s3_moto: Backend, ctx: DriverContext, tmp_path: Path
) -> None:
    art = s3_moto.artifact("k/x.tgz", name="x", path="/tmp/../etc/passwd")
    with pytest.raises(ArtifactError, match=r"attempted to use a path containing '\.\.'"):
        save_artifact(art, make_tree(tmp_path), ctx)
    assert s3_moto.list_keys("k/") == []


def test_an_invalid_compression_level_is_refused_before_uploading(
    s3_moto: Backend, ctx: DriverContext, tmp_path: Path
) -> None:
    art = s3_moto.artifact("k/x.tgz", archive={"tar": {"compressionLevel": 12}})
    with pytest.raises(ArtifactError, match="invalid compression level 12") as err:
        save_artifact(art, make_tree(tmp_path), ctx)
    assert err.value.code is ErrorCode.BAD_REQUEST
    assert s3_moto.list_keys("k/") == []


def test_a_producer_failure_mid_stream_aborts_the_upload_with_its_own_error(
    s3_moto: Backend, ctx: DriverContext, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(12):  # > 2 parts of 5 MiB: the multipart upload is under way
        (src / f"f{i:02}.bin").write_bytes(os.urandom(MIB))
    os.mkfifo(src / "zz-fifo")  # walked last; cannot be archived
    with pytest.raises(ArtifactError) as err:
        save_artifact(s3_moto.artifact("k/x.tgz", name="x"), src, ctx)
    assert err.value.code is ErrorCode.BAD_REQUEST
    assert "zz-fifo" in str(err.value) and "artifact 'x'" in str(err.value)
    assert s3_moto.list_keys("k/") == []


def test_the_stop_token_aborts_a_load_and_leaves_nothing(
    s3_moto: Backend, ctx: DriverContext, tmp_path: Path
) -> None:
    save_artifact(s3_moto.artifact("k/out.tgz"), make_tree(tmp_path), ctx)
    stopping = DriverContext(secrets=ctx.secrets, settings=ctx.settings)
    stopping.stop.set("SIGTERM")
    dest = tmp_path / "in" / "out"
    with pytest.raises(ArtifactError, match="download stopped: SIGTERM"):
        load_artifact(s3_moto.artifact("k/out.tgz"), dest, stopping)
    assert not dest.exists() and leftovers(dest) == []


def test_listing_and_deleting_go_through_the_transfer_layer(
    s3_moto: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    s3_moto.put_object("gc/run/a.txt", b"a")
    s3_moto.put_object("gc/run/sub/b.txt", b"b")
    art = s3_moto.artifact("gc/run", name="outputs")
    with caplog.at_level(logging.INFO, logger="argoexec.artifacts"):
        assert sorted(list_objects(art, s3_moto.ctx)) == ["gc/run/a.txt", "gc/run/sub/b.txt"]
        delete_artifact(s3_moto.artifact("gc/run/"), s3_moto.ctx)
    assert s3_moto.list_keys("gc/") == []
    ours = [r.getMessage() for r in caplog.records if r.name == "argoexec.artifacts"]
    assert ours == ["List artifact", "Delete artifact"]
    with pytest.raises(ArtifactError) as info:
        list_objects(art, s3_moto.ctx)
    assert info.value.code is ErrorCode.NOT_FOUND
    assert "outputs" in str(info.value)
    assert "gc/run" in str(info.value)
