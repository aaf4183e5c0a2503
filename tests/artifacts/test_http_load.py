"""HTTP/Artifactory load and open_stream against the loopback file server (argo-contract §16.15)."""

from __future__ import annotations

from pathlib import Path

import pytest

from artifacts.errors import ArtifactError, ErrorCode
from tests.servers.http import (
    PASSWORD,
    USER,
    FileServer,
    artifactory_artifact,
    basic_auth,
    ctx,
    driver,
    http_artifact,
)
from tests.servers.procs import free_port


def test_an_existing_url_loads_into_the_file(http_server: FileServer, tmp_path: Path) -> None:
    http_server.state.store["/files/hello.txt"] = b"hello, artifact\n"
    dest = tmp_path / "hello.txt"
    driver(ctx()).load(http_artifact(http_server.url_for("files/hello.txt")), dest)
    assert dest.read_bytes() == b"hello, artifact\n"


def test_a_load_sends_the_artifact_headers(http_server: FileServer, tmp_path: Path) -> None:
    http_server.state.store["/secured.bin"] = b"\x00\x01\x02"
    http_server.state.require_bearer = True
    http_server.state.bearer_tokens.add("static-bearer-token")
    headers = [
        {"name": "Accept", "value": "application/octet-stream"},
        {"name": "Authorization", "value": "Bearer static-bearer-token"},
    ]
    art = http_artifact(http_server.url_for("secured.bin"), headers=headers)
    dest = tmp_path / "out"
    driver(ctx()).load(art, dest)
    assert dest.read_bytes() == b"\x00\x01\x02"
    (get,) = http_server.state.requests("GET")
    assert get.headers["accept"] == "application/octet-stream"
    assert get.headers["authorization"] == "Bearer static-bearer-token"


def test_a_missing_url_is_not_found(http_server: FileServer, tmp_path: Path) -> None:
    art = http_artifact(http_server.url_for("nope.tgz"), name="in")
    with pytest.raises(ArtifactError) as info:
        driver(ctx()).load(art, tmp_path / "x")
    assert info.value.code is ErrorCode.NOT_FOUND
    assert "404 Not Found" in str(info.value)
    assert "'in'" in str(info.value)
    assert "/nope.tgz" in str(info.value)


def test_an_artifactory_artifact_loads_with_basic_auth(
    http_server: FileServer, tmp_path: Path
) -> None:
    http_server.state.basic_auth = (USER, PASSWORD)
    http_server.state.store["/repo/app.tgz"] = b"artifactory bytes"
    dest = tmp_path / "app.tgz"
    driver(ctx(), "artifactory").load(
        artifactory_artifact(http_server.url_for("repo/app.tgz")), dest
    )
    assert dest.read_bytes() == b"artifactory bytes"


def test_a_missing_artifactory_url_is_not_found(http_server: FileServer, tmp_path: Path) -> None:
    http_server.state.basic_auth = (USER, PASSWORD)
    art = artifactory_artifact(http_server.url_for("repo/missing.tgz"))
    with pytest.raises(ArtifactError) as info:
        driver(ctx(), "artifactory").load(art, tmp_path / "x")
    assert info.value.code is ErrorCode.NOT_FOUND
    assert "(artifactory)" in str(info.value)


def test_a_server_error_is_transient_and_names_the_url(
    http_server: FileServer, tmp_path: Path
) -> None:
    http_server.state.status_for["/flaky"] = 503
    with pytest.raises(ArtifactError) as info:
        driver(ctx()).load(http_artifact(http_server.url_for("flaky")), tmp_path / "x")
    assert info.value.transient
    assert (
        f"loading content from {http_server.url}/flaky failed with reason: "
        "503 Service Unavailable" in str(info.value)
    )


def test_a_client_error_is_permanent(http_server: FileServer, tmp_path: Path) -> None:
    http_server.state.status_for["/gone"] = 410
    with pytest.raises(ArtifactError) as info:
        driver(ctx()).load(http_artifact(http_server.url_for("gone")), tmp_path / "x")
    assert not info.value.transient
    assert info.value.code is ErrorCode.INTERNAL
    assert "410 Gone" in str(info.value)


def test_too_many_requests_is_transient(http_server: FileServer, tmp_path: Path) -> None:
    http_server.state.status_for["/busy"] = 429
    with pytest.raises(ArtifactError) as info:
        driver(ctx()).load(http_artifact(http_server.url_for("busy")), tmp_path / "x")
    assert info.value.transient


def test_a_wrong_password_is_forbidden_and_names_the_secret_not_its_value(
    http_server: FileServer, tmp_path: Path
) -> None:
    http_server.state.basic_auth = (USER, "another-password")
    http_server.state.store["/private"] = b"x"
    art = http_artifact(http_server.url_for("private"), auth=basic_auth())
    with pytest.raises(ArtifactError) as info:
        driver(ctx()).load(art, tmp_path / "x")
    assert info.value.code is ErrorCode.FORBIDDEN
    text = str(info.value) + repr(info.value)
    assert "401 Unauthorized" in text
    assert "basic auth from secrets 'creds' (username), 'creds' (password)" in text
    assert PASSWORD not in text


def test_a_body_shorter_than_its_content_length_is_a_transient_error(
    http_server: FileServer, tmp_path: Path
) -> None:
    http_server.state.store["/big.bin"] = b"z" * 100_000
    http_server.state.truncate["/big.bin"] = 40_000
    with pytest.raises(ArtifactError) as info:
        driver(ctx()).load(http_artifact(http_server.url_for("big.bin")), tmp_path / "big.bin")
    assert info.value.transient
    assert not (tmp_path / "big.bin").exists(), "a short download must not leave a partial file"


def test_a_refused_connection_is_transient(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/nothing-listens"
    with pytest.raises(ArtifactError) as info:
        driver(ctx(connect_timeout=2.0)).load(http_artifact(url), tmp_path / "x")
    assert info.value.transient


def test_a_url_without_scheme_is_a_bad_request(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError) as info:
        driver(ctx()).load(http_artifact("not-a-url"), tmp_path / "x")
    assert info.value.code is ErrorCode.BAD_REQUEST


def test_a_presigned_query_never_appears_in_errors(http_server: FileServer, tmp_path: Path) -> None:
    signature = "c2lnbmF0dXJlLXRoYXQtbXVzdC1ub3QtbGVhaw"
    url = http_server.url_for("signed.tgz") + f"?X-Amz-Signature={signature}&X-Amz-Expires=60"
    with pytest.raises(ArtifactError) as info:
        driver(ctx()).load(http_artifact(url), tmp_path / "x")
    assert signature not in str(info.value)
    assert "X-Amz-Signature=***" in str(info.value)


def test_a_load_follows_redirects(http_server: FileServer, tmp_path: Path) -> None:
    http_server.state.store["/real"] = b"moved content"
    http_server.state.get_redirects["/old"] = "/real"
    dest = tmp_path / "x"
    driver(ctx()).load(http_artifact(http_server.url_for("old")), dest)
    assert dest.read_bytes() == b"moved content"


def test_an_open_stream_yields_the_body_with_its_size(http_server: FileServer) -> None:
    payload = bytes(range(256)) * 4096
    http_server.state.store["/stream.bin"] = payload
    stream = driver(ctx()).open_stream(http_artifact(http_server.url_for("stream.bin")))
    try:
        assert stream.size == len(payload)
        head = bytearray(1000)
        assert stream.readinto(head) == 1000
        rest = stream.read()
    finally:
        stream.close()
    assert bytes(head) + rest == payload


def test_an_open_stream_of_a_missing_url_is_not_found(http_server: FileServer) -> None:
    with pytest.raises(ArtifactError) as info:
        driver(ctx()).open_stream(http_artifact(http_server.url_for("missing")))
    assert info.value.code is ErrorCode.NOT_FOUND


def test_a_short_stream_fails_on_read_instead_of_ending(http_server: FileServer) -> None:
    http_server.state.store["/short"] = b"s" * 50_000
    http_server.state.truncate["/short"] = 10_000
    stream = driver(ctx()).open_stream(http_artifact(http_server.url_for("short")))
    try:
        assert stream.size == 50_000
        with pytest.raises(ArtifactError) as info:
            while stream.read(4096):
                pass
        assert info.value.transient
        assert "artifact 'art' (http)" in str(info.value)
    finally:
        stream.close()


def test_the_body_is_stored_as_sent_without_content_decoding(
    http_server: FileServer, tmp_path: Path
) -> None:
    import gzip

    packed = gzip.compress(b"inner text")
    http_server.state.store["/a.gz"] = packed
    dest = tmp_path / "a.gz"
    driver(ctx()).load(http_artifact(http_server.url_for("a.gz")), dest)
    assert dest.read_bytes() == packed
    (get,) = http_server.state.requests("GET")
    assert get.headers["accept-encoding"] == "identity"


def test_progress_is_reported_for_every_byte_loaded(
    http_server: FileServer, tmp_path: Path
) -> None:
    http_server.state.store["/p.bin"] = b"q" * 3_000_000
    seen: list[int] = []
    context = ctx()
    context.progress = seen.append
    driver(context).load(http_artifact(http_server.url_for("p.bin")), tmp_path / "p.bin")
    assert sum(seen) == 3_000_000


@pytest.mark.parametrize("kind", ["http", "artifactory"])
def test_the_registry_picks_the_driver_by_location_kind(
    kind: str, http_server: FileServer, tmp_path: Path
) -> None:
    from artifacts.registry import driver_for

    http_server.state.store["/r"] = b"registry"
    url = http_server.url_for("r")
    art = http_artifact(url) if kind == "http" else artifactory_artifact(url, creds=False)
    d = driver_for(art, ctx())
    assert d.kind == kind
    d.load(art, tmp_path / "r")
    assert (tmp_path / "r").read_bytes() == b"registry"
