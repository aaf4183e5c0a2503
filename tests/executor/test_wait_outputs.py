"""Output artifact staging per archive strategy (§4.5.2) and the reported locations (§11.4)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from argoexec.executor.outputs import key_only
from argoexec.models import Artifact, ArtifactLocation
from tests.executor.test_wait_support import FakePod, archive_location, run, untar
from tests.servers.backend import Backend


@pytest.fixture
def pod(tmp_path: Path) -> FakePod:
    return FakePod(tmp_path / "pod")


def template_with(pod: FakePod, backend: Backend, *artifacts: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "t",
        "container": {"image": "x", "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
        "outputs": {"artifacts": list(artifacts)},
        "archiveLocation": archive_location(backend),
    }


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def files_of(entries: dict[str, bytes | None]) -> dict[str, bytes]:
    return {name: data for name, data in entries.items() if data is not None}


TREE = {"dir/a.txt": b"A" * 3000, "dir/sub/b.bin": bytes(range(256)) * 40}


def write_tree(root: Path) -> None:
    for rel, data in TREE.items():
        target = root.parent / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def test_a_base_image_file_with_none_is_stored_byte_for_byte(
    pod: FakePod, s3_moto: Backend
) -> None:
    path = f"{pod.work}/report.csv"
    template = template_with(pod, s3_moto, {"name": "r", "path": path, "archive": {"none": {}}})
    pod.main_exits(template, {path: b"a,b\n1,2\n"})
    outcome = run(pod, template, s3_moto)
    assert outcome.errors == []
    assert s3_moto.get_object("wf/pod/report.csv") == b"a,b\n1,2\n"
    assert pod.result()["outputs"]["artifacts"][0]["s3"] == {"key": "wf/pod/report.csv"}
    assert not any((pod.root / "staging").iterdir())  # the unpacked copy is gone


def test_a_base_image_directory_with_none_is_stored_object_by_object(
    pod: FakePod, s3_moto: Backend
) -> None:
    write_tree(pod.work / "dir")
    path = f"{pod.work}/dir"
    template = template_with(pod, s3_moto, {"name": "d", "path": path, "archive": {"none": {}}})
    pod.main_exits(template)
    assert run(pod, template, s3_moto).errors == []
    assert sorted(s3_moto.list_keys("wf/pod/dir/")) == ["wf/pod/dir/a.txt", "wf/pod/dir/sub/b.bin"]
    assert s3_moto.get_object("wf/pod/dir/sub/b.bin") == TREE["dir/sub/b.bin"]


def test_a_base_image_file_zipped_keeps_its_own_name(pod: FakePod, s3_moto: Backend) -> None:
    # Argo fails here with NotFound (§15 quirk 3) when the names differ; we store the file.
    path = f"{pod.work}/result.json"
    template = template_with(pod, s3_moto, {"name": "other", "path": path, "archive": {"zip": {}}})
    pod.main_exits(template, {path: b'{"ok": true}'})
    assert run(pod, template, s3_moto).errors == []
    assert unzip(s3_moto.get_object("wf/pod/other.zip")) == {"result.json": b'{"ok": true}'}


def test_a_base_image_directory_zipped_holds_every_file(pod: FakePod, s3_moto: Backend) -> None:
    write_tree(pod.work / "dir")
    path = f"{pod.work}/dir/"
    template = template_with(pod, s3_moto, {"name": "z", "path": path, "archive": {"zip": {}}})
    pod.main_exits(template)
    assert run(pod, template, s3_moto).errors == []
    assert unzip(s3_moto.get_object("wf/pod/z.zip")) == TREE


def test_an_explicit_compression_level_is_honoured_for_base_image_paths(
    pod: FakePod, s3_moto: Backend
) -> None:
    path = f"{pod.work}/big.txt"
    data = b"compress me " * 20000
    art = {"name": "c", "path": path, "archive": {"tar": {"compressionLevel": 0}}}
    template = template_with(pod, s3_moto, art)
    pod.main_exits(template, {path: data})
    assert run(pod, template, s3_moto).errors == []
    stored = s3_moto.get_object("wf/pod/c.tgz")
    assert untar(stored) == {"big.txt": data}
    assert len(stored) > len(data)  # level 0: stored, not deflated (the emissary compressed)


@pytest.mark.parametrize(
    ("archive", "key", "check"),
    [
        (None, "wf/pod/v.tgz", lambda b: files_of(untar(b)) == TREE),
        ({"zip": {}}, "wf/pod/v.zip", lambda b: unzip(b) == TREE),
    ],
)
def test_a_volume_directory_is_packed_from_the_mirror(
    pod: FakePod, s3_moto: Backend, archive: Any, key: str, check: Any
) -> None:
    write_tree(pod.mirror("/data/dir"))
    art: dict[str, Any] = {"name": "v", "path": "/data/dir"}
    if archive:
        art["archive"] = archive
    template = template_with(pod, s3_moto, art)
    pod.main_exits(template)
    assert run(pod, template, s3_moto).errors == []
    assert check(s3_moto.get_object(key))


def test_a_volume_file_with_none_is_uploaded_from_the_mirror(
    pod: FakePod, s3_moto: Backend
) -> None:
    pod.mirror("/data/x.bin").parent.mkdir(parents=True)
    pod.mirror("/data/x.bin").write_bytes(b"\x00\x01volume")
    art = {"name": "x", "path": "/data/x.bin", "archive": {"none": {}}}
    template = template_with(pod, s3_moto, art)
    pod.main_exits(template)
    assert run(pod, template, s3_moto).errors == []
    assert s3_moto.get_object("wf/pod/x.bin") == b"\x00\x01volume"


# Argo's stageArchiveFile: a base-image output is uploaded as the emissary's .tgz when `tar` is
# set, else unpacked (then zipped if `zip` is set); a volume output is stored plain when `none`
# is set, else zipped if `zip` is set, else tarred. Either way the key's name is the staged one.
@pytest.mark.parametrize(
    ("on_volume", "archive", "stored_as"),
    [
        (False, {"tar": {}, "none": {}}, "tar"),
        (True, {"tar": {}, "none": {}}, "none"),
        (False, {"zip": {}, "none": {}}, "zip"),
        (True, {"zip": {}, "none": {}}, "none"),
        (False, {"tar": {}, "zip": {}}, "tar"),
        (True, {"tar": {}, "zip": {}}, "zip"),
    ],
)
def test_an_artifact_with_several_strategies_is_stored_as_its_key_is_named(
    pod: FakePod, s3_moto: Backend, on_volume: bool, archive: dict[str, Any], stored_as: str
) -> None:
    data = b"both strategies\n"
    if on_volume:
        path = "/data/both.txt"
        pod.mirror(path).parent.mkdir(parents=True)
        pod.mirror(path).write_bytes(data)
        files: dict[str, bytes] = {}
    else:
        path = f"{pod.work}/both.txt"
        files = {path: data}
    template = template_with(pod, s3_moto, {"name": "b", "path": path, "archive": archive})
    pod.main_exits(template, files)
    assert run(pod, template, s3_moto).errors == []
    key = pod.result()["outputs"]["artifacts"][0]["s3"]["key"]
    stored = s3_moto.get_object(key)
    expected_key = {"tar": "wf/pod/b.tgz", "zip": "wf/pod/b.zip", "none": "wf/pod/both.txt"}
    assert key == expected_key[stored_as]
    if stored_as == "tar":
        assert untar(stored) == {"both.txt": data}
    elif stored_as == "zip":
        assert unzip(stored) == {"both.txt": data}
    else:
        assert stored == data


def test_a_missing_required_volume_output_names_its_path(pod: FakePod, s3_moto: Backend) -> None:
    template = template_with(pod, s3_moto, {"name": "v", "path": "/data/missing"})
    pod.main_exits(template)
    errors = run(pod, template, s3_moto).errors
    assert len(errors) == 1
    assert "/data/missing no such file or directory" in errors[0]


def test_an_output_at_an_input_path_is_read_through_the_mirror(
    pod: FakePod, s3_moto: Backend
) -> None:
    pod.mirror("/in/x").parent.mkdir(parents=True)
    pod.mirror("/in/x").write_bytes(b"overlap")
    template = template_with(pod, s3_moto, {"name": "o", "path": "/in/x"})
    template["inputs"] = {"artifacts": [{"name": "i", "path": "/in", "raw": {"data": "x"}}]}
    pod.main_exits(template)
    assert run(pod, template, s3_moto).errors == []
    assert untar(s3_moto.get_object("wf/pod/o.tgz")) == {"x": b"overlap"}


def test_an_artifact_with_its_own_key_is_stored_there(pod: FakePod, s3_moto: Backend) -> None:
    path = f"{pod.work}/f"
    template = template_with(pod, s3_moto, {"name": "k", "path": path, "s3": {"key": "my/own.tgz"}})
    pod.main_exits(template, {path: b"k"})
    assert run(pod, template, s3_moto).errors == []
    assert untar(s3_moto.get_object("my/own.tgz")) == {"f": b"k"}
    assert pod.result()["outputs"]["artifacts"][0]["s3"] == {"key": "my/own.tgz"}


def test_an_artifact_with_a_full_location_is_reported_as_declared(
    pod: FakePod, s3_moto: Backend
) -> None:
    path = f"{pod.work}/f"
    full = s3_moto.artifact("elsewhere/f.tgz", name="full", path=path).to_wire()
    template = template_with(pod, s3_moto, full)
    pod.main_exits(template, {path: b"full"})
    assert run(pod, template, s3_moto).errors == []
    assert pod.result()["outputs"]["artifacts"] == [full]
    assert untar(s3_moto.get_object("elsewhere/f.tgz")) == {"f": b"full"}


def test_remove_local_art_path_removes_the_emissary_copy(pod: FakePod, s3_moto: Backend) -> None:
    path = f"{pod.work}/f"
    template = template_with(pod, s3_moto, {"name": "r", "path": path})
    pod.main_exits(template, {path: b"bye"})
    assert run(pod, template, s3_moto, remove_local_art_path=True).errors == []
    assert not pod.varrun.output_artifact(path).exists()


def test_no_storage_configured_is_an_error_naming_the_docs(pod: FakePod) -> None:
    path = f"{pod.work}/f"
    template = {
        "name": "t",
        "container": {},
        "outputs": {"artifacts": [{"name": "a", "path": path}]},
    }
    pod.main_exits(template, {path: b"x"})
    errors = run(pod, template).errors
    assert len(errors) == 1
    assert "artifact storage is not configured" in errors[0]


def test_a_key_only_report_takes_the_kind_of_the_location_used() -> None:
    declared = Artifact.model_validate({"name": "a", "path": "/p", "s3": {"key": "ignored"}})
    uploaded = ArtifactLocation.model_validate({"gcs": {"bucket": "b", "key": "wf/a.tgz"}})
    reported = key_only(declared, uploaded).to_wire()
    assert reported == {"name": "a", "path": "/p", "gcs": {"key": "wf/a.tgz"}}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/tmp/../etc/passwd", "Directory traversal is not permitted"),
        ("", "did not specify a path"),
    ],
)
def test_unsafe_or_empty_paths_are_refused(
    pod: FakePod, s3_moto: Backend, path: str, message: str
) -> None:
    template = template_with(pod, s3_moto, {"name": "bad", "path": path})
    pod.main_exits({})
    errors = run(pod, template, s3_moto).errors
    assert len(errors) == 1
    assert message in errors[0]
    assert s3_moto.list_keys("") == []
