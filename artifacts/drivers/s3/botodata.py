"""A trimmed copy of botocore's own data files, so an S3 client costs ~2 MiB instead of ~12 MiB.

botocore parses two large JSON files for every process that creates an S3 client:
``endpoints.json`` (every endpoint of ~450 AWS services, ~6.7 MiB of Python objects) and the S3
service model (119 operations with their documentation, ~3.3 MiB). The driver calls a dozen
operations and the credential chain talks to four other services. This module derives, from the
botocore installed alongside it, a data directory holding only those: the S3 model restricted to
:data:`OPERATIONS` (and the shapes they reach, documentation dropped) and ``endpoints.json``
restricted to :data:`ENDPOINT_SERVICES`. A :class:`Loader` searches it before botocore's own data,
so everything else (the S3 endpoint rule set, paginators, other services' models) still comes from
botocore unchanged.

The directory lives beside this module, keyed by the botocore version and by what is kept, so an
upgrade or a new operation gets a fresh copy. It is built by ``python -m
artifacts.drivers.s3`` at install time (the Makefile and the Dockerfile do), or on first
use where the package directory is writable; where it is not, the driver uses botocore's full data
as before. botocore treats endpoint data from outside its package as a user override (it then
feeds the legacy endpoint into the rule set); the trimmed file is a subset of the built-in one, so
:class:`Loader` reports it as built-in to keep endpoint resolution identical.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore
from botocore.loaders import Loader as BotocoreLoader

# Every S3 operation the driver calls, plus those botocore's S3 customizations call on the same
# client: HeadBucket (finding a bucket's region after a redirect) and CreateSession (S3 Express
# directory buckets). tests/artifacts/s3/test_botodata.py fails when the driver calls another.
OPERATIONS = frozenset(
    {
        "AbortMultipartUpload",
        "CompleteMultipartUpload",
        "CreateBucket",
        "CreateMultipartUpload",
        "CreateSession",
        "DeleteObject",
        "DeleteObjects",
        "GetObject",
        "HeadBucket",
        "HeadObject",
        "ListObjectsV2",
        "PutBucketEncryption",
        "PutObject",
        "UploadPart",
    }
)
# Services whose endpoints a client may resolve: S3, and what the credential chain creates (STS
# for roleARN and IRSA web identity, SSO and SSO-OIDC for SSO profiles, signin for `aws login`).
ENDPOINT_SERVICES = ("s3", "sts", "sso", "sso-oidc", "signin")
SERVICE = "s3"
# Bump when the trimming itself changes, so stale copies are not reused.
_FORMAT = 3
DATA_ROOT = Path(__file__).with_name("botocore-data")
# botocore lists the directories of all ~450 services (≈1,800 stat calls, 10-20 ms) to check that
# the one asked for exists, once per kind of file a client loads; the built-in data cannot change
# for a given botocore version, so its listing is taken once, when the copy is built.
LISTED_TYPES = ("service-2", "endpoint-rule-set-1", "paginators-1", "waiters-2")
LISTING = "argoexec-services.json"


def data_dir(root: Path = DATA_ROOT) -> Path:
    """Where the trimmed copy for this botocore and this module's choices lives."""
    spec = json.dumps([_FORMAT, sorted(OPERATIONS), ENDPOINT_SERVICES]).encode()
    return root / f"{botocore.__version__}-{hashlib.sha256(spec).hexdigest()[:12]}"


def _references(node: object) -> Iterator[str]:
    """Names of the shapes a model fragment refers to (``{"shape": name}`` anywhere in it)."""
    if isinstance(node, dict):
        shape = node.get("shape")
        if isinstance(shape, str):
            yield shape
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def _undocumented(node: Any) -> Any:
    """The fragment with every documentation text blanked (the keys stay: botocore reads some)."""
    if isinstance(node, dict):
        return {
            k: "" if k == "documentation" and isinstance(v, str) else _undocumented(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_undocumented(v) for v in node]
    return node


def trim_service_model(model: dict[str, Any], operations: frozenset[str]) -> dict[str, Any]:
    """The model with only ``operations``, the shapes they reach and every error shape (the
    client's exception classes), without documentation. KeyError names a missing operation."""
    kept_ops = {name: model["operations"][name] for name in sorted(operations)}
    shapes = model["shapes"]
    wanted = [name for name, shape in shapes.items() if shape.get("exception")]
    wanted.extend(_references(kept_ops))
    kept: dict[str, Any] = {}
    while wanted:
        name = wanted.pop()
        if name not in kept:
            kept[name] = shapes[name]
            wanted.extend(_references(shapes[name]))
    trimmed = {k: v for k, v in model.items() if k not in ("operations", "shapes")}
    trimmed["operations"] = kept_ops
    trimmed["shapes"] = {name: kept[name] for name in shapes if name in kept}
    return _undocumented(trimmed)  # type: ignore[no-any-return]


def trim_endpoints(endpoints: dict[str, Any], services: tuple[str, ...]) -> dict[str, Any]:
    """``endpoints.json`` with each partition's services restricted to ``services``."""
    partitions = []
    for partition in endpoints["partitions"]:
        known = partition.get("services", {})
        kept = {name: known[name] for name in services if name in known}
        partitions.append({**partition, "services": kept})
    return {**endpoints, "partitions": partitions}


def _raw(name: str) -> tuple[Any, str]:
    """A built-in data file exactly as botocore ships it (no extras merged), and its path."""
    plain = BotocoreLoader(include_default_search_paths=False, include_default_extras=False)
    plain.search_paths.append(BotocoreLoader.BUILTIN_DATA_PATH)
    data, path = plain.load_data_with_path(name)
    return data, path


def build(dest: Path) -> Path:
    """Write the trimmed copy to ``dest`` atomically (a concurrent builder's copy is as good)."""
    version = BotocoreLoader().determine_latest_version(SERVICE, "service-2")
    model, _ = _raw(f"{SERVICE}/{version}/service-2")
    endpoints, _ = _raw("endpoints")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        model_dir = staging / SERVICE / version
        model_dir.mkdir(parents=True)
        with gzip.open(model_dir / "service-2.json.gz", "wt", encoding="utf-8") as f:
            json.dump(trim_service_model(model, OPERATIONS), f, separators=(",", ":"))
        trimmed = trim_endpoints(endpoints, ENDPOINT_SERVICES)
        (staging / "endpoints.json").write_text(json.dumps(trimmed, separators=(",", ":")))
        builtin = BotocoreLoader(include_default_search_paths=False)
        builtin.search_paths.append(BotocoreLoader.BUILTIN_DATA_PATH)
        listing = {kind: builtin.list_available_services(kind) for kind in LISTED_TYPES}
        (staging / LISTING).write_text(json.dumps(listing))
        staging.chmod(0o755)
        with contextlib.suppress(FileExistsError, OSError):
            os.rename(staging, dest)  # fails only when another process got there first
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not (dest / LISTING).is_file():
        raise OSError(f"building botocore's trimmed data in {dest} left no {LISTING}")
    return dest


def ensure(root: Path = DATA_ROOT) -> Path | None:
    """The trimmed copy, built now if missing; None where it cannot be written (read-only)."""
    dest = data_dir(root)
    if (dest / LISTING).is_file():
        return dest
    try:
        return build(dest)
    except OSError:
        return None


class Loader(BotocoreLoader):
    """botocore's loader searching the trimmed copy first; its files count as built-in data, and
    the built-in services are listed from the copy's record instead of the file system."""

    def __init__(self, trimmed: Path) -> None:
        super().__init__(extra_search_paths=[str(trimmed)])
        self._trimmed = str(trimmed) + os.sep
        self._builtin_listing: dict[str, list[str]] = json.loads((trimmed / LISTING).read_text())
        self._listed: dict[str, list[str]] = {}

    def is_builtin_path(self, path: str) -> bool:
        return path.startswith(self._trimmed) or super().is_builtin_path(path)

    def list_available_services(self, type_name: str) -> list[str]:
        builtin = self._builtin_listing.get(type_name)
        if builtin is None:
            return list(super().list_available_services(type_name))
        if type_name not in self._listed:
            others = [p for p in self.search_paths if p != self.BUILTIN_DATA_PATH]
            scan = BotocoreLoader(extra_search_paths=others, include_default_search_paths=False)
            found = set(builtin) | set(scan.list_available_services(type_name))
            self._listed[type_name] = sorted(found)
        return list(self._listed[type_name])


def lean_loader(root: Path = DATA_ROOT) -> BotocoreLoader:
    """A loader over the trimmed copy, or botocore's default one where there is none."""
    trimmed = ensure(root)
    return Loader(trimmed) if trimmed is not None else BotocoreLoader()


def main(argv: list[str] | None = None) -> int:
    """Build the copy under ``ROOT`` (default: beside this module) and print where it is."""
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else DATA_ROOT
    dest = data_dir(root)
    if not (dest / LISTING).is_file():
        build(dest)
    print(dest)
    return 0
