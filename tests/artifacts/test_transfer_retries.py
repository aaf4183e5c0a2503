"""Whole-operation retries in artifacts.transfer, with faults injected between the S3 driver and
moto by the loopback fault proxy."""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from argoexec.retry import Backoff
from artifacts.drivers.s3.client import SDK_MAX_ATTEMPTS
from artifacts.errors import ArtifactError
from artifacts.transfer import load_artifact, save_artifact
from tests.artifacts.test_transfer import files_of, leftovers, make_tree, with_settings
from tests.servers.backend import Backend
from tests.servers.faults import Fault, FaultProxy
from tests.servers.s3 import S3Server, make_backend


@pytest.fixture
def proxied(
    moto_server: S3Server,
    s3_moto: Backend,
    fault_proxy_factory: Callable[..., FaultProxy],
) -> tuple[Backend, FaultProxy]:
    port = int(moto_server.endpoint.rsplit(":", 1)[1])
    proxy = fault_proxy_factory(port)
    backend = make_backend(moto_server, s3_moto.ctx, endpoint=proxy.endpoint)
    return backend, proxy


def attempts_logged(caplog: pytest.LogCaptureFixture) -> list[int]:
    return [r.__dict__["attempts"] for r in caplog.records if r.name == "argoexec.artifacts"]


def test_a_save_is_retried_after_the_sdk_gave_up_on_a_transient_error(
    proxied: tuple[Backend, FaultProxy], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    backend, proxy = proxied
    caplog.set_level(logging.INFO, logger="argoexec.artifacts")
    proxy.add(Fault.slow_down(times=SDK_MAX_ATTEMPTS, method="PUT"))
    src = make_tree(tmp_path)
    saved = save_artifact(backend.artifact("k/out.tgz"), src, with_settings(backend))
    assert saved is not None
    assert len(proxy.fired("slowdown")) == SDK_MAX_ATTEMPTS
    assert attempts_logged(caplog) == [2]
    dest = tmp_path / "in"
    load_artifact(backend.artifact("k/out.tgz"), dest, with_settings(backend))
    assert files_of(dest) == files_of(src)


def test_exhausted_retries_report_the_attempts_and_the_last_cause(
    proxied: tuple[Backend, FaultProxy], tmp_path: Path
) -> None:
    backend, proxy = proxied
    proxy.add(Fault.slow_down(times=None, method="PUT"))
    with pytest.raises(ArtifactError) as err:
        save_artifact(
            backend.artifact("k/out.tgz", name="out"), make_tree(tmp_path), with_settings(backend)
        )
    assert err.value.transient
    assert "retries exhausted after 3 attempts: " in str(err.value)
    assert "artifact 'out'" in str(err.value)
    assert len(proxy.fired("slowdown")) == 3 * SDK_MAX_ATTEMPTS


def test_a_download_cut_mid_body_restarts_into_a_clean_staging_dir(
    proxied: tuple[Backend, FaultProxy], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    backend, proxy = proxied
    src = tmp_path / "src"
    src.mkdir()
    for i in range(4):
        (src / f"f{i}.bin").write_bytes(os.urandom(300_000))
    ctx = with_settings(backend)
    save_artifact(backend.artifact("k/out.tgz"), src, ctx)
    proxy.add(Fault.reset("response", 600_000, method="GET", times=1))
    caplog.set_level(logging.INFO, logger="argoexec.artifacts")
    dest = tmp_path / "in" / "out"
    loaded = load_artifact(backend.artifact("k/out.tgz"), dest, ctx)
    assert loaded is not None and loaded.unpacked == "tar"
    assert len(proxy.fired("reset")) == 1
    assert attempts_logged(caplog) == [2]
    assert files_of(dest) == files_of(src)
    assert leftovers(dest) == []


def test_the_transient_error_pattern_makes_any_matching_error_retryable(
    s3_moto: Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="argoexec.artifacts")
    ctx = with_settings(s3_moto, transient_error_pattern="key does not exist")
    with pytest.raises(ArtifactError, match="retries exhausted after 3 attempts") as err:
        load_artifact(s3_moto.artifact("missing", name="x"), tmp_path / "x", ctx)
    assert err.value.transient
    assert attempts_logged(caplog) == [3]
    plain = with_settings(s3_moto)
    with pytest.raises(ArtifactError) as once:
        load_artifact(s3_moto.artifact("missing", name="x"), tmp_path / "x", plain)
    assert not once.value.transient


def test_a_stop_during_the_backoff_ends_the_retries(
    proxied: tuple[Backend, FaultProxy], tmp_path: Path
) -> None:
    backend, proxy = proxied
    proxy.add(Fault.slow_down(times=None, method="PUT"))
    ctx = with_settings(backend)
    ctx.settings = dataclasses.replace(ctx.settings, backoff=Backoff(steps=5, duration=120.0))
    timer = threading.Timer(0.5, ctx.stop.set, args=("SIGTERM",))
    timer.start()
    try:
        with pytest.raises(ArtifactError) as err:
            save_artifact(backend.artifact("k/out.tgz"), make_tree(tmp_path), ctx)
    finally:
        timer.cancel()
    assert len(proxy.fired("slowdown")) == SDK_MAX_ATTEMPTS  # one transfer attempt only
    assert "retries exhausted" not in str(err.value)
