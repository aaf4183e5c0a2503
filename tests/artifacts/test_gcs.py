"""The GCS driver against fake-gcs-server: round trips, directories, streams, listing, deletion.

Objects are planted and read back with raw JSON API calls (``Backend``), never with the driver.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from artifacts.driver import SaveResult
from artifacts.drivers.gcs import GCSDriver
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.registry import load_factory
from artifacts.settings import MIB, TransferSettings
from artifacts.streams import sha256_file, tree_digest
from tests.artifacts.trees import make_tree
from tests.servers.backend import Backend
from tests.servers.gcs import RecordingProxy, gcs_context

pytestmark = pytest.mark.gcs


def driver(backend: Backend) -> GCSDriver:
    return GCSDriver(backend.ctx)


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


class ChunkedSource:
    """A non-seekable stream of ``size`` pseudo-random bytes, optionally failing part way."""

    def __init__(self, size: int, fail_after: int | None = None) -> None:
        self.size = size
        self.fail_after = fail_after
        self.sent = 0
        self.digest = hashlib.sha256()
        self.block = os.urandom(MIB + 7)  # odd length: chunk boundaries never line up

    def read(self, n: int = -1) -> bytes:
        if self.fail_after is not None and self.sent >= self.fail_after:
            raise OSError("source broke")
        n = min(n if n >= 0 else self.size, self.size - self.sent, len(self.block))
        data = self.block[:n]
        self.sent += len(data)
        self.digest.update(data)
        return data


# -- round trips ----------------------------------------------------------------------------------


def test_the_registry_builds_the_gcs_driver(gcs_backend: Backend) -> None:
    made = load_factory("gcs")(gcs_backend.ctx)
    assert isinstance(made, GCSDriver)
    bucket = gcs_backend.extra["bucket"]
    assert made.location(gcs_backend.artifact("a/b/")) == f"gs://{bucket}/a/b"


def test_a_file_round_trips_byte_identical(gcs_backend: Backend, tmp_path: Path) -> None:
    src = tmp_path / "data.bin"
    src.write_bytes(os.urandom(300_000))
    art = gcs_backend.artifact("runs/1/data.bin")
    result = driver(gcs_backend).save(src, art)
    size, digest = sha256_file(src)
    assert result == SaveResult(key="runs/1/data.bin", size=size, sha256=digest, objects=1)
    assert gcs_backend.get_object("runs/1/data.bin") == src.read_bytes()
    dest = tmp_path / "out" / "data.bin"
    driver(gcs_backend).load(art, dest)
    assert dest.read_bytes() == src.read_bytes()


def test_an_empty_file_round_trips(gcs_backend: Backend, tmp_path: Path) -> None:
    src = tmp_path / "empty"
    src.write_bytes(b"")
    art = gcs_backend.artifact("empty")
    result = driver(gcs_backend).save(src, art)
    assert (result.size, result.sha256) == (0, hashlib.sha256(b"").hexdigest())
    assert gcs_backend.get_object("empty") == b""
    driver(gcs_backend).load(art, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == b""


def test_a_nested_unicode_directory_round_trips_object_by_object(
    gcs_backend: Backend, tmp_path: Path
) -> None:
    tree = make_tree(tmp_path)
    expected = files_of(tree)
    result = driver(gcs_backend).save(tree, gcs_backend.artifact("dirs/tree"))
    assert result.objects == len(expected)
    assert result.size == sum(len(v) for v in expected.values())
    assert result.sha256 == tree_digest(
        [(rel, hashlib.sha256(data).hexdigest()) for rel, data in expected.items()]
    )
    assert gcs_backend.list_keys("dirs/") == sorted(f"dirs/tree/{rel}" for rel in expected)
    assert gcs_backend.get_object("dirs/tree/a/ünïcødé 文件.txt") == b"unicode name\n"
    dest = tmp_path / "loaded"
    driver(gcs_backend).load(gcs_backend.artifact("dirs/tree/"), dest)
    assert files_of(dest) == expected


def test_symlinks_in_a_saved_directory_are_skipped(gcs_backend: Backend, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "real.txt").write_text("real")
    (tree / "link.txt").symlink_to(tree / "real.txt")
    result = driver(gcs_backend).save(tree, gcs_backend.artifact("links"))
    assert result.objects == 1
    assert gcs_backend.list_keys("links/") == ["links/real.txt"]


def test_an_empty_directory_saves_nothing_and_then_loads_as_not_found(
    gcs_backend: Backend, tmp_path: Path
) -> None:
    (tmp_path / "nothing").mkdir()
    result = driver(gcs_backend).save(tmp_path / "nothing", gcs_backend.artifact("void"))
    assert (result.objects, result.size) == (0, 0)
    assert gcs_backend.list_keys("void") == []
    with pytest.raises(ArtifactError) as info:
        driver(gcs_backend).load(gcs_backend.artifact("void"), tmp_path / "out")
    assert info.value.code is ErrorCode.NOT_FOUND


def test_a_large_file_is_saved_through_a_resumable_upload(
    gcs_recording_proxy: RecordingProxy, gcs_backend: Backend, tmp_path: Path
) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(9 * MIB + 5))
    ctx = gcs_context(gcs_recording_proxy.url)
    result = GCSDriver(ctx).save(src, gcs_backend.artifact("big.bin"))
    assert (result.size, result.sha256) == sha256_file(src)
    assert gcs_backend.get_object("big.bin") == src.read_bytes()
    assert any("uploadType=resumable" in path for _m, path, _a in gcs_recording_proxy.requests)


def test_a_20_mib_stream_is_saved_byte_identical_through_a_resumable_upload(
    gcs_recording_proxy: RecordingProxy, gcs_backend: Backend
) -> None:
    source = ChunkedSource(20 * MIB)
    ctx = gcs_context(gcs_recording_proxy.url)
    result = GCSDriver(ctx).save_stream(source, gcs_backend.artifact("stream/big.bin"))  # type: ignore[arg-type]
    assert (result.size, result.sha256) == (20 * MIB, source.digest.hexdigest())
    stored = gcs_backend.get_object("stream/big.bin")
    assert hashlib.sha256(stored).hexdigest() == source.digest.hexdigest()
    methods = [m for m, path, _a in gcs_recording_proxy.requests if "upload" in path]
    assert methods.count("POST") == 1  # one session ...
    assert methods.count("PUT") == 3  # ... fed in 8 MiB chunks


def test_a_stream_that_fails_part_way_leaves_nothing_at_the_key(
    gcs_recording_proxy: RecordingProxy, gcs_backend: Backend
) -> None:
    source = ChunkedSource(20 * MIB, fail_after=10 * MIB)
    gcs = GCSDriver(gcs_context(gcs_recording_proxy.url))
    with pytest.raises(ArtifactError) as info:
        gcs.save_stream(source, gcs_backend.artifact("broken.bin"))  # type: ignore[arg-type]
    assert "source broke" in str(info.value)
    assert gcs_backend.list_keys("broken") == []
    sent = [(m, path) for m, path, _a in gcs_recording_proxy.requests if "upload" in path]
    assert [m for m, _p in sent] == ["POST", "PUT", "DELETE"]  # first chunk sent, then cancelled


def test_progress_is_reported_for_saves_and_loads(gcs_backend: Backend, tmp_path: Path) -> None:
    moved: list[int] = []
    gcs_backend.ctx.progress = moved.append
    src = tmp_path / "p.bin"
    src.write_bytes(b"x" * 5000)
    driver(gcs_backend).save(src, gcs_backend.artifact("p.bin"))
    driver(gcs_backend).load(gcs_backend.artifact("p.bin"), tmp_path / "back")
    assert sum(moved) == 10_000


# -- the key rules --------------------------------------------------------------------------------


def test_a_key_is_not_a_plain_string_prefix(gcs_backend: Backend, tmp_path: Path) -> None:
    # Argo's GCS driver would load foobar/x and foo.tgz for key "foo" (quirk §15.10); we do not.
    gcs_backend.put_object("foobar/x", b"not me")
    gcs_backend.put_object("foo.tgz", b"nor me")
    with pytest.raises(ArtifactError) as info:
        driver(gcs_backend).load(gcs_backend.artifact("foo"), tmp_path / "out")
    assert info.value.code is ErrorCode.NOT_FOUND
    assert "no results for key: foo" in str(info.value)
    gcs_backend.put_object("foo/inside", b"me")
    driver(gcs_backend).load(gcs_backend.artifact("foo"), tmp_path / "out")
    assert files_of(tmp_path / "out") == {"inside": b"me"}


def test_an_object_named_exactly_like_the_key_wins_over_objects_under_it(
    gcs_backend: Backend, tmp_path: Path
) -> None:
    gcs_backend.put_object("both", b"the file")
    gcs_backend.put_object("both/child", b"a child")
    driver(gcs_backend).load(gcs_backend.artifact("both"), tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == b"the file"


def test_folder_markers_are_skipped_when_loading_a_directory(
    gcs_backend: Backend, tmp_path: Path
) -> None:
    gcs_backend.put_object("d/", b"")
    gcs_backend.put_object("d/sub/", b"")
    gcs_backend.put_object("d/sub/file", b"data")
    driver(gcs_backend).load(gcs_backend.artifact("d"), tmp_path / "out")
    assert files_of(tmp_path / "out") == {"sub/file": b"data"}


def test_a_trailing_slash_is_cleaned_from_the_key(gcs_backend: Backend, tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_text("x")
    assert driver(gcs_backend).save(src, gcs_backend.artifact("k//v/")).key == "k/v"
    assert gcs_backend.list_keys("k") == ["k/v"]


def test_backslashes_in_keys_are_kept(gcs_backend: Backend, tmp_path: Path) -> None:
    # NormalizeGCSKey (§16.13): converting backslashes is Windows-only in Argo.
    src = tmp_path / "f"
    src.write_text("x")
    assert driver(gcs_backend).save(src, gcs_backend.artifact("utils\\p4")).key == "utils\\p4"
    assert gcs_backend.get_object("utils\\p4") == b"x"


def test_object_names_that_escape_the_destination_are_refused(
    gcs_backend: Backend, tmp_path: Path
) -> None:
    gcs_backend.put_object("evil/../../outside.txt", b"gotcha")
    with pytest.raises(ArtifactError) as info:
        driver(gcs_backend).load(gcs_backend.artifact("evil"), tmp_path / "dest" / "out")
    assert info.value.code is ErrorCode.BAD_REQUEST
    assert "outside the destination" in str(info.value)
    assert not (tmp_path / "outside.txt").exists()
    assert not (tmp_path / "dest" / "outside.txt").exists()


# -- missing keys and error messages --------------------------------------------------------------


def test_a_missing_key_is_not_found_naming_the_artifact_bucket_and_key(
    gcs_backend: Backend, tmp_path: Path
) -> None:
    art = gcs_backend.artifact("does/not/exist", name="my-input")
    bucket = gcs_backend.extra["bucket"]
    for call in (
        lambda: driver(gcs_backend).load(art, tmp_path / "x"),
        lambda: driver(gcs_backend).open_stream(art),
        lambda: driver(gcs_backend).list_objects(art),
    ):
        with pytest.raises(ArtifactError) as info:
            call()
        assert info.value.code is ErrorCode.NOT_FOUND
        assert not info.value.transient
        text = str(info.value)
        assert "my-input" in text
        assert f"gs://{bucket}/does/not/exist" in text
        assert "no results for key: does/not/exist" in text
    assert not (tmp_path / "x").exists()


def test_a_missing_bucket_is_not_found(gcs_backend: Backend, tmp_path: Path) -> None:
    art = gcs_backend.artifact("k").model_copy(deep=True)
    assert art.gcs is not None
    art.gcs.bucket = "no-such-bucket-here"
    with pytest.raises(ArtifactError) as info:
        driver(gcs_backend).load(art, tmp_path / "x")
    assert info.value.code is ErrorCode.NOT_FOUND
    assert "gs://no-such-bucket-here/k" in str(info.value)


def test_a_missing_local_path_is_not_found_on_save(gcs_backend: Backend, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError) as info:
        driver(gcs_backend).save(tmp_path / "absent", gcs_backend.artifact("k", name="result"))
    assert info.value.code is ErrorCode.NOT_FOUND
    assert "result" in str(info.value)


def test_an_artifact_without_a_bucket_is_a_bad_request(gcs_backend: Backend) -> None:
    art = gcs_backend.artifact("k").model_copy(deep=True)
    assert art.gcs is not None
    art.gcs.bucket = None
    with pytest.raises(ArtifactError) as info:
        driver(gcs_backend).list_objects(art)
    assert info.value.code is ErrorCode.BAD_REQUEST


def test_an_unreachable_endpoint_is_a_transient_error(gcs_backend: Backend, tmp_path: Path) -> None:
    from tests.servers.procs import free_port

    ctx = gcs_context(f"127.0.0.1:{free_port()}")  # bare host:port, as STORAGE_EMULATOR_HOST
    with pytest.raises(ArtifactError) as info:
        GCSDriver(ctx, sdk_retry_timeout=0).load(gcs_backend.artifact("k"), tmp_path / "x")
    assert info.value.transient
    assert "connection refused" in str(info.value).lower()
    assert f"gs://{gcs_backend.extra['bucket']}/k" in str(info.value)


@pytest.mark.parametrize(
    "case",
    [
        (503, ErrorCode.INTERNAL, True),
        (429, ErrorCode.INTERNAL, True),
        (403, ErrorCode.FORBIDDEN, False),
        (401, ErrorCode.FORBIDDEN, False),
    ],
    ids=["503", "429", "403", "401"],
)
def test_server_errors_are_classified(
    gcs_recording_proxy: RecordingProxy,
    gcs_backend: Backend,
    tmp_path: Path,
    case: tuple[int, ErrorCode, bool],
) -> None:
    status, code, transient = case
    gcs_backend.put_object("k", b"v")
    gcs_recording_proxy.fail_status, gcs_recording_proxy.fail_with = 100, status
    ctx = gcs_context(gcs_recording_proxy.url)
    with pytest.raises(ArtifactError) as info:
        GCSDriver(ctx, sdk_retry_timeout=0).load(gcs_backend.artifact("k"), tmp_path / "x")
    assert (info.value.code, info.value.transient) == (code, transient)
    if code is ErrorCode.FORBIDDEN:
        assert "credentials: anonymous (emulator endpoint" in str(info.value)


def test_the_sdk_retries_a_brief_server_error_itself(
    gcs_recording_proxy: RecordingProxy, gcs_backend: Backend, tmp_path: Path
) -> None:
    gcs_backend.put_object("k", b"v")
    gcs_recording_proxy.fail_status = 1
    GCSDriver(gcs_context(gcs_recording_proxy.url)).load(gcs_backend.artifact("k"), tmp_path / "x")
    assert (tmp_path / "x").read_bytes() == b"v"


# -- open_stream ----------------------------------------------------------------------------------


def test_open_stream_reads_an_object_in_bounded_chunks(gcs_backend: Backend) -> None:
    payload = os.urandom(3 * MIB + 11)
    gcs_backend.put_object("s.bin", payload)
    ctx = gcs_backend.ctx
    ctx.settings = TransferSettings(gcs_endpoint=ctx.settings.gcs_endpoint, part_size=256 * 1024)
    stream = GCSDriver(ctx).open_stream(gcs_backend.artifact("s.bin"))
    try:
        assert stream.size == len(payload)
        got = bytearray()
        buffer = bytearray(100_000)
        while n := stream.readinto(buffer):
            got += buffer[:n]
        assert bytes(got) == payload
        assert stream.read(10) == b""
    finally:
        stream.close()


def test_open_stream_on_a_directory_is_not_implemented(gcs_backend: Backend) -> None:
    gcs_backend.put_object("dir/a", b"a")
    with pytest.raises(ArtifactError) as info:
        driver(gcs_backend).open_stream(gcs_backend.artifact("dir"))
    assert info.value.code is ErrorCode.NOT_IMPLEMENTED


# -- list, is_directory, delete -------------------------------------------------------------------


def test_list_objects_lists_everything_under_the_key_recursively(gcs_backend: Backend) -> None:
    for key in ("l/a", "l/b/c", "l/b/", "lx/not-me", "l"):
        gcs_backend.put_object(key, b"1")
    assert sorted(driver(gcs_backend).list_objects(gcs_backend.artifact("l/"))) == ["l/a", "l/b/c"]
    assert driver(gcs_backend).list_objects(gcs_backend.artifact("l/a")) == ["l/a"]


def test_is_directory_is_true_only_for_keys_with_objects_under_them(gcs_backend: Backend) -> None:
    gcs_backend.put_object("tree/leaf", b"1")
    gcs_backend.put_object("treetop", b"1")
    is_dir = driver(gcs_backend).is_directory
    assert is_dir(gcs_backend.artifact("tree"))
    assert is_dir(gcs_backend.artifact("tree/"))
    assert not is_dir(gcs_backend.artifact("tree/leaf"))
    assert not is_dir(gcs_backend.artifact("treetop"))
    assert not is_dir(gcs_backend.artifact("tre"))


def test_delete_removes_only_the_exact_object(gcs_backend: Backend) -> None:
    for key in ("x", "x/child", "xy"):
        gcs_backend.put_object(key, b"1")
    driver(gcs_backend).delete(gcs_backend.artifact("x"))
    assert gcs_backend.list_keys("x") == ["x/child", "xy"]


def test_delete_of_a_key_ending_in_a_slash_removes_everything_under_it(
    gcs_backend: Backend,
) -> None:
    for key in ("p/a", "p/b/c", "p/b/", "p", "pq"):
        gcs_backend.put_object(key, b"1")
    driver(gcs_backend).delete(gcs_backend.artifact("p/"))
    assert gcs_backend.list_keys("p") == ["p", "pq"]


def test_deleting_a_missing_object_succeeds(gcs_backend: Backend) -> None:
    driver(gcs_backend).delete(gcs_backend.artifact("never/there"))
    driver(gcs_backend).delete(gcs_backend.artifact("never/"))


def test_delete_refuses_to_empty_the_whole_bucket(gcs_backend: Backend) -> None:
    gcs_backend.put_object("keep", b"1")
    with pytest.raises(ArtifactError) as info:
        driver(gcs_backend).delete(gcs_backend.artifact("/"))
    assert info.value.code is ErrorCode.BAD_REQUEST
    assert gcs_backend.list_keys("") == ["keep"]
