"""The S3 driver: Argo's seven operations over boto3/botocore (argo-contract.md §12.1).

Each operation opens its own client (credentials and secrets re-read), classifies every failure
into ``ArtifactError`` with Argo's message prefixes (``failed to get file: …``) and never retries
the whole operation: ``artifacts.transfer`` does that for errors marked transient.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from argoexec.models import Artifact
from artifacts.driver import DriverContext, ObjectStream, SaveResult
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.streams import HashingReader
from artifacts.windowed import run_windowed

from .client import S3Connection, connect, open_connection, resolve_credentials
from .download import S3ObjectStream, download_object, get_object, read_into, short_read
from .errors import classify, error_code, error_message, is_missing_key
from .options import directory_prefix, s3_fields, target_of
from .upload import upload_directory, upload_file, upload_reader

T = TypeVar("T")
NO_SUCH_KEY = "The specified key does not exist."
ALREADY_EXISTS = frozenset({"BucketAlreadyExists", "BucketAlreadyOwnedByYou"})
DELETE_BATCH = 1000  # DeleteObjects' limit


class S3Driver:
    """Argo's S3 artifact driver. Holds no credentials: each call resolves them afresh."""

    kind = "s3"

    def __init__(self, ctx: DriverContext) -> None:
        self.ctx = ctx

    # -- helpers -------------------------------------------------------------------------------

    def location(self, artifact: Artifact) -> str:
        return target_of(artifact).url()

    def _fail(self, exc: BaseException, what: str | None, conn: S3Connection) -> ArtifactError:
        pattern = self.ctx.settings.transient_error_pattern
        return classify(exc, what, pattern=pattern, credentials=conn.credentials)

    @contextlib.contextmanager
    def _errors(self, artifact: Artifact) -> Iterator[None]:
        """Any error escaping the block names the artifact, the driver and the location."""
        location = self.location(artifact)
        try:
            yield
        except ArtifactError as err:
            err.with_context(artifact=artifact.name, driver=self.kind, location=location)
            raise
        except Exception as exc:
            pattern = self.ctx.settings.transient_error_pattern
            wrapped = classify(exc, None, pattern=pattern)
            raise wrapped.with_context(
                artifact=artifact.name, driver=self.kind, location=location
            ) from exc

    @contextlib.contextmanager
    def _operation(self, artifact: Artifact) -> Iterator[S3Connection]:
        with self._errors(artifact), connect(self.ctx, artifact) as conn:
            yield conn

    def describe_credentials(self, artifact: Artifact) -> str:
        location = self.location(artifact)
        try:
            return resolve_credentials(self.ctx, artifact).source
        except ArtifactError as err:
            err.with_context(artifact=artifact.name, driver=self.kind, location=location)
            raise

    def _list_keys(self, conn: S3Connection, prefix: str) -> list[str]:
        return list(_iter_keys(conn, prefix))

    def _is_directory(self, conn: S3Connection, key: str) -> bool:
        """Argo's IsDirectory: at least one object under ``clean(key) + "/"``."""
        try:
            resp = conn.client.list_objects_v2(
                Bucket=conn.bucket, Prefix=directory_prefix(key), MaxKeys=1
            )
        except Exception as exc:
            raise self._fail(exc, f"failed to test if {key} is a directory", conn) from exc
        return bool(resp.get("Contents") or resp.get("CommonPrefixes"))

    def _missing_or_directory(
        self, conn: S3Connection, key: str, exc: BaseException | None
    ) -> None:
        """After a failed GET (or none, for a key ending in ``/``): raise the right error unless
        ``key`` is a directory."""
        if exc is not None and not is_missing_key(exc):
            raise self._fail(exc, "failed to get file", conn) from exc
        if not self._is_directory(conn, key):
            # Neither a file nor a directory: Argo returns the original NoSuchKey message.
            message = error_message(exc) if exc is not None else NO_SUCH_KEY
            raise ArtifactError(message, code=ErrorCode.NOT_FOUND) from exc

    def _get_file(self, conn: S3Connection, fetch: Callable[[], T]) -> T | None:
        """``fetch()``, or None when the key is missing but is a directory.

        A key ending in ``/`` is never fetched: consoles store an empty "folder" marker there
        (Argo's listing skips those) and SeaweedFS answers it with an implicit directory entry.
        """
        key = conn.target.key
        if key.endswith("/"):
            self._missing_or_directory(conn, key, None)
            return None
        try:
            return fetch()
        except Exception as exc:
            self._missing_or_directory(conn, key, exc)
        return None

    # -- load ----------------------------------------------------------------------------------

    def load(self, artifact: Artifact, path: Path) -> None:
        settings, stop = self.ctx.settings, self.ctx.stop
        with self._operation(artifact) as conn:
            key = conn.target.key
            progress = self.ctx.progress
            size = self._get_file(
                conn,
                lambda: download_object(
                    conn, key, path, settings=settings, stop=stop, progress=progress
                ),
            )
            if size is not None:
                return
            try:
                self._download_directory(conn, key, path)
            except Exception as exc:
                raise self._fail(exc, "failed to get directory", conn) from exc

    def _download_directory(self, conn: S3Connection, key: str, path: Path) -> None:
        """Objects are fetched while later pages of the listing are still coming (over a link
        with latency, listing 5,000 keys first would leave the workers idle for five pages);
        at most ``4 * dir_workers`` are queued, so neither the key list nor the queue grows
        with the number of objects."""
        prefix = directory_prefix(key)
        path.mkdir(parents=True, exist_ok=True)
        settings, stop = self.ctx.settings, self.ctx.stop
        progress = self.ctx.progress

        def calls() -> Iterator[tuple[str, Callable[[], int]]]:
            for k in _iter_keys(conn, prefix):
                dest = _inside(path, k[len(prefix) :], k)  # an escaping key: refused, no I/O
                fetch = functools.partial(
                    download_object, conn, k, dest, settings=settings, stop=stop, progress=progress
                )
                yield k, fetch

        with ThreadPoolExecutor(settings.dir_workers, "s3-get-dir") as pool:
            run_windowed(pool, calls(), 4 * settings.dir_workers, lambda _key, _size: None)

    # -- open_stream ---------------------------------------------------------------------------

    def open_stream(self, artifact: Artifact) -> ObjectStream:
        with self._errors(artifact):
            # Not a ``with``: on success the connection lives until the stream is closed.
            conn = open_connection(self.ctx, artifact)
            with contextlib.ExitStack() as on_error:
                on_error.callback(conn.close)
                resp = self._get_file(conn, lambda: get_object(conn, conn.target.key))
                if resp is None:
                    raise ArtifactError(
                        "Directory Stream capability currently unimplemented for S3",
                        code=ErrorCode.NOT_IMPLEMENTED,
                    )
                stream = self._stream(conn, resp, artifact)
                on_error.pop_all()
            return stream

    def _stream(self, conn: S3Connection, resp: Any, artifact: Artifact) -> S3ObjectStream:
        settings, key = self.ctx.settings, conn.target.key
        size = int(resp.get("ContentLength", 0))
        chunk = settings.download_chunk_size
        large = size >= settings.parallel_download_threshold and size > chunk
        etag = resp.get("ETag")

        def fetch_into(offset: int, view: memoryview) -> None:
            length = len(view)
            part = get_object(conn, key, f"bytes={offset}-{offset + length - 1}", etag)
            try:
                got = read_into(part["Body"], view)
            finally:
                part["Body"].close()
            if got != length:
                raise short_read(key, got, length)

        def wrap(exc: BaseException) -> ArtifactError:
            err = self._fail(exc, "failed to read file", conn)
            return err.with_context(
                artifact=artifact.name, driver=self.kind, location=self.location(artifact)
            )

        return S3ObjectStream(
            resp["Body"],
            size,
            key,
            fetch_into=fetch_into if large else None,
            chunk=chunk,
            threads=settings.download_threads,
            on_close=conn.close,
            wrap_error=wrap,
        )

    # -- save ----------------------------------------------------------------------------------

    def save(self, path: Path, artifact: Artifact) -> SaveResult:
        settings, stop, progress = self.ctx.settings, self.ctx.stop, self.ctx.progress
        with self._operation(artifact) as conn:
            key = conn.target.key
            is_dir = path.is_dir()
            if not is_dir and not path.is_file():
                raise ArtifactError(f"{path}: no such file or directory", code=ErrorCode.NOT_FOUND)
            self._create_bucket_if_asked(conn, artifact)
            if not is_dir:
                try:
                    size, digest = upload_file(
                        conn, key, path, settings=settings, stop=stop, progress=progress
                    )
                except Exception as exc:
                    raise self._fail(exc, "failed to put file", conn) from exc
                return SaveResult(key=key, size=size, sha256=digest)
            try:
                done = upload_directory(
                    conn, key, path, settings=settings, stop=stop, progress=progress
                )
            except Exception as exc:
                raise self._fail(exc, "failed to put directory", conn) from exc
            return SaveResult(key=key, size=done.size, sha256=done.sha256, objects=done.objects)

    def save_stream(self, stream: BinaryIO, artifact: Artifact) -> SaveResult:
        settings, stop = self.ctx.settings, self.ctx.stop
        with self._operation(artifact) as conn:
            key = conn.target.key
            self._create_bucket_if_asked(conn, artifact)
            reader = HashingReader(stream, self.ctx.progress)
            try:
                upload_reader(conn, key, reader, settings=settings, stop=stop)
            except Exception as exc:
                raise self._fail(exc, "failed to put file", conn) from exc
            return SaveResult(key=key, size=reader.size, sha256=reader.hexdigest())

    def _create_bucket_if_asked(self, conn: S3Connection, artifact: Artifact) -> None:
        """``createBucketIfNotPresent``: create (tolerating "already exists"), then set default
        bucket encryption when ``enableEncryption`` — only after a successful creation, as Argo."""
        options = s3_fields(artifact).create_bucket_if_not_present
        if options is None:
            return
        args: dict[str, Any] = {"Bucket": conn.bucket}
        if conn.target.region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": conn.target.region}
        if options.object_locking:
            args["ObjectLockEnabledForBucket"] = True
        what = f"failed to create bucket {conn.bucket}"
        try:
            conn.client.create_bucket(**args)
        except Exception as exc:
            if error_code(exc) in ALREADY_EXISTS:
                return
            raise self._fail(exc, what, conn) from exc
        rule = conn.encryption.bucket_rule()
        if rule is None:
            return
        try:
            conn.client.put_bucket_encryption(
                Bucket=conn.bucket,
                ServerSideEncryptionConfiguration=rule,  # type: ignore[arg-type]
            )
        except Exception as exc:
            raise self._fail(exc, what, conn) from exc

    # -- delete, list, is_directory ------------------------------------------------------------

    def delete(self, artifact: Artifact) -> None:
        with self._operation(artifact) as conn:
            key = conn.target.key
            try:
                if not key.endswith("/"):
                    conn.client.delete_object(Bucket=conn.bucket, Key=key)
                    return
                keys = self._list_keys(conn, directory_prefix(key))
                for start in range(0, len(keys), DELETE_BATCH):
                    self._delete_batch(conn, keys[start : start + DELETE_BATCH])
            except Exception as exc:
                raise self._fail(exc, f"failed to delete {key}", conn) from exc

    def _delete_batch(self, conn: S3Connection, keys: list[str]) -> None:
        resp = conn.client.delete_objects(
            Bucket=conn.bucket,
            Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True},
        )
        errors = resp.get("Errors") or []
        if errors:
            first = errors[0]
            raise ArtifactError(
                f"failed to delete {len(errors)} object(s), first {first.get('Key')}: "
                f"{first.get('Message') or first.get('Code')}",
                transient=first.get("Code") in {"InternalError", "SlowDown", "ServiceUnavailable"},
            )

    def list_objects(self, artifact: Artifact) -> list[str]:
        with self._operation(artifact) as conn:
            key = conn.target.key
            try:
                keys = self._list_keys(conn, directory_prefix(key))
            except Exception as exc:
                raise self._fail(exc, "failed to list directory", conn) from exc
            if not keys and not self._key_exists(conn, key):
                raise ArtifactError(f"no key found of name {key}", code=ErrorCode.NOT_FOUND)
            return keys

    def _key_exists(self, conn: S3Connection, key: str) -> bool:
        try:
            conn.client.head_object(
                Bucket=conn.bucket, Key=key, **conn.encryption.read_args(conn.bucket, key)
            )
        except Exception as exc:
            if is_missing_key(exc):
                return False
            what = f"failed to check if key {key} exists from bucket {conn.bucket}"
            raise self._fail(exc, what, conn) from exc
        return True

    def is_directory(self, artifact: Artifact) -> bool:
        with self._operation(artifact) as conn:
            return self._is_directory(conn, conn.target.key)


def _iter_keys(conn: S3Connection, prefix: str) -> Iterator[str]:
    """Keys under ``prefix`` (recursive), page by page, skipping console "folder" markers ending
    in ``/``."""
    paginator = conn.client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=conn.bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if not obj["Key"].endswith("/"):
                yield obj["Key"]


def _inside(root: Path, rel: str, key: str) -> Path:
    """``root/rel``, refusing keys whose relative part would escape ``root``."""
    base = os.path.normpath(root)
    target = os.path.normpath(os.path.join(base, rel.lstrip("/")))
    if target == base or os.path.commonpath([target, base]) != base:
        raise ArtifactError(
            f"refusing object {key!r}: it would be written outside {root}",
            code=ErrorCode.BAD_REQUEST,
        )
    return Path(target)
