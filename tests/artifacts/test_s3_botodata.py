"""The trimmed botocore data of the S3 driver: every operation it calls, the same endpoints."""

from __future__ import annotations

import ast
import socket
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.loaders import Loader as BotocoreLoader

from artifacts.drivers.s3 import S3Driver, botodata
from tests.servers.backend import Backend

DRIVER_DIR = Path(botodata.__file__).parent


class _SentError(Exception):
    """Raised from ``before-sign`` so a request is inspected and never leaves the process."""


def _client(loader: BotocoreLoader, service: str = "s3", **kwargs: Any) -> Any:
    session = botocore.session.Session()
    session.register_component("data_loader", loader)
    session.set_credentials("AKIDEXAMPLE", "secret")
    return session.create_client(service, **kwargs)


def _url_of(client: Any, method: str, **params: Any) -> str:
    seen: list[str] = []

    def capture(request: Any, **_: Any) -> None:
        seen.append(request.url)
        raise _SentError

    client.meta.events.register("before-sign", capture)
    with pytest.raises(_SentError):
        getattr(client, method)(**params)
    return seen[0]


def _called_methods() -> set[str]:
    """Methods the driver's modules call on a client: ``x.client.m(...)``, ``client.m(...)``
    and ``client.get_paginator("m")``."""
    called: set[str] = set()
    for source in DRIVER_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if name not in ("client", "_client"):
                continue
            called.add(node.func.attr)
            first = node.args[0] if node.args else None
            if node.func.attr == "get_paginator" and isinstance(first, ast.Constant):
                called.add(str(first.value))
    return called


@pytest.fixture(scope="module")
def lean() -> BotocoreLoader:
    return botodata.lean_loader()


@pytest.fixture(scope="module")
def full() -> BotocoreLoader:
    return BotocoreLoader()


def test_the_trimmed_model_has_every_operation_the_driver_calls(
    lean: BotocoreLoader, full: BotocoreLoader
) -> None:
    assert isinstance(lean, botodata.Loader), "the trimmed copy was not built"
    api_of = _client(full, region_name="us-east-1").meta.method_to_api_mapping
    called = {m for m in _called_methods() if m in api_of}
    assert len(called) >= 10, f"the source scan found too few S3 calls: {sorted(called)}"
    lean_api = _client(lean, region_name="us-east-1").meta.method_to_api_mapping
    missing = {api_of[m] for m in called} - set(lean_api.values())
    assert not missing, f"add {sorted(missing)} to botodata.OPERATIONS"
    assert {api_of[m] for m in called} <= botodata.OPERATIONS


def test_the_trimmed_model_keeps_the_error_classes(lean: BotocoreLoader) -> None:
    errors = _client(lean, region_name="us-east-1").exceptions
    assert errors.NoSuchKey.__name__ == "NoSuchKey"
    assert errors.NoSuchBucket.__name__ == "NoSuchBucket"
    assert errors.BucketAlreadyOwnedByYou.__name__ == "BucketAlreadyOwnedByYou"


@pytest.mark.parametrize(
    ("region", "s3_config", "kwargs"),
    [
        ("us-east-1", {}, {}),
        ("eu-central-1", {"addressing_style": "virtual"}, {}),
        ("us-west-2", {"addressing_style": "path"}, {}),
        ("cn-north-1", {}, {}),
        ("us-gov-west-1", {}, {}),
        ("us-east-1", {"use_dualstack_endpoint": True}, {}),
        ("us-east-1", {}, {"use_fips_endpoint": True}),
        ("eu-west-1", {}, {"endpoint_url": "http://127.0.0.1:9000"}),
    ],
)
def test_s3_requests_go_where_botocores_full_data_sends_them(
    lean: BotocoreLoader,
    full: BotocoreLoader,
    region: str,
    s3_config: dict[str, Any],
    kwargs: dict[str, Any],
) -> None:
    endpoint_url = kwargs.pop("endpoint_url", None)
    urls = []
    for loader in (lean, full):
        config = Config(signature_version="s3v4", s3=s3_config, **kwargs)  # type: ignore[arg-type]
        client = _client(loader, region_name=region, endpoint_url=endpoint_url, config=config)
        urls.append(_url_of(client, "get_object", Bucket="argo-bucket", Key="a/b.tgz"))
    assert urls[0] == urls[1]


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "cn-north-1"])
def test_sts_requests_go_where_botocores_full_data_sends_them(
    lean: BotocoreLoader, full: BotocoreLoader, region: str
) -> None:
    urls = [
        _url_of(_client(loader, "sts", region_name=region), "get_caller_identity")
        for loader in (lean, full)
    ]
    assert urls[0] == urls[1]


def test_the_copy_is_built_on_first_use_and_reused(tmp_path: Path) -> None:
    built = botodata.ensure(tmp_path)
    assert built == botodata.data_dir(tmp_path)
    assert built is not None
    stamp = (built / botodata.LISTING).stat().st_mtime_ns
    assert botodata.ensure(tmp_path) == built
    assert (built / botodata.LISTING).stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == [built.name]  # no staging left behind


def test_an_unwritable_place_falls_back_to_botocores_own_data(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    loader = botodata.lean_loader(blocker / "data")
    assert not isinstance(loader, botodata.Loader)
    assert (
        "GetObject" in _client(loader, region_name="us-east-1").meta.service_model.operation_names
    )


def test_trimming_names_an_operation_the_model_lacks() -> None:
    model = {"operations": {"GetObject": {"input": {"shape": "In"}}}, "shapes": {"In": {}}}
    assert botodata.trim_service_model(model, frozenset({"GetObject"}))["shapes"] == {"In": {}}
    with pytest.raises(KeyError, match="ListParts"):
        botodata.trim_service_model(model, frozenset({"ListParts"}))


def test_static_keys_never_reach_for_the_instance_metadata_service(
    s3_moto: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")  # as in a pod: nothing turns the probe off
    tried: list[object] = []
    checked_connect = socket.socket.connect

    def connect(self: socket.socket, address: object) -> None:
        tried.append(address)
        checked_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    source = tmp_path / "in.txt"
    source.write_text("x")
    driver = S3Driver(s3_moto.ctx)
    driver.save(source, s3_moto.artifact("imds/in.txt"))
    driver.load(s3_moto.artifact("imds/in.txt"), tmp_path / "out.txt")
    hosts = {a[0] for a in tried if isinstance(a, tuple)}
    assert hosts == {"127.0.0.1"}, tried


@pytest.mark.parametrize("kind", [*botodata.LISTED_TYPES, "examples-1"])
def test_services_are_listed_as_botocore_lists_them(
    lean: BotocoreLoader, full: BotocoreLoader, kind: str
) -> None:
    assert lean.list_available_services(kind) == full.list_available_services(kind)


def test_a_service_model_added_under_a_search_path_is_listed(tmp_path: Path) -> None:
    extra = tmp_path / "models"
    (extra / "argo-test" / "2020-01-01").mkdir(parents=True)
    (extra / "argo-test" / "2020-01-01" / "service-2.json").write_text("{}")
    loader = botodata.lean_loader()
    assert isinstance(loader, botodata.Loader)
    loader.search_paths.insert(1, str(extra))
    assert "argo-test" in loader.list_available_services("service-2")
    assert "s3" in loader.list_available_services("service-2")
