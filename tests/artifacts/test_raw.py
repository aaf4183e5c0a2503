"""The raw driver: inline data, input only (argo-contract §12.5, §16.16)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from argoexec.models import Artifact
from artifacts.driver import DriverContext
from artifacts.drivers.raw import RawDriver
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.registry import driver_for
from artifacts.secrets import NoSecrets

DATA = "line one\nünïcødé ✓\n  trailing spaces  \n"


def raw(data: str = DATA, name: str = "inline") -> Artifact:
    return Artifact.model_validate({"name": name, "raw": {"data": data}})


@pytest.fixture
def driver() -> RawDriver:
    return RawDriver(DriverContext(secrets=NoSecrets()))


def test_load_writes_the_data_to_the_file_exactly(driver: RawDriver, tmp_path: Path) -> None:
    dest = tmp_path / "file"
    driver.load(raw(), dest)
    assert dest.read_bytes() == DATA.encode("utf-8")


def test_empty_data_loads_as_an_empty_file(driver: RawDriver, tmp_path: Path) -> None:
    dest = tmp_path / "empty"
    driver.load(raw(""), dest)
    assert dest.read_bytes() == b""


def test_open_stream_yields_the_data_with_its_size(driver: RawDriver) -> None:
    stream = driver.open_stream(raw())
    try:
        assert stream.size == len(DATA.encode("utf-8"))
        head = bytearray(4)
        assert stream.readinto(head) == 4
        assert bytes(head) + stream.read() == DATA.encode("utf-8")
    finally:
        stream.close()


def test_the_registry_picks_the_raw_driver(tmp_path: Path) -> None:
    d = driver_for(raw(), DriverContext(secrets=NoSecrets()))
    assert d.kind == "raw"
    d.load(raw("via registry"), tmp_path / "x")
    assert (tmp_path / "x").read_text() == "via registry"


def test_saving_is_unsupported(driver: RawDriver, tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_text("x")
    for call in (lambda: driver.save(src, raw()), lambda: driver.save_stream(io.BytesIO(), raw())):
        with pytest.raises(ArtifactError) as info:
            call()
        assert info.value.code is ErrorCode.BAD_REQUEST
        assert "Raw output artifacts unsupported" in str(info.value)
        assert "'inline'" in str(info.value)


def test_delete_and_list_are_unsupported(driver: RawDriver) -> None:
    for call in (lambda: driver.delete(raw()), lambda: driver.list_objects(raw())):
        with pytest.raises(ArtifactError) as info:
            call()
        assert info.value.code is ErrorCode.BAD_REQUEST


def test_is_directory_is_not_implemented(driver: RawDriver) -> None:
    with pytest.raises(ArtifactError) as info:
        driver.is_directory(raw())
    assert info.value.code is ErrorCode.NOT_IMPLEMENTED
    assert "IsDirectory currently unimplemented for raw" in str(info.value)


def test_credentials_and_location_describe_inline_data(driver: RawDriver) -> None:
    assert driver.describe_credentials(raw()) == "none (inline data)"
    assert "inline" in driver.location(raw())
    assert DATA not in driver.location(raw())


def test_an_artifact_without_raw_data_is_a_bad_request(driver: RawDriver, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError) as info:
        driver.load(Artifact(name="x"), tmp_path / "x")
    assert info.value.code is ErrorCode.BAD_REQUEST
