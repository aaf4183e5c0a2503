"""load_artifact with a ``subPath``, through real drivers on loopback servers (and the ``local``
kind): one file or one directory of a stored directory artifact, for every archive strategy;
Argo's ``<key>/<subPath>`` for objects stored one by one; errors and optional artifacts."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from argoexec.models import Artifact, ArtifactLocation
from artifacts.driver import DriverContext
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.locations import relocate
from artifacts.secrets import NoSecrets
from artifacts.transfer import load_artifact, save_artifact
from tests.servers.backend import Backend

STRATEGIES: dict[str, dict[str, Any]] = {
    "tar": {},
    "tar-level-9": {"archive": {"tar": {"compressionLevel": 9}}},
    "zip": {"archive": {"zip": {}}},
    "none": {"archive": {"none": {}}},
}
STORES = ["local_store", "s3_moto", "s3_seaweed"]


@pytest.fixture
def local_store(tmp_path_factory: pytest.TempPathFactory) -> Backend:
    """The ``local`` kind in a fresh directory (written and read with plain file operations)."""
    root = tmp_path_factory.mktemp("subpath-store")

    def make_artifact(key: str, name: str = "art", **fields: Any) -> Artifact:
        return Artifact.model_validate(
            {"name": name, "local": {"root": str(root), "key": key}, **fields}
        )

    def put_object(key: str, data: bytes) -> None:
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(data)

    return Backend(
        name="local",
        ctx=DriverContext(secrets=NoSecrets()),
        make_artifact=make_artifact,
        put_object=put_object,
        get_object=lambda key: (root / key).read_bytes(),
        list_keys=lambda prefix: [],
        extra={"root": root},
    )


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> Backend:
    value: Backend = request.getfixturevalue(request.param)
    return value


def site(root: Path) -> Path:
    src = root / "site"
    (src / "assets" / "img").mkdir(parents=True)
    (src / "index.txt").write_text("index\n")
    (src / "other.txt").write_text("other\n")
    (src / "assets" / "a.css").write_text("css\n")
    (src / "assets" / "img" / "b.png").write_bytes(bytes(range(256)) * 40)
    return src


def tree(root: Path) -> dict[str, bytes | None]:
    return {
        p.relative_to(root).as_posix(): None if p.is_dir() else p.read_bytes()
        for p in sorted(root.rglob("*"))
    }


def stored(store: Backend, tmp_path: Path, strategy: str) -> Artifact:
    """The site directory saved to the store with ``strategy``; the artifact that names it."""
    key = f"wf/pod/site-{strategy}" + {"none": "", "zip": ".zip"}.get(strategy, ".tgz")
    art = store.artifact(key, name="site", **STRATEGIES[strategy])
    assert save_artifact(art, site(tmp_path / "src"), store.ctx) is not None
    return art


def sub(art: Artifact, path: str, **changes: Any) -> Artifact:
    return art.model_copy(update={"sub_path": path, **changes})


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_one_file_and_one_directory_come_out_of_a_directory_artifact(
    store: Backend, tmp_path: Path, strategy: str
) -> None:
    art = stored(store, tmp_path, strategy)
    whole = tree(tmp_path / "src" / "site")

    index = load_artifact(sub(art, "index.txt"), tmp_path / "in" / "index.txt", store.ctx)
    assets = load_artifact(sub(art, "assets"), tmp_path / "in" / "assets", store.ctx)
    deep = load_artifact(sub(art, "assets/img/b.png"), tmp_path / "in" / "b.png", store.ctx)

    assert index is not None and assets is not None and deep is not None
    assert (tmp_path / "in" / "index.txt").read_text() == "index\n"
    assert tree(tmp_path / "in" / "assets") == {
        k.removeprefix("assets/"): v for k, v in whole.items() if k.startswith("assets/")
    }
    assert (tmp_path / "in" / "b.png").read_bytes() == whole["assets/img/b.png"]
    # Archives are read once and picked from; `none` loads <key>/<subPath> as Argo does.
    expected = {"none": "none", "zip": "zip"}.get(strategy, "tar")
    assert index.unpacked == expected
    assert sorted(os.listdir(tmp_path / "in")) == ["assets", "b.png", "index.txt"]


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_a_missing_sub_path_is_not_found_naming_it_and_leaves_nothing(
    store: Backend, tmp_path: Path, strategy: str
) -> None:
    art = stored(store, tmp_path, strategy)
    dest = tmp_path / "in" / "x"
    with pytest.raises(ArtifactError) as caught:
        load_artifact(sub(art, "assets/nope.css"), dest, store.ctx)
    assert caught.value.code is ErrorCode.NOT_FOUND
    text = str(caught.value)
    assert "subPath 'assets/nope.css' not found" in text and "'site'" in text
    assert not (tmp_path / "in").exists() or os.listdir(tmp_path / "in") == []


@pytest.mark.parametrize("strategy", ["tar", "none"])
def test_an_optional_artifact_without_the_sub_path_is_skipped(
    store: Backend, tmp_path: Path, strategy: str
) -> None:
    art = stored(store, tmp_path, strategy)
    dest = tmp_path / "in" / "x"
    assert load_artifact(sub(art, "nope", optional=True), dest, store.ctx) is None
    assert not dest.exists()


@pytest.mark.parametrize("bad", ["../site-tar.tgz", "/etc/passwd", "assets//a.css", "./index.txt"])
def test_an_unclean_sub_path_is_refused_even_for_an_optional_artifact(
    local_store: Backend, tmp_path: Path, bad: str
) -> None:
    art = stored(local_store, tmp_path, "tar")
    with pytest.raises(ArtifactError) as caught:
        load_artifact(sub(art, bad, optional=True), tmp_path / "in" / "x", local_store.ctx)
    assert caught.value.code is ErrorCode.BAD_REQUEST
    assert f"subPath {bad!r}" in str(caught.value)
    assert not (tmp_path / "in").exists()


@pytest.mark.parametrize("strategy", ["tar", "none"])
def test_a_key_only_artifact_takes_its_sub_path_from_the_repository(
    store: Backend, tmp_path: Path, strategy: str
) -> None:
    wire = stored(store, tmp_path, strategy).to_wire()
    kind = "local" if "local" in wire else "s3"
    key = wire[kind]["key"]
    repository = ArtifactLocation.model_validate({kind: {**wire[kind], "key": "elsewhere"}})
    # Argo's key-only form: `s3: {key}` takes the repository's kind and place, keeps its key.
    key_only = Artifact.model_validate(
        {"name": "site", "s3": {"key": key}, "subPath": "assets/a.css", **STRATEGIES[strategy]}
    )
    located = relocate(key_only, repository)
    assert located.sub_path == "assets/a.css"
    assert load_artifact(located, tmp_path / "in" / "a.css", store.ctx) is not None
    assert (tmp_path / "in" / "a.css").read_text() == "css\n"


def test_an_archive_fetched_over_http_gives_its_sub_path(
    http_backend: Backend, tmp_path: Path
) -> None:
    # Beyond Argo (which would request <url>/<subPath>): the archive is read and picked from.
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        tar.add(site(tmp_path), arcname="site")
    http_backend.put_object("dl/site.tgz", gzip.compress(raw.getvalue()))
    art = sub(http_backend.artifact("dl/site.tgz"), "assets/a.css")
    assert load_artifact(art, tmp_path / "a.css", http_backend.ctx) is not None
    assert (tmp_path / "a.css").read_text() == "css\n"


def test_the_digest_checked_is_that_of_the_stored_archive(
    local_store: Backend, tmp_path: Path
) -> None:
    art = stored(local_store, tmp_path, "tar")
    key = str(art.local.key) if art.local else ""
    digest = hashlib.sha256(local_store.get_object(key)).hexdigest()
    result = load_artifact(
        sub(art, "index.txt"), tmp_path / "i", local_store.ctx, expected_sha256=digest
    )
    assert result is not None and result.sha256 == digest
    with pytest.raises(ArtifactError) as caught:
        load_artifact(
            sub(art, "index.txt"), tmp_path / "j", local_store.ctx, expected_sha256="0" * 64
        )
    assert caught.value.code is ErrorCode.INTEGRITY and not (tmp_path / "j").exists()


def test_a_plain_file_has_nothing_inside_it(local_store: Backend, tmp_path: Path) -> None:
    local_store.put_object("f.txt", b"plain\n")
    with pytest.raises(ArtifactError) as caught:
        load_artifact(sub(local_store.artifact("f.txt"), "x"), tmp_path / "x", local_store.ctx)
    assert caught.value.code is ErrorCode.NOT_FOUND
    assert "subPath 'x' not found" in str(caught.value)


def test_a_raw_artifact_cannot_take_a_sub_path(tmp_path: Path) -> None:
    art = Artifact.model_validate({"name": "r", "raw": {"data": "hello"}, "subPath": "x"})
    with pytest.raises(ArtifactError) as caught:
        load_artifact(art, tmp_path / "r", DriverContext(secrets=NoSecrets()))
    assert caught.value.code is ErrorCode.BAD_REQUEST
    assert "subPath 'x'" in str(caught.value) and "raw" in str(caught.value)
