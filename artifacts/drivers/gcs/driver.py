"""``GCSDriver``: Argo's seven artifact operations on Google Cloud Storage (see the package
docstring for where we deliberately differ from Argo)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from google.api_core import exceptions as api_exceptions
from google.api_core.retry import Retry
from google.cloud import storage
from google.cloud.storage.retry import DEFAULT_RETRY

from argoexec.models import Artifact, GCSArtifact
from artifacts.driver import DriverContext, ObjectStream, SaveResult
from artifacts.drivers.gcs._credentials import open_client, resolve_credentials
from artifacts.drivers.gcs._errors import to_artifact_error
from artifacts.drivers.gcs._helpers import clean_key, regular_files, run_bounded, safe_destination
from artifacts.drivers.gcs._streams import GCSObjectStream, ProgressWriter, TellingReader
from artifacts.errors import ArtifactError, ErrorCode, not_found, not_implemented
from artifacts.settings import MIB
from artifacts.streams import CHUNK, tree_digest

# Resumable uploads send, and BlobReader fetches, this much per request (memory per transfer).
DEFAULT_CHUNK_SIZE = 8 * MIB
_CHUNK_MULTIPLE = 256 * 1024  # GCS requires resumable chunks in multiples of 256 KiB
# The SDK's own per-request retries (429/5xx/connection errors) give up after this many seconds;
# whole-operation retries belong to artifacts.transfer.
SDK_RETRY_TIMEOUT = 30.0
_LIST_FIELDS = "items(name),nextPageToken"


def sdk_retry(timeout: float) -> Retry | None:
    """The SDK's default retry predicate with modest, bounded delays (``None`` when 0)."""
    if timeout <= 0:
        return None
    retry: Retry = DEFAULT_RETRY.with_delay(initial=0.5, maximum=4.0, multiplier=2.0)
    return retry.with_timeout(timeout)


@dataclass(frozen=True)
class _Target:
    artifact: Artifact
    gcs: GCSArtifact
    bucket: str
    key: str

    @property
    def location(self) -> str:
        return f"gs://{self.bucket}/{self.key}"

    @property
    def prefix(self) -> str:
        """Where a "directory" key's objects live: ``key/`` (the whole bucket for an empty key)."""
        return f"{self.key}/" if self.key else ""


@dataclass
class _Session:
    client: storage.Client
    bucket: storage.Bucket
    credentials: str
    detached: bool = False  # the client now belongs to an open stream


class GCSDriver:
    """The ``gcs`` artifact driver (google-cloud-storage). One client per operation."""

    kind = "gcs"

    def __init__(self, ctx: DriverContext, *, sdk_retry_timeout: float = SDK_RETRY_TIMEOUT) -> None:
        self.ctx = ctx
        self._retry = sdk_retry(sdk_retry_timeout)
        self._timeout = (ctx.settings.connect_timeout, ctx.settings.read_timeout)
        part = ctx.settings.part_size or DEFAULT_CHUNK_SIZE
        self._chunk_size = max(1, -(-part // _CHUNK_MULTIPLE)) * _CHUNK_MULTIPLE

    # -- naming -------------------------------------------------------------------------------

    def _target(self, artifact: Artifact) -> _Target:
        gcs = artifact.gcs
        if gcs is None or not gcs.bucket:
            raise ArtifactError(
                "the artifact has no GCS bucket" if gcs else "the artifact has no gcs location",
                code=ErrorCode.BAD_REQUEST,
                artifact=artifact.name,
                driver=self.kind,
            )
        return _Target(artifact, gcs, gcs.bucket, clean_key(gcs.key or ""))

    def location(self, artifact: Artifact) -> str:
        gcs = artifact.gcs
        if gcs is None:
            return "gs://"
        return f"gs://{gcs.bucket or ''}/{clean_key(gcs.key or '')}"

    def describe_credentials(self, artifact: Artifact) -> str:
        target = self._target(artifact)
        try:
            return resolve_credentials(target.gcs.service_account_key_secret, self.ctx).description
        except ArtifactError as err:
            raise err.with_context(
                artifact=artifact.name, driver=self.kind, location=target.location
            ) from err

    # -- sessions and errors ------------------------------------------------------------------

    def _translator(
        self, target: _Target, action: str, credentials: str | None
    ) -> Callable[[BaseException], ArtifactError]:
        def translate(exc: BaseException) -> ArtifactError:
            return to_artifact_error(
                exc,
                action,
                artifact=target.artifact.name,
                location=target.location,
                credentials=credentials,
                pattern=self.ctx.settings.transient_error_pattern,
            )

        return translate

    @contextlib.contextmanager
    def _operation(self, target: _Target, action: str) -> Iterator[_Session]:
        """A fresh client for one operation; every failure leaves as a classified ArtifactError.

        Everything is caught on purpose: google-cloud-storage surfaces google.api_core, google.auth,
        requests, urllib3, http.client and OSError failures, and each must be classified here.
        """
        session: _Session | None = None
        try:
            resolved = resolve_credentials(target.gcs.service_account_key_secret, self.ctx)
            client = open_client(resolved, self.ctx)
            session = _Session(client, client.bucket(target.bucket), resolved.description)
            try:
                yield session
            finally:
                if not session.detached:
                    client.close()
        except Exception as exc:
            credentials = session.credentials if session else None
            raise self._translator(target, action, credentials)(exc) from exc

    # -- listing helpers ----------------------------------------------------------------------

    def _names(self, s: _Session, prefix: str, *, limit: int | None = None) -> list[str]:
        blobs = s.client.list_blobs(
            s.bucket,
            prefix=prefix or None,
            max_results=limit,
            fields=_LIST_FIELDS,
            retry=self._retry,
            timeout=self._timeout,
        )
        return [blob.name for blob in blobs]

    def _files_under(self, s: _Session, target: _Target) -> list[str]:
        # Names ending in "/" are console "folder" markers, not files (as in Argo).
        return [name for name in self._names(s, target.prefix) if not name.endswith("/")]

    def _exists(self, s: _Session, name: str) -> bool:
        return bool(s.bucket.blob(name).exists(retry=self._retry, timeout=self._timeout))

    # -- load ---------------------------------------------------------------------------------

    def load(self, artifact: Artifact, path: Path) -> None:
        target = self._target(artifact)
        with self._operation(target, "failed to load") as s:
            if target.key and self._download_if_exists(s, target.key, path):
                return
            names = self._files_under(s, target)
            if not names:
                raise not_found(f"no results for key: {target.key}")
            destinations = [
                (name, safe_destination(path, name[len(target.prefix) :], name)) for name in names
            ]
            path.mkdir(parents=True, exist_ok=True)
            run_bounded(
                destinations,
                lambda item: self._download(s, item[0], item[1]),
                self.ctx.settings.dir_workers,
                self.ctx.stop,
            )

    def _download_if_exists(self, s: _Session, name: str, path: Path) -> bool:
        """Download the object ``name`` to ``path``; False (and no file) when it does not exist.

        Trying the GET first costs one request for the common file case; only a 404 leads to
        the directory listing.
        """
        try:
            self._download(s, name, path)
        except api_exceptions.NotFound:
            return False
        return True

    def _download(self, s: _Session, name: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with path.open("wb") as out:
                s.bucket.blob(name).download_to_file(
                    ProgressWriter(out, self.ctx.progress), retry=self._retry, timeout=self._timeout
                )
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    # -- open_stream --------------------------------------------------------------------------

    def open_stream(self, artifact: Artifact) -> ObjectStream:
        target = self._target(artifact)
        with self._operation(target, "failed to open stream") as s:
            blob = s.bucket.get_blob(target.key, retry=self._retry, timeout=self._timeout)
            if blob is None:
                if target.key and self._names(s, target.prefix, limit=1):
                    raise not_implemented(
                        "Directory Stream capability currently unimplemented for GCS"
                    )
                raise not_found(f"no results for key: {target.key}")
            # Bytes as stored (no decompressive transcoding), pinned to the generation just seen:
            # a concurrent overwrite fails the read instead of splicing two versions.
            reader = blob.open(
                "rb",
                chunk_size=self._chunk_size,
                raw_download=True,
                if_generation_match=blob.generation,
                retry=self._retry,
                timeout=self._timeout,
            )
            s.detached = True
            return GCSObjectStream(
                reader,
                blob.size,
                translate=self._translator(target, "failed to read stream", s.credentials),
                on_close=s.client.close,
                progress=self.ctx.progress,
            )
        raise AssertionError("unreachable")  # pragma: no cover - mypy cannot see the raise above

    # -- save ---------------------------------------------------------------------------------

    def save(self, path: Path, artifact: Artifact) -> SaveResult:
        target = self._target(artifact)
        if not path.exists():
            raise ArtifactError(
                f"{path}: no such file or directory",
                code=ErrorCode.NOT_FOUND,
                artifact=artifact.name,
                driver=self.kind,
                location=target.location,
            )
        with self._operation(target, "failed to save") as s:
            if not path.is_dir():
                size, digest = self._upload_file(s, target.key, path)
                return SaveResult(key=target.key, size=size, sha256=digest)
            files = regular_files(path)
            results = run_bounded(
                files,
                lambda item: self._upload_file(s, target.prefix + item[0], item[1]),
                self.ctx.settings.dir_workers,
                self.ctx.stop,
            )
        entries = [
            (rel, digest) for (rel, _file), (_size, digest) in zip(files, results, strict=True)
        ]
        return SaveResult(
            key=target.key,
            size=sum(size for size, _digest in results),
            sha256=tree_digest(entries),
            objects=len(files),
        )

    def _upload_file(self, s: _Session, name: str, file: Path) -> tuple[int, str]:
        """Upload one file, hashing the bytes as they are sent. Files above the library's 8 MiB
        multipart limit go through a resumable upload in ``chunk_size`` pieces."""
        size = file.stat().st_size
        blob = s.bucket.blob(name, chunk_size=self._chunk_size)
        with file.open("rb") as raw:
            reader = TellingReader(raw, self.ctx.progress)
            blob.upload_from_file(
                reader,
                size=size,
                content_type="application/octet-stream",
                retry=self._retry,
                timeout=self._timeout,
            )
        return reader.size, reader.hexdigest()

    def save_stream(self, stream: BinaryIO, artifact: Artifact) -> SaveResult:
        """A resumable upload fed ``chunk_size`` at a time. The object appears only when the
        final chunk is committed; on any failure the session is cancelled, so nothing (and no
        partial object) is left at the key."""
        target = self._target(artifact)
        with self._operation(target, "failed to save stream") as s:
            reader = TellingReader(stream, self.ctx.progress)
            blob = s.bucket.blob(target.key, chunk_size=self._chunk_size)
            writer = blob.open(
                "wb",
                chunk_size=self._chunk_size,
                ignore_flush=True,
                content_type="application/octet-stream",
                retry=self._retry,
                timeout=self._timeout,
            )
            try:
                while data := reader.read(CHUNK):
                    writer.write(data)
                writer.close()  # commits the final chunk: the object appears only now
            except BaseException:
                _abandon(writer)
                raise
        return SaveResult(key=target.key, size=reader.size, sha256=reader.hexdigest())

    # -- delete, list, is_directory -----------------------------------------------------------

    def delete(self, artifact: Artifact) -> None:
        """Delete the object; a key ending in ``/`` deletes everything under it (Argo's GCS
        driver deletes only the exact key; S3's prefix rule is more useful for GC). Deleting
        what is already gone succeeds, so artifact GC can be re-run safely."""
        target = self._target(artifact)
        by_prefix = (target.gcs.key or "").endswith("/")
        if by_prefix and not target.key:
            raise ArtifactError(
                "refusing to delete every object in the bucket (key is '/')",
                code=ErrorCode.BAD_REQUEST,
                artifact=artifact.name,
                driver=self.kind,
                location=target.location,
            )
        with self._operation(target, "failed to delete") as s:
            names = self._names(s, target.prefix) if by_prefix else [target.key]
            run_bounded(
                names,
                lambda name: self._delete_one(s, name),
                self.ctx.settings.dir_workers,
                self.ctx.stop,
            )

    def _delete_one(self, s: _Session, name: str) -> None:
        with contextlib.suppress(api_exceptions.NotFound):
            s.bucket.delete_blob(name, retry=self._retry, timeout=self._timeout)

    def list_objects(self, artifact: Artifact) -> list[str]:
        """Object names under ``key/`` (recursive, folder markers skipped); an object named
        exactly ``key`` with nothing under it lists as itself. Nothing at all → NOT_FOUND."""
        target = self._target(artifact)
        with self._operation(target, "failed to list objects") as s:
            names = self._files_under(s, target)
            if names:
                return names
            if target.key and self._exists(s, target.key):
                return [target.key]
        raise ArtifactError(
            f"no results for key: {target.key}",
            code=ErrorCode.NOT_FOUND,
            artifact=artifact.name,
            driver=self.kind,
            location=target.location,
        )

    def is_directory(self, artifact: Artifact) -> bool:
        """True when at least one object exists under ``key/`` (Argo: not implemented for GCS)."""
        target = self._target(artifact)
        with self._operation(target, "failed to test for a directory") as s:
            return bool(self._names(s, target.prefix, limit=1))
        raise AssertionError("unreachable")  # pragma: no cover


def _abandon(writer: Any) -> None:
    """Cancel a failed resumable upload for good.

    ``BlobWriter.close()`` uploads whatever is buffered, and the garbage collector calls it on
    an unclosed writer: a failed save would then complete later, behind the caller's back. So
    the session is cancelled and the buffer closed even when cancelling itself fails (it does
    when the session never started).
    """
    with contextlib.suppress(Exception):
        writer.terminate()
    with contextlib.suppress(Exception):
        writer._buffer.close()
