"""Argo's ``IsTransientGCSErr`` and ``NormalizeGCSKey`` cases (argo-contract.md §16.13),
re-expressed with the exceptions google-cloud-storage really raises; our error-code mapping."""

from __future__ import annotations

import http.client

import pytest
import requests
import urllib3
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.cloud.storage.exceptions import DataCorruption, InvalidResponse

from artifacts.drivers.gcs._errors import error_code, is_transient_gcs_error, to_artifact_error
from artifacts.drivers.gcs._helpers import clean_key
from artifacts.errors import ErrorCode, not_found


def wrapped(outer: str, inner: BaseException) -> BaseException:
    """Python's spelling of Go's ``fmt.Errorf("...: %w", err)``."""
    try:
        raise RuntimeError(outer) from inner
    except RuntimeError as exc:
        return exc


def response(status: int) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    return r


def refused() -> BaseException:
    reason = urllib3.exceptions.NewConnectionError(
        None, "Failed to establish a new connection: [Errno 111] Connection refused"
    )
    pool_error = urllib3.exceptions.MaxRetryError(None, "/storage/v1/b/x/o", reason=reason)  # type: ignore[arg-type]
    return requests.exceptions.ConnectionError(pool_error)


TRANSIENT = {
    "429": api_exceptions.from_http_status(429, "rate limited"),
    "504": api_exceptions.from_http_status(504, "gateway timeout"),
    "518": api_exceptions.from_http_status(518, "odd 5xx-ish"),
    "599": api_exceptions.from_http_status(599, "network read timeout"),
    "500 wrapped": wrapped("while saving", api_exceptions.InternalServerError("boom")),
    "503 media response": InvalidResponse(response(503), "upload failed"),
    "connection refused": refused(),
    "url error wrapping compute: Received 504": wrapped(
        'Get "https://storage.googleapis.com/x"',
        Exception("compute: Received 504 `Gateway Timeout`"),
    ),
    "url error wrapping http2 connection lost": wrapped(
        "Get x", Exception("http2: client connection lost")
    ),
    "unexpected EOF (incomplete read)": http.client.IncompleteRead(b"partial", 100),
    "unexpected EOF (broken chunked body)": requests.exceptions.ChunkedEncodingError(
        urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead(5 bytes read)")
    ),
    "TLS handshake timeout": requests.exceptions.SSLError("net/http: TLS handshake timeout"),
    "read timeout": requests.exceptions.ReadTimeout("Read timed out. (read timeout=60)"),
    "plain text Received 504": Exception("Received 504"),
    "plain text Received 500": Exception("Received 500 from the metadata server"),
    "plain text http2 connection lost": Exception("http2: client connection lost"),
    "connection reset": ConnectionResetError(104, "Connection reset by peer"),
    "token endpoint unreachable": auth_exceptions.TransportError(refused()),
    "retryable token refresh": auth_exceptions.RefreshError("try later", retryable=True),
    "checksum mismatch": DataCorruption(response(200), "crc32c mismatch"),
}

PERMANENT = {
    "API code 0": api_exceptions.GoogleAPICallError("no code"),
    "our NotFound": not_found("no results for key: foo/bar"),
    "API NotFound": api_exceptions.NotFound("no results for key: foo/bar"),
    "400 wrapped": wrapped("while saving", api_exceptions.BadRequest("bad")),
    "403": api_exceptions.Forbidden("denied"),
    "404 media response": InvalidResponse(response(404), "missing"),
    "arbitrary": Exception("something else went wrong"),
    "refused token grant": auth_exceptions.RefreshError("invalid_grant", retryable=False),
}


@pytest.mark.parametrize("exc", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_transient_gcs_errors_are_recognised(exc: BaseException) -> None:
    assert is_transient_gcs_error(exc)


@pytest.mark.parametrize("exc", PERMANENT.values(), ids=PERMANENT.keys())
def test_permanent_gcs_errors_are_not_transient(exc: BaseException) -> None:
    assert not is_transient_gcs_error(exc)


def test_the_transient_error_pattern_makes_any_error_transient() -> None:
    exc = wrapped("outer", Exception("this error is transient"))
    assert not is_transient_gcs_error(exc)
    assert is_transient_gcs_error(exc, pattern="this error is transient")
    assert not is_transient_gcs_error(exc, pattern="something else")


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (api_exceptions.NotFound("gone"), ErrorCode.NOT_FOUND),
        (InvalidResponse(response(404), "gone"), ErrorCode.NOT_FOUND),
        (api_exceptions.Forbidden("no"), ErrorCode.FORBIDDEN),
        (api_exceptions.Unauthorized("no"), ErrorCode.FORBIDDEN),
        (auth_exceptions.RefreshError("invalid_grant"), ErrorCode.FORBIDDEN),
        (api_exceptions.BadRequest("bad"), ErrorCode.BAD_REQUEST),
        (api_exceptions.ServiceUnavailable("busy"), ErrorCode.INTERNAL),
        (DataCorruption(response(200), "mismatch"), ErrorCode.INTEGRITY),
        (wrapped("outer", api_exceptions.NotFound("gone")), ErrorCode.NOT_FOUND),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_errors_map_to_argo_codes(exc: BaseException, code: ErrorCode) -> None:
    assert error_code(exc) is code


def test_a_forbidden_error_names_the_credential_source_artifact_and_location() -> None:
    err = to_artifact_error(
        api_exceptions.Forbidden("GET https://x: caller lacks storage.objects.get"),
        "failed to load",
        artifact="my-art",
        location="gs://bucket/some/key",
        credentials="service-account key from secret 'gcs' (sa@p.iam.gserviceaccount.com)",
        pattern=None,
    )
    text = str(err)
    assert err.code is ErrorCode.FORBIDDEN
    assert not err.transient
    assert "my-art" in text
    assert "(gcs)" in text
    assert "gs://bucket/some/key" in text
    assert "failed to load: 403" in text
    assert "credentials: service-account key from secret 'gcs'" in text


@pytest.mark.parametrize(
    ("key", "cleaned"),
    [
        ("a/b/", "a/b"),
        ("a//b", "a/b"),
        ("./a/./b", "a/b"),
        ("", ""),
        ("/", ""),
        ("utils\\p4", "utils\\p4"),
        ("my-wf/my-pod/out.tgz", "my-wf/my-pod/out.tgz"),
    ],
)
def test_keys_are_cleaned_like_argo_does(key: str, cleaned: str) -> None:
    assert clean_key(key) == cleaned
