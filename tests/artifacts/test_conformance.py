"""One conformance suite for every storage driver: the same cases through the transfer layer.

Each backend fixture (``tests/servers/<kind>.py``) yields a ``Backend`` bound to a real loopback
server; objects are planted and read back with an independent client, never with our driver.
The ``local`` kind needs no server: its backend (below) is a temporary directory, read and
written with plain file operations.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from argoexec.models import Artifact
from artifacts.driver import DriverContext
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.registry import driver_for
from artifacts.secrets import NoSecrets
from artifacts.transfer import load_artifact, save_artifact
from tests.artifacts.trees import make_tree
from tests.servers.backend import Backend

BACKENDS = ["s3_moto", "s3_seaweed", "gcs_backend", "http_backend", "local_backend"]


@pytest.fixture
def local_backend(tmp_path_factory: pytest.TempPathFactory) -> Backend:
    """A ``local`` store in a fresh directory that does not exist yet (a save creates it)."""
    root = tmp_path_factory.mktemp("local-store") / "root"

    def make_artifact(key: str, name: str = "art", **fields: Any) -> Artifact:
        return Artifact.model_validate(
            {"name": name, "local": {"root": str(root), "key": key}, **fields}
        )

    def put_object(key: str, data: bytes) -> None:
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def list_keys(prefix: str) -> list[str]:
        found = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
        return [k for k in found if k.startswith(prefix)]

    return Backend(
        name="local",
        ctx=DriverContext(secrets=NoSecrets()),
        make_artifact=make_artifact,
        put_object=put_object,
        get_object=lambda key: (root / key).read_bytes(),
        list_keys=list_keys,
        extra={"root": root, "secret_values": []},
    )


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    value: Backend = request.getfixturevalue(request.param)
    return value


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Relative path -> content (None for directories)."""
    out: dict[str, bytes | None] = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        out[rel] = None if p.is_dir() else p.read_bytes()
    return out


def test_a_file_saved_as_tgz_loads_back_identical(backend: Backend, tmp_path: Path) -> None:
    src = tmp_path / "hello.txt"
    src.write_text("hello world\n")
    art = backend.artifact("runs/1/hello.tgz")
    result = save_artifact(art, src, backend.ctx)
    assert result is not None
    stored = backend.get_object("runs/1/hello.tgz")
    assert result.size == len(stored)
    assert result.sha256 == hashlib.sha256(stored).hexdigest()
    with tarfile.open(fileobj=io.BytesIO(stored), mode="r:gz") as tar:
        assert tar.getnames() == ["hello.txt"]
    dest = tmp_path / "out" / "hello.txt"
    loaded = load_artifact(art, dest, backend.ctx, expected_sha256=result.sha256)
    assert loaded is not None
    assert dest.read_text() == "hello world\n"


def test_a_directory_saved_as_tgz_loads_back_identical(backend: Backend, tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    art = backend.artifact("runs/1/tree.tgz")
    assert save_artifact(art, tree, backend.ctx) is not None
    dest = tmp_path / "loaded"
    load_artifact(art, dest, backend.ctx)
    assert snapshot(dest) == snapshot(tree)


def test_an_empty_file_round_trips_without_archiving(backend: Backend, tmp_path: Path) -> None:
    src = tmp_path / "empty"
    src.write_bytes(b"")
    art = backend.artifact("runs/1/empty", archive={"none": {}})
    result = save_artifact(art, src, backend.ctx)
    assert result is not None
    assert result.size == 0
    assert result.sha256 == hashlib.sha256(b"").hexdigest()
    assert backend.get_object("runs/1/empty") == b""
    dest = tmp_path / "out"
    load_artifact(art, dest, backend.ctx)
    assert dest.read_bytes() == b""


def test_a_file_without_archiving_is_stored_verbatim(backend: Backend, tmp_path: Path) -> None:
    src = tmp_path / "data.bin"
    payload = b"\x00\x01binary\xff" * 1000
    src.write_bytes(payload)
    art = backend.artifact("plain/data.bin", archive={"none": {}})
    save_artifact(art, src, backend.ctx)
    assert backend.get_object("plain/data.bin") == payload


def test_a_nested_unicode_directory_round_trips_object_by_object(
    backend: Backend, tmp_path: Path
) -> None:
    if not backend.supports_directories:
        pytest.skip(f"{backend.name} stores single objects only")
    tree = make_tree(tmp_path)
    art = backend.artifact("dirs/tree", archive={"none": {}})
    result = save_artifact(art, tree, backend.ctx)
    assert result is not None
    files = {k: v for k, v in snapshot(tree).items() if v is not None}
    assert result.objects == len(files)
    keys = sorted(backend.list_keys("dirs/tree/"))
    assert keys == sorted(f"dirs/tree/{rel}" for rel in files)
    assert backend.get_object("dirs/tree/a/ünïcødé 文件.txt") == b"unicode name\n"
    dest = tmp_path / "loaded"
    load_artifact(art, dest, backend.ctx)
    assert {k: v for k, v in snapshot(dest).items() if v is not None} == files


def test_an_object_planted_by_another_client_loads(backend: Backend, tmp_path: Path) -> None:
    backend.put_object("planted/readme.md", b"# planted\n")
    dest = tmp_path / "readme.md"
    load_artifact(backend.artifact("planted/readme.md"), dest, backend.ctx)
    assert dest.read_bytes() == b"# planted\n"


def test_a_missing_key_is_a_not_found_error_naming_the_artifact(
    backend: Backend, tmp_path: Path
) -> None:
    art = backend.artifact("does/not/exist.tgz", name="my-input")
    with pytest.raises(ArtifactError) as info:
        load_artifact(art, tmp_path / "x", backend.ctx)
    assert info.value.code is ErrorCode.NOT_FOUND
    assert "my-input" in str(info.value)
    assert "does/not/exist.tgz" in str(info.value)
    assert not (tmp_path / "x").exists()


def test_an_optional_missing_input_is_skipped(backend: Backend, tmp_path: Path) -> None:
    art = backend.artifact("does/not/exist.tgz", optional=True)
    assert load_artifact(art, tmp_path / "x", backend.ctx) is None
    assert not (tmp_path / "x").exists()


def test_an_optional_missing_output_is_skipped(backend: Backend, tmp_path: Path) -> None:
    art = backend.artifact("never/written.tgz", optional=True)
    assert save_artifact(art, tmp_path / "absent", backend.ctx) is None


def test_a_required_missing_output_is_a_not_found_error(backend: Backend, tmp_path: Path) -> None:
    art = backend.artifact("never/written.tgz", name="result")
    with pytest.raises(ArtifactError) as info:
        save_artifact(art, tmp_path / "absent", backend.ctx)
    assert info.value.code is ErrorCode.NOT_FOUND
    assert "result" in str(info.value)


def test_the_driver_describes_credentials_without_secrets(backend: Backend) -> None:
    art = backend.artifact("any/key")
    description = driver_for(art, backend.ctx).describe_credentials(art)
    assert description
    for secret in backend.extra.get("secret_values", []):
        assert str(secret) not in description
