"""One ``requests`` session per HTTP/Artifactory operation, and how its failures are classified.

A session lives exactly as long as one operation (one load, one save, one open stream): the OAuth2
token it fetched is cached only within it, and the client-certificate files it wrote (``requests``
needs paths) are private 0600 temporary files removed when it closes. Environment variables play no
part (``trust_env`` is off: no proxies, netrc or CA bundle from the environment); everything comes
from the ``DriverContext``. ``requests`` itself never retries: ``artifacts.transfer`` owns retries.
"""

from __future__ import annotations

import contextlib
import os
import re
import ssl
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase, HTTPBasicAuth

from artifacts.driver import DriverContext
from artifacts.drivers.http_auth import (
    Credentials,
    HTTPTarget,
    OAuth2Credentials,
    redact_url,
    resolve_credentials,
)
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.secrets import register_secret

CHUNK = 1024 * 1024
# Go's oauth2 package treats a token as expired this long before its stated expiry.
TOKEN_EXPIRY_DELTA = 10.0
# Statuses worth retrying as a whole operation (server overload or a gateway in trouble).
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def status_text(response: requests.Response) -> str:
    """Go's ``Response.Status``: ``"404 Not Found"``."""
    return f"{response.status_code} {response.reason or ''}".strip()


def status_error(
    what: str, response: requests.Response, credentials: str, *, not_found: bool = False
) -> ArtifactError:
    """``<what> failed with reason: <status>`` with Argo's code for the status."""
    status = response.status_code
    message = f"{what} failed with reason: {status_text(response)}"
    if not_found and status == 404:
        return ArtifactError(message, code=ErrorCode.NOT_FOUND)
    if status in (401, 403):
        return ArtifactError(f"{message} (credentials: {credentials})", code=ErrorCode.FORBIDDEN)
    return ArtifactError(message, code=ErrorCode.INTERNAL, transient=status in TRANSIENT_STATUSES)


def _scrub(text: str, url: str) -> str:
    """Exception texts quote the request URL; replace it by its redacted form."""
    parts = urlsplit(url)
    safe = urlsplit(redact_url(url))
    pairs = [(url, redact_url(url))]
    if parts.query:
        pairs.append((f"{parts.path}?{parts.query}", f"{safe.path}?{safe.query}"))
    if parts.username or parts.password:
        pairs.append((parts.netloc, safe.netloc))
    for raw, clean in pairs:
        text = text.replace(raw, clean)
    return text


def transport_error(what: str, exc: BaseException, url: str) -> ArtifactError:
    """Classify a failure below HTTP: bad URLs are permanent, network trouble is transient."""
    reason = _scrub(str(exc) or type(exc).__name__, url)
    message = f"{what} failed with reason: {reason}"
    invalid = (
        requests.exceptions.InvalidURL,
        requests.exceptions.MissingSchema,
        requests.exceptions.InvalidSchema,
    )
    if isinstance(exc, invalid):
        return ArtifactError(message, code=ErrorCode.BAD_REQUEST)
    if isinstance(exc, requests.exceptions.Timeout):
        return ArtifactError(message, code=ErrorCode.TIMEOUT, transient=True)
    if isinstance(exc, requests.exceptions.SSLError):
        # Certificate verification and client-certificate rejection do not heal on retry.
        return ArtifactError(message, code=ErrorCode.INTERNAL)
    network = (
        requests.exceptions.ConnectionError,
        requests.exceptions.ChunkedEncodingError,
        urllib3.exceptions.HTTPError,
        OSError,
    )
    transient = isinstance(exc, network)
    return ArtifactError(message, code=ErrorCode.INTERNAL, transient=transient)


def with_pattern(error: ArtifactError, pattern: str | None) -> ArtifactError:
    """Argo's TRANSIENT_ERROR_PATTERN: any error whose text matches it is transient."""
    if pattern and not error.transient and re.search(pattern, error.message):
        error.transient = True
    return error


class _Adapter(HTTPAdapter):
    """Sends request bodies in 1 MiB blocks (urllib3's default is 16 KiB)."""

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        pool_kwargs.setdefault("blocksize", CHUNK)
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)


class OAuth2ClientCredentialsAuth(AuthBase):
    """Adds ``Authorization: Bearer`` from an OAuth2 client-credentials grant.

    The token is fetched on first use and again once expired; it is cached only in this object,
    which lives for one operation.
    """

    def __init__(self, owner: HTTPSession, creds: OAuth2Credentials) -> None:
        self._owner = owner
        self._creds = creds
        self._token = ""
        self._expiry = 0.0
        self.fetches = 0

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        return request

    def token(self) -> str:
        if self._token and time.monotonic() < self._expiry:
            return self._token
        form: dict[str, str] = {"grant_type": "client_credentials"}
        if self._creds.scopes:
            form["scope"] = " ".join(self._creds.scopes)
        form.update(self._creds.endpoint_params)
        what = "fetching an OAuth2 token"
        try:
            response = self._owner.session.post(
                self._creds.token_url,
                data=form,
                auth=HTTPBasicAuth(self._creds.client_id, self._creds.client_secret),
                headers={"Accept": "application/json"},
                timeout=self._owner.timeout,
            )
        except requests.RequestException as exc:
            raise transport_error(what, exc, self._creds.token_url) from exc
        with response:
            if not 200 <= response.status_code < 300:
                error = status_error(what, response, self._owner.credentials.description)
                if response.status_code == 400:
                    error.code = ErrorCode.FORBIDDEN  # invalid_client / invalid_scope
                raise error
            self._token, expires_in = _parse_token(response)
        self.fetches += 1
        register_secret(self._token)
        self._expiry = time.monotonic() + expires_in - TOKEN_EXPIRY_DELTA
        return self._token


def _parse_token(response: requests.Response) -> tuple[str, float]:
    """(access token, seconds until expiry) from a JSON or form-encoded token response."""
    content_type = response.headers.get("Content-Type", "")
    parsed: Any
    try:
        parsed = response.json() if "json" in content_type else dict(parse_qsl(response.text))
    except ValueError:
        parsed = {}
    data: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
    token = str(data.get("access_token") or "")
    if not token:
        raise ArtifactError(
            "fetching an OAuth2 token failed with reason: the response has no access_token",
            code=ErrorCode.FORBIDDEN,
        )
    try:
        expires_in = float(data.get("expires_in") or "inf")
    except (TypeError, ValueError):
        expires_in = float("inf")
    return token, expires_in


class HTTPSession:
    """The ``requests`` session, credentials and headers for one operation on one target."""

    def __init__(self, target: HTTPTarget, ctx: DriverContext) -> None:
        self.target = target
        self.ctx = ctx
        self.credentials: Credentials = resolve_credentials(target, ctx.secrets)
        self.timeout = (ctx.settings.connect_timeout, ctx.settings.read_timeout)
        self.session = requests.Session()
        self.session.trust_env = False
        adapter = _Adapter(max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        ca_bundle = ctx.settings.http_ca_bundle
        self.session.verify = str(ca_bundle) if ca_bundle else True
        self._tmp_files: list[Path] = []
        self.auth: AuthBase | None = None
        try:
            self._configure_auth()
        except BaseException:
            self.close()
            raise

    def _configure_auth(self) -> None:
        creds = self.credentials
        if creds.client_cert is not None:
            self.session.cert = self._write_client_cert(*creds.client_cert)
        if creds.oauth2 is not None:
            self.auth = OAuth2ClientCredentialsAuth(self, creds.oauth2)
        elif creds.basic is not None:
            self.auth = HTTPBasicAuth(*creds.basic)

    def _write_client_cert(self, cert_pem: str, key_pem: str) -> tuple[str, str]:
        """Private temp files for the PEM pair, checked to form a valid certificate and key."""
        paths = [self._private_file(cert_pem, "-cert.pem"), self._private_file(key_pem, "-key.pem")]
        cert_path, key_path = (str(p) for p in paths)
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(cert_path, key_path)
        except (ssl.SSLError, OSError) as exc:
            raise ArtifactError(
                f"invalid client certificate or key ({self.credentials.description}): "
                f"{exc.__class__.__name__}",
                code=ErrorCode.BAD_REQUEST,
            ) from None
        return cert_path, key_path

    def _private_file(self, content: str, suffix: str) -> Path:
        tmp_dir = self.ctx.settings.tmp_dir
        fd, name = tempfile.mkstemp(prefix="http-client-", suffix=suffix, dir=tmp_dir)
        path = Path(name)
        self._tmp_files.append(path)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content)
        return path

    def headers(self, *, with_credentials: bool = True) -> dict[str, str]:
        """The artifact's headers. Repeated names are joined (Go's ``Header.Add`` semantics).

        ``Accept-Encoding: identity`` (unless the artifact sets it) keeps the stored bytes
        byte-for-byte: a ``.tgz`` served with ``Content-Encoding: gzip`` is not unpacked.
        """
        out: dict[str, str] = {"Accept-Encoding": "identity"}
        given: dict[str, str] = {}
        for name, value in self.target.headers:
            given[name] = f"{given[name]}, {value}" if name in given else value
        out.update(given)
        if not with_credentials:
            out = {k: v for k, v in out.items() if k.lower() not in {"authorization", "cookie"}}
        return out

    def request(
        self,
        method: str,
        url: str,
        *,
        data: Any = None,
        stream: bool = False,
        allow_redirects: bool = True,
        with_credentials: bool = True,
    ) -> requests.Response:
        return self.session.request(
            method,
            url,
            data=data,
            headers=self.headers(with_credentials=with_credentials),
            auth=self.auth if with_credentials else _NoAuth(),
            stream=stream,
            allow_redirects=allow_redirects,
            timeout=self.timeout,
        )

    def close(self) -> None:
        self.session.close()
        for path in self._tmp_files:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self._tmp_files.clear()

    def __enter__(self) -> HTTPSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _NoAuth(AuthBase):
    """No credentials at all (neither a session's nor ones embedded in the URL)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.pop("Authorization", None)
        return request
