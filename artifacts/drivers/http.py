"""HTTP and Artifactory artifacts (argo-contract.md §12.4), with ``requests``.

Both kinds share one implementation, as in Argo: whichever of ``http``/``artifactory`` is set is
used, and exactly one must be. Load is a streamed GET, save a PUT of the file (307/308 followed by
re-opening the file, for webHDFS), save_stream a chunked PUT. An HTTP URL holds one object: there
are no directories, no listing and no delete. Every response body is read as sent
(``Content-Encoding`` is not undone) and checked against ``Content-Length``, so a connection that
drops early is a transient error, never a silently short file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from argoexec.models import Artifact
from artifacts.driver import DriverContext, ObjectStream, SaveResult
from artifacts.drivers.http_auth import HTTPTarget, redact_url, resolve_credentials, target_of
from artifacts.drivers.http_session import (
    CHUNK,
    HTTPSession,
    status_error,
    transport_error,
    with_pattern,
)
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.streams import HashingReader

# Go's http.Client follows at most 10 redirects.
MAX_REDIRECTS = 10
DELETE_NOT_SUPPORTED = (
    "delete not supported for this artifact storage, please check the following issue for "
    "details: https://github.com/argoproj/argo-workflows/issues/3102"
)
LIST_NOT_SUPPORTED = (
    "ListObjects is currently not supported for this artifact type, but it will be in a future "
    "version"
)


class BodyReader:
    """A GET response body read as sent, that fails instead of ending short.

    Serves both ``load`` (copied to a file) and ``open_stream`` (handed to the caller, who closes
    it; closing also ends the operation's session).
    """

    def __init__(
        self,
        response: requests.Response,
        session: HTTPSession | None,
        location: str,
    ) -> None:
        self._response = response
        self._annotate: Callable[[ArtifactError], ArtifactError] | None = None
        self._session = session
        self._location = location
        self._stop = session.ctx.stop if session is not None else None
        self._progress = session.ctx.progress if session is not None else None
        self.received = 0
        length = response.headers.get("Content-Length", "")
        self.size: int | None = int(length) if length.isdigit() else None

    def read(self, n: int = -1, /) -> bytes:
        try:
            return self._read(n)
        except ArtifactError as exc:
            if self._annotate is not None:
                self._annotate(exc)  # fills in artifact/driver/location in place
            raise

    def _read(self, n: int) -> bytes:
        if n is None or n < 0:
            return b"".join(iter(lambda: self._read(CHUNK), b""))
        if self._stop is not None and self._stop.is_set():
            raise ArtifactError(f"download interrupted: {self._stop.reason}")
        try:
            data: bytes = self._response.raw.read(n, decode_content=False)
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
            raise transport_error(
                f"reading content from {self._location}", exc, self._response.url
            ) from exc
        self.received += len(data)
        if data and self._progress is not None:
            self._progress(len(data))
        if not data and n > 0 and self.size is not None and self.received < self.size:
            raise ArtifactError(
                f"reading content from {self._location} failed with reason: the connection "
                f"closed after {self.received} of {self.size} bytes",
                transient=True,
            )
        return data

    def annotate(self, annotate: Callable[[ArtifactError], ArtifactError]) -> None:
        """Name the artifact in errors raised while the caller reads."""
        self._annotate = annotate

    def readinto(self, buffer: bytearray | memoryview, /) -> int:
        data = self.read(len(buffer))
        memoryview(buffer)[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._response.close()
        if self._session is not None:
            self._session.close()

    def __enter__(self) -> BodyReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _FileBody:
    """A file upload body with a known length, hashed as ``requests`` reads it."""

    def __init__(self, f: BinaryIO, size: int, ctx: DriverContext) -> None:
        self.reader = HashingReader(f, ctx.progress)
        self._size = size
        self._stop = ctx.stop

    def __len__(self) -> int:
        return self._size

    def read(self, n: int = -1, /) -> bytes:
        if self._stop.is_set():
            raise ArtifactError(f"upload interrupted: {self._stop.reason}")
        return self.reader.read(n)

    def __iter__(self) -> Iterator[bytes]:
        return iter(lambda: self.read(CHUNK), b"")


class _StreamBody:
    """A chunked upload body; remembers a failure of the source so it is not mistaken for a
    network error."""

    def __init__(self, stream: BinaryIO, ctx: DriverContext) -> None:
        self.reader = HashingReader(stream, ctx.progress)
        self._ctx = ctx
        self.error: BaseException | None = None

    def __iter__(self) -> Iterator[bytes]:
        while True:
            try:
                if self._ctx.stop.is_set():
                    raise ArtifactError(f"upload interrupted: {self._ctx.stop.reason}")
                chunk = self.reader.read(CHUNK)
            except BaseException as exc:
                self.error = exc
                raise
            if not chunk:
                return
            yield chunk


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


class HTTPDriver:
    """Argo's ``http`` artifact driver; also drives ``artifactory`` locations."""

    kind = "http"

    def __init__(self, ctx: DriverContext) -> None:
        self.ctx = ctx

    # -- protocol: descriptions ---------------------------------------------------------------

    def location(self, artifact: Artifact) -> str:
        url = artifact.http.url if artifact.http else ""
        if not url and artifact.artifactory is not None:
            url = artifact.artifactory.url
        return redact_url(url) if url else "(no url)"

    def describe_credentials(self, artifact: Artifact) -> str:
        try:
            return resolve_credentials(target_of(artifact), self.ctx.secrets).description
        except ArtifactError as exc:
            raise self._context(exc, artifact) from exc

    # -- protocol: transfers -------------------------------------------------------------------

    def load(self, artifact: Artifact, path: Path) -> None:
        try:
            with self._get(artifact) as body:
                self._copy_to(body, path)
        except ArtifactError as exc:
            raise self._context(exc, artifact) from exc

    @staticmethod
    def _copy_to(body: BodyReader, path: Path) -> None:
        """Write the body to ``path``; a failed copy leaves no partial file behind."""
        try:
            with path.open("wb") as f:
                while chunk := body.read(CHUNK):
                    f.write(chunk)
        except BaseException as exc:
            path.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise ArtifactError(f"writing {path} failed: {exc}") from exc
            raise

    def open_stream(self, artifact: Artifact) -> ObjectStream:
        try:
            body = self._get(artifact)
        except ArtifactError as exc:
            raise self._context(exc, artifact) from exc
        body.annotate(lambda exc: self._context(exc, artifact))
        return body

    def save(self, path: Path, artifact: Artifact) -> SaveResult:
        try:
            return self._save_file(path, artifact)
        except ArtifactError as exc:
            raise self._context(exc, artifact) from exc

    def save_stream(self, stream: BinaryIO, artifact: Artifact) -> SaveResult:
        try:
            target = target_of(artifact)
            if target.save_stream_via_file:
                return self._save_stream_via_file(stream, artifact)
            return self._put_stream(stream, target)
        except ArtifactError as exc:
            raise self._context(exc, artifact) from exc

    # -- protocol: unsupported operations ------------------------------------------------------

    def delete(self, artifact: Artifact) -> None:
        raise self._context(
            ArtifactError(DELETE_NOT_SUPPORTED, code=ErrorCode.BAD_REQUEST), artifact
        )

    def list_objects(self, artifact: Artifact) -> list[str]:
        raise self._context(ArtifactError(LIST_NOT_SUPPORTED, code=ErrorCode.BAD_REQUEST), artifact)

    def is_directory(self, artifact: Artifact) -> bool:
        raise self._context(
            ArtifactError(
                f"IsDirectory currently unimplemented for {self.kind}",
                code=ErrorCode.NOT_IMPLEMENTED,
            ),
            artifact,
        )

    # -- implementation ------------------------------------------------------------------------

    def _context(self, exc: ArtifactError, artifact: Artifact) -> ArtifactError:
        with_pattern(exc, self.ctx.settings.transient_error_pattern)
        return exc.with_context(
            artifact=artifact.name, driver=self.kind, location=self.location(artifact)
        )

    def _get(self, artifact: Artifact) -> BodyReader:
        """GET the URL; the caller owns (and must close) the returned body and its session."""
        target = target_of(artifact)
        what = f"loading content from {target.location}"
        session = HTTPSession(target, self.ctx)
        try:
            response = session.request("GET", target.url, stream=True)
        except requests.RequestException as exc:
            session.close()
            raise transport_error(what, exc, target.url) from exc
        except BaseException:
            session.close()
            raise
        if not 200 <= response.status_code < 300:
            response.close()
            session.close()
            raise status_error(what, response, session.credentials.description, not_found=True)
        return BodyReader(response, session, target.location)

    def _save_file(self, path: Path, artifact: Artifact) -> SaveResult:
        target = target_of(artifact)
        if path.is_dir():
            raise ArtifactError(
                f"{path} is a directory; an HTTP URL holds a single file (archive it with tar or "
                "zip)",
                code=ErrorCode.BAD_REQUEST,
            )
        if not path.exists():
            raise ArtifactError(f"{path}: no such file or directory", code=ErrorCode.NOT_FOUND)
        what = f"saving file {path} to {target.location}"
        with HTTPSession(target, self.ctx) as session:
            url, with_credentials = target.url, True
            for _ in range(MAX_REDIRECTS + 1):
                with path.open("rb") as f:
                    body = _FileBody(f, os.fstat(f.fileno()).st_size, self.ctx)
                    response = self._send(session, what, url, body, with_credentials)
                with response:
                    location = response.headers.get("Location")
                    if response.status_code in (307, 308) and location:
                        # The file is re-opened and sent again in full, as Argo's GetBody does.
                        next_url = urljoin(url, location)
                        with_credentials = with_credentials and _same_origin(url, next_url)
                        url = next_url
                        continue
                    if not 200 <= response.status_code < 300:
                        raise status_error(what, response, session.credentials.description)
                return SaveResult(target.key, body.reader.size, body.reader.hexdigest())
        raise ArtifactError(f"{what} failed with reason: stopped after {MAX_REDIRECTS} redirects")

    def _send(
        self,
        session: HTTPSession,
        what: str,
        url: str,
        body: _FileBody | _StreamBody,
        with_credentials: bool,
    ) -> requests.Response:
        try:
            return session.request(
                "PUT", url, data=body, allow_redirects=False, with_credentials=with_credentials
            )
        except requests.RequestException as exc:
            raise transport_error(what, exc, url) from exc

    def _put_stream(self, stream: BinaryIO, target: HTTPTarget) -> SaveResult:
        what = f"saving stream to {target.location}"
        with HTTPSession(target, self.ctx) as session:
            body = _StreamBody(stream, self.ctx)
            try:
                response = session.request("PUT", target.url, data=body, allow_redirects=False)
            except BaseException as exc:
                if isinstance(body.error, ArtifactError):
                    raise body.error from None
                if body.error is not None:
                    raise ArtifactError(
                        f"{what} failed with reason: reading the stream failed: {body.error}"
                    ) from body.error
                if isinstance(exc, requests.RequestException):
                    raise transport_error(what, exc, target.url) from exc
                raise
            with response:
                # A streamed body cannot be sent twice, so 307/308 is a failure here.
                if not 200 <= response.status_code < 300:
                    raise status_error(what, response, session.credentials.description)
        return SaveResult(target.key, body.reader.size, body.reader.hexdigest())

    def _save_stream_via_file(self, stream: BinaryIO, artifact: Artifact) -> SaveResult:
        """``saveStreamViaFile``: spool to ``http-upload-*`` so redirects can be followed."""
        fd, name = tempfile.mkstemp(prefix="http-upload-", dir=self.ctx.settings.tmp_dir)
        spool = Path(name)
        try:
            with os.fdopen(fd, "wb") as f:
                shutil.copyfileobj(stream, f, CHUNK)
            return self._save_file(spool, artifact)
        finally:
            with contextlib.suppress(FileNotFoundError):
                spool.unlink()


class ArtifactoryDriver(HTTPDriver):
    """Argo's ``artifactory`` driver: the HTTP driver with basic auth from the artifact's
    ``usernameSecret``/``passwordSecret``."""

    kind = "artifactory"
