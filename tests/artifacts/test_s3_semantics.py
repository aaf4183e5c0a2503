"""Argo's S3 operation semantics (argo-contract.md §12.1, §16.12) on moto and SeaweedFS."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest

from argoexec.lifecycle import Stop
from artifacts.driver import DriverContext
from artifacts.drivers.s3 import S3Driver
from artifacts.errors import ArtifactError, ErrorCode
from tests.servers.backend import Backend

MIB = 1024 * 1024


@pytest.fixture(params=["s3_moto", "s3_seaweed"])
def s3(request: pytest.FixtureRequest) -> Backend:
    backend: Backend = request.getfixturevalue(request.param)
    return backend


def pending_uploads(s3: Backend) -> list[str]:
    client = s3.extra["client"]
    resp = client.list_multipart_uploads(Bucket=s3.extra["bucket"])  # type: ignore[attr-defined]
    return [u["Key"] for u in resp.get("Uploads", [])]


def test_list_objects_of_a_folder_lists_its_files_recursively(s3: Backend) -> None:
    s3.put_object("folder/a.txt", b"a")
    s3.put_object("folder/sub/b.txt", b"b")
    s3.put_object("folder/sub/", b"")
    s3.put_object("folderish.txt", b"not under folder/")
    keys = S3Driver(s3.ctx).list_objects(s3.artifact("folder"))
    assert sorted(keys) == ["folder/a.txt", "folder/sub/b.txt"]


def test_list_objects_of_an_existing_key_without_children_is_empty(s3: Backend) -> None:
    s3.put_object("plain-file", b"x")
    assert S3Driver(s3.ctx).list_objects(s3.artifact("plain-file")) == []


def test_list_objects_of_a_missing_key_is_not_found(s3: Backend) -> None:
    with pytest.raises(ArtifactError) as err:
        S3Driver(s3.ctx).list_objects(s3.artifact("non-existent-folder"))
    assert err.value.code is ErrorCode.NOT_FOUND
    assert err.value.message == "no key found of name non-existent-folder"


def test_list_objects_with_an_empty_key_lists_the_whole_bucket(s3: Backend) -> None:
    s3.put_object("x/1", b"1")
    s3.put_object("y", b"2")
    assert sorted(S3Driver(s3.ctx).list_objects(s3.artifact(""))) == ["x/1", "y"]


def test_is_directory_is_true_only_for_a_prefix_with_objects(s3: Backend) -> None:
    s3.put_object("dir/file", b"x")
    driver = S3Driver(s3.ctx)
    assert driver.is_directory(s3.artifact("dir"))
    assert driver.is_directory(s3.artifact("dir/"))
    assert driver.is_directory(s3.artifact("dir//"))
    assert not driver.is_directory(s3.artifact("dir/file"))
    assert not driver.is_directory(s3.artifact("missing"))


def test_open_stream_of_a_directory_is_not_implemented(s3: Backend) -> None:
    s3.put_object("folder/child", b"x")
    with pytest.raises(ArtifactError) as err:
        S3Driver(s3.ctx).open_stream(s3.artifact("folder/"))
    assert err.value.code is ErrorCode.NOT_IMPLEMENTED
    assert err.value.message == "Directory Stream capability currently unimplemented for S3"


def test_open_stream_of_a_missing_key_is_not_found(s3: Backend) -> None:
    with pytest.raises(ArtifactError) as err:
        S3Driver(s3.ctx).open_stream(s3.artifact("nothing/here"))
    assert err.value.code is ErrorCode.NOT_FOUND
    assert err.value.message == "The specified key does not exist."


def test_open_stream_of_a_missing_bucket_fails_to_get_the_file(s3: Backend) -> None:
    with pytest.raises(ArtifactError) as err:
        S3Driver(s3.ctx).open_stream(s3.artifact("k", s3={"bucket": "absent-bucket-x"}))
    assert err.value.message.startswith("failed to get file: The specified bucket does not exist")


def test_delete_of_a_key_removes_only_that_object(s3: Backend) -> None:
    s3.put_object("d/one", b"1")
    s3.put_object("d/two", b"2")
    S3Driver(s3.ctx).delete(s3.artifact("d/one"))
    assert s3.list_keys("d/") == ["d/two"]


def test_delete_of_a_key_ending_in_a_slash_removes_everything_under_it(s3: Backend) -> None:
    for i in range(7):
        s3.put_object(f"gc/run/{i}/f", b"x")
    s3.put_object("gc/keep", b"k")
    S3Driver(s3.ctx).delete(s3.artifact("gc/run/"))
    assert s3.list_keys("gc/") == ["gc/keep"]


def test_delete_of_a_missing_key_succeeds(s3: Backend) -> None:
    S3Driver(s3.ctx).delete(s3.artifact("never/existed"))


def test_create_bucket_if_not_present_creates_the_bucket(s3: Backend, tmp_path: Path) -> None:
    bucket = f"made-{uuid.uuid4().hex[:12]}"
    src = tmp_path / "f"
    src.write_bytes(b"data")
    art = s3.artifact("k", s3={"bucket": bucket, "createBucketIfNotPresent": {}})
    driver = S3Driver(s3.ctx)
    driver.save(src, art)
    driver.save(src, art)  # the second save finds the bucket already there
    client = s3.extra["client"]
    assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"  # type: ignore[attr-defined]


def test_without_create_bucket_a_missing_bucket_fails_the_save(
    s3_moto: Backend, tmp_path: Path
) -> None:
    s3 = s3_moto  # SeaweedFS creates missing buckets on PUT by itself
    src = tmp_path / "f"
    src.write_bytes(b"data")
    art = s3.artifact("k", s3={"bucket": f"nope-{uuid.uuid4().hex[:12]}"})
    with pytest.raises(ArtifactError) as err:
        S3Driver(s3.ctx).save(src, art)
    assert err.value.message.startswith("failed to put file: ")
    assert not err.value.transient


def test_saving_a_missing_path_is_not_found(s3: Backend, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError) as err:
        S3Driver(s3.ctx).save(tmp_path / "absent", s3.artifact("k"))
    assert err.value.code is ErrorCode.NOT_FOUND


class FailingStream(io.RawIOBase):
    """Yields ``good`` bytes, then raises: a producer dying in the middle of an upload."""

    def __init__(self, good: int) -> None:
        self.left = good

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.left <= 0:
            raise OSError("producer crashed")
        n = min(len(buffer), self.left)
        buffer[:n] = b"x" * n
        self.left -= n
        return n


def test_a_stream_failing_mid_upload_leaves_no_object_and_no_pending_upload(
    s3: Backend,
) -> None:
    with pytest.raises(ArtifactError) as err:
        S3Driver(s3.ctx).save_stream(io.BufferedReader(FailingStream(12 * MIB)), s3.artifact("s"))
    assert "producer crashed" in err.value.message
    assert err.value.message.startswith("failed to put file: ")
    assert s3.list_keys("s") == []
    assert pending_uploads(s3) == []


def test_a_stop_request_aborts_a_multipart_stream(s3: Backend) -> None:
    stop = Stop()
    seen = 0

    def progress(n: int) -> None:
        nonlocal seen
        seen += n
        if seen > 6 * MIB:
            stop.set("pod terminating")

    ctx = DriverContext(secrets=s3.ctx.secrets, settings=s3.ctx.settings, stop=stop)
    ctx.progress = progress
    with pytest.raises(ArtifactError) as err:
        S3Driver(ctx).save_stream(io.BytesIO(b"y" * (30 * MIB)), s3.artifact("stopped"))
    assert "pod terminating" in err.value.message
    assert s3.list_keys("stopped") == []
    assert pending_uploads(s3) == []


def test_progress_reports_every_byte_of_a_stream(s3: Backend) -> None:
    total = 0

    def progress(n: int) -> None:
        nonlocal total
        total += n

    ctx = DriverContext(secrets=s3.ctx.secrets, settings=s3.ctx.settings, progress=progress)
    S3Driver(ctx).save_stream(io.BytesIO(b"z" * (11 * MIB)), s3.artifact("p"))
    assert total == 11 * MIB


def test_location_names_bucket_key_and_endpoint_without_credentials(s3: Backend) -> None:
    art = s3.artifact("a/b")
    where = S3Driver(s3.ctx).location(art)
    assert where.startswith(f"s3://{s3.extra['bucket']}/a/b")
    assert "http://127.0.0.1:" in where
    for secret in s3.extra["secret_values"]:  # type: ignore[attr-defined]
        assert secret not in where
