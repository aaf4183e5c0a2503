"""Artifact locations and keys: Argo's relocation and output-key rules (argo-contract.md
§11.3-11.4), repository → ``archiveLocation`` conversion (§13.1-13.2) and ``scheme://``
shorthands for the CLI.

Every function returns a new model and leaves its arguments untouched. Kinds we carry but do not
drive (``hdfs``, ``oss``, ``azure``, ``plugin``) are plain dicts with Argo's camelCase keys.
Our extension kind ``local`` (a directory on this machine) behaves like S3: ``root`` plays the
bucket and ``key`` the key, and its repository has a ``keyFormat`` with S3's default.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from argoexec.contract import ANNOTATION_DEFAULT_ARTIFACT_REPOSITORY
from argoexec.models import (
    Artifact,
    ArtifactLocation,
    ArtifactRepository,
    GCSArtifact,
    GitArtifact,
    HTTPArtifact,
    S3Artifact,
    SecretKeySelector,
)
from argoexec.models.artifacts import LOCATION_KINDS, ArtifactoryArtifact, LocalArtifact
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.strategy import archive_strategy

STORAGE_NOT_CONFIGURED = (
    "artifact storage is not configured; see the docs for setup instructions: "
    "https://argo-workflows.readthedocs.io/en/latest/configure-artifact-repository/"
)
LOCATION_NOT_SET = "template artifact location not set"
KEY_UNSUPPORTED = "key unsupported: cannot get key for artifact location, because it is invalid"
DEFAULT_KEY_FORMAT = "{{workflow.name}}/{{pod.name}}"
# The key under which workflow-controller-configmap holds the controller's default repository.
CONTROLLER_REPOSITORY_KEY = "artifactRepository"
DEFAULT_S3_ENDPOINT = "s3.amazonaws.com"

# The field holding the key for each kind whose location is a plain dict.
_DICT_KEY_FIELD = {"hdfs": "path", "oss": "key", "azure": "blob", "plugin": "key"}
# Repository key-format field per kind (Argo's IntoArtifactLocation).
_DICT_FORMAT_FIELD = {"hdfs": "pathFormat", "oss": "keyFormat", "azure": "blobNameFormat"}
_DICT_FORMAT_FIELD["plugin"] = "keyFormat"
_TAG = re.compile(r"\{\{\s*(.*?)\s*\}\}")
L = TypeVar("L", bound=ArtifactLocation)


def _bad(message: str, artifact: str | None = None) -> ArtifactError:
    return ArtifactError(message, code=ErrorCode.BAD_REQUEST, artifact=artifact or None)


# --- keys -----------------------------------------------------------------------------------


def _dict_has(d: dict[str, Any] | None, *names: str) -> bool:
    return d is not None and all(d.get(n) for n in names)


def has_location(loc: ArtifactLocation) -> bool:
    """Whether a typed location is complete (Argo's ``HasLocation``)."""
    s3, gcs, art = loc.s3, loc.gcs, loc.artifactory
    return bool(
        (s3 is not None and s3.endpoint and s3.bucket and s3.key)
        or (gcs is not None and gcs.bucket and gcs.key)
        or (loc.http is not None and loc.http.url)
        or (loc.git is not None and loc.git.repo)
        or (loc.local is not None and loc.local.root and loc.local.key)
        or (art is not None and art.url and art.username_secret is not None)
        or loc.raw is not None
        or _dict_has(loc.oss, "endpoint", "bucket", "key")
        or _dict_has(loc.azure, "endpoint", "container", "blob")
        or _dict_has(loc.hdfs, "addresses")
        or _dict_has(loc.plugin, "name", "configuration", "key")
    )


def _url_path(url: str) -> str:
    return urlsplit(url).path


def get_key(loc: ArtifactLocation) -> str:
    """The typed key of the location (HTTP/Artifactory: the URL path); Git/Raw have none."""
    kind = loc.location_kind()
    if kind in ("s3", "gcs"):
        typed = loc.s3 if kind == "s3" else loc.gcs
        assert typed is not None
        return typed.key or ""
    if kind == "local" and loc.local is not None:
        return loc.local.key or ""
    if kind == "http" and loc.http is not None:
        return _url_path(loc.http.url)
    if kind == "artifactory" and loc.artifactory is not None:
        return _url_path(loc.artifactory.url)
    if kind in _DICT_KEY_FIELD:
        value = getattr(loc, kind)
        return str(value.get(_DICT_KEY_FIELD[kind]) or "")
    raise _bad(KEY_UNSUPPORTED)


def has_key(loc: ArtifactLocation) -> bool:
    """Whether the typed key is non-empty (Git and Raw never have keys)."""
    try:
        return get_key(loc) != ""
    except ArtifactError:
        return False


def _with_url_path(url: str, key: str) -> str:
    parts = urlsplit(url)
    path = key if not key or key.startswith("/") or not parts.netloc else f"/{key}"
    return urlunsplit(parts._replace(path=path))


def with_key(loc: L, key: str) -> L:
    """A copy of ``loc`` whose typed key is ``key`` (HTTP/Artifactory: the URL path)."""
    kind = loc.location_kind()
    update: Any
    if kind in ("s3", "gcs"):
        update = getattr(loc, kind).model_copy(update={"key": key})
    elif kind == "local":
        # A dict here is a bare ``{"local": {}}`` put in place by model_copy (no validation).
        value = getattr(loc, kind)
        if isinstance(value, dict):
            update = LocalArtifact.model_validate({**value, "key": key})
        else:
            update = value.model_copy(update={"key": key})
    elif kind in ("http", "artifactory"):
        typed: HTTPArtifact | ArtifactoryArtifact = getattr(loc, kind)
        update = typed.model_copy(update={"url": _with_url_path(typed.url, key)})
    elif kind in _DICT_KEY_FIELD:
        update = {**getattr(loc, kind), _DICT_KEY_FIELD[kind]: key}
    else:
        raise _bad(KEY_UNSUPPORTED, getattr(loc, "name", None))
    return loc.model_copy(update={kind: update})


# --- relocation and output keys (§11.3-11.4) ------------------------------------------------


def _location_fields(loc: ArtifactLocation) -> dict[str, Any]:
    fields: dict[str, Any] = {kind: None for kind in LOCATION_KINDS}
    fields["archive_logs"] = loc.archive_logs
    for kind in LOCATION_KINDS:
        value = getattr(loc, kind)
        if value is not None:
            fields[kind] = value.model_copy(deep=True) if hasattr(value, "model_copy") else value
    return fields


def relocate(artifact: Artifact, archive_location: ArtifactLocation | None) -> Artifact:
    """Argo's ``Relocate``: a key-only artifact takes a deep copy of the archive location
    (including its *type*) with the artifact's own key; a fully located artifact is unchanged."""
    if has_location(artifact):
        return artifact
    if archive_location is None or archive_location.location_kind() is None:
        raise _bad(LOCATION_NOT_SET, artifact.name)
    key = get_key(artifact) if has_key(artifact) else ""
    moved = artifact.model_copy(update=_location_fields(archive_location))
    kind = moved.location_kind()
    if kind in ("git", "raw"):
        if key:
            raise _bad(KEY_UNSUPPORTED, artifact.name)
        return moved
    return with_key(moved, key)


def go_path_join(*parts: str) -> str:
    """Go's ``path.Join``: non-empty parts joined with ``/`` and cleaned (``""`` stays empty)."""
    joined = "/".join(p for p in parts if p)
    if not joined:
        return ""
    cleaned = posixpath.normpath(joined)
    return cleaned[1:] if cleaned.startswith("//") else cleaned


def output_file_name(artifact: Artifact) -> str:
    """``<name>.tgz`` (tar), ``<name>.zip`` (zip) or the basename of the path (none), as
    :func:`artifacts.strategy.archive_strategy` decides (the artifact is stored so too)."""
    strategy = archive_strategy(artifact)
    if strategy == "none":
        return posixpath.basename((artifact.path or artifact.name).rstrip("/")) or artifact.name
    return f"{artifact.name}.{'zip' if strategy == 'zip' else 'tgz'}"


def output_key(artifact: Artifact, archive_location: ArtifactLocation | None) -> str:
    """The key an output artifact is stored at: its own key verbatim, else
    ``path.Join(<archive location key>, <file name>)``."""
    if has_key(artifact):
        return get_key(artifact)
    if archive_location is None or archive_location.location_kind() is None:
        raise ArtifactError(
            STORAGE_NOT_CONFIGURED, code=ErrorCode.BAD_REQUEST, artifact=artifact.name
        )
    return go_path_join(get_key(archive_location), output_file_name(artifact))


def prepare_output(artifact: Artifact, archive_location: ArtifactLocation | None) -> Artifact:
    """The artifact to upload: relocated onto the archive location, with its output key."""
    if has_location(artifact):
        return artifact
    key = output_key(artifact, archive_location)
    return with_key(relocate(artifact, archive_location), key)


# --- repositories (§13) ----------------------------------------------------------------------


def substitute_key_format(key_format: str, variables: Mapping[str, str]) -> str:
    """Replace ``{{name}}`` tags; any tag without a value is an error (the controller refuses
    to build a pod with unresolved tags)."""
    missing = sorted({m for m in _TAG.findall(key_format) if m not in variables})
    if missing:
        names = ", ".join(missing)
        raise _bad(f"failed to resolve key format {key_format!r}: no value for {names}")
    return _TAG.sub(lambda m: variables[m.group(1)], key_format)


def _typed_without(model: Any, *drop: str) -> dict[str, Any]:
    return {k: v for k, v in model.to_wire().items() if k not in drop}


def repository_location(repo: ArtifactRepository, variables: Mapping[str, str]) -> ArtifactLocation:
    """Argo's ``IntoArtifactLocation``: the repository with its key format substituted."""

    def key(fmt: str | None) -> str:
        return substitute_key_format(fmt or DEFAULT_KEY_FORMAT, variables)

    loc = ArtifactLocation(archive_logs=repo.archive_logs)
    if repo.s3 is not None:
        fmt = repo.s3.key_format or go_path_join(repo.s3.key_prefix or "", DEFAULT_KEY_FORMAT)
        fields = _typed_without(repo.s3, "keyFormat", "keyPrefix")
        return loc.model_copy(update={"s3": S3Artifact.model_validate({**fields, "key": key(fmt)})})
    if repo.gcs is not None:
        fields = _typed_without(repo.gcs, "keyFormat")
        gcs = GCSArtifact.model_validate({**fields, "key": key(repo.gcs.key_format)})
        return loc.model_copy(update={"gcs": gcs})
    if repo.artifactory is not None:
        base = repo.artifactory.repo_url or ""
        url = f"{base.rstrip('/')}/{key(repo.artifactory.key_format)}" if base else ""
        fields = _typed_without(repo.artifactory, "keyFormat", "repoURL")
        art = ArtifactoryArtifact.model_validate({**fields, "url": url})
        return loc.model_copy(update={"artifactory": art})
    for kind, fmt_field in _DICT_FORMAT_FIELD.items():
        value: dict[str, Any] | None = getattr(repo, kind)
        if value is not None:
            rest = {k: v for k, v in value.items() if k != fmt_field}
            rest[_DICT_KEY_FIELD[kind]] = key(value.get(fmt_field))
            return loc.model_copy(update={kind: rest})
    if repo.local is not None:
        fields = _typed_without(repo.local, "keyFormat")
        local = LocalArtifact.model_validate({**fields, "key": key(repo.local.key_format)})
        return loc.model_copy(update={"local": local})
    raise _bad(STORAGE_NOT_CONFIGURED)


def _as_mapping(value: Any, what: str) -> dict[str, Any]:
    if isinstance(value, str):
        # Imported here: loading an artifact never parses YAML, and yaml costs ~10 ms at start-up.
        import yaml

        from argoexec import safeyaml

        try:
            value = safeyaml.load(value)
        except yaml.YAMLError as exc:
            raise _bad(f"{what} is not valid YAML: {exc}") from None
    if not isinstance(value, dict):
        raise _bad(f"{what} is not a mapping")
    return value


def select_repository(document: Any, key: str | None = None) -> ArtifactRepository:
    """One repository from Argo's ``artifact-repositories`` format: a ConfigMap document, its
    ``data`` mapping, or a single repository. Without ``key``: the config map's
    default-repository annotation, then ``artifactRepository``, then the only entry."""
    doc = _as_mapping(document, "the repository document")
    kinds = ("s3", "gcs", "artifactory", "azure", "hdfs", "oss", "plugin", "local")
    if any(k in doc for k in kinds):
        return ArtifactRepository.model_validate(doc)
    data = doc
    default: str | None = None
    if "data" in doc or doc.get("kind") == "ConfigMap":
        data = _as_mapping(doc.get("data") or {}, "the config map's data")
        annotations = (doc.get("metadata") or {}).get("annotations") or {}
        default = annotations.get(ANNOTATION_DEFAULT_ARTIFACT_REPOSITORY)
    if key is None:
        key = default or (CONTROLLER_REPOSITORY_KEY if CONTROLLER_REPOSITORY_KEY in data else None)
    if key is None and len(data) == 1:
        key = next(iter(data))
    if key is None or key not in data:
        choices = ", ".join(sorted(data)) or "none"
        which = f"key {key!r} not found" if key else "no default repository (annotation)"
        raise _bad(f"artifact repositories: {which}; available keys: {choices}")
    return ArtifactRepository.model_validate(_as_mapping(data[key], f"repository {key!r}"))


# --- URL shorthands --------------------------------------------------------------------------

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def is_location_url(text: str) -> bool:
    return bool(_SCHEME.match(text))


def parse_selector(text: str) -> SecretKeySelector:
    """``NAME/KEY`` → a secret key selector."""
    name, sep, key = text.partition("/")
    if not sep or not name or not key or "/" in key:
        raise _bad(f"secret reference {text!r} must look like NAME/KEY")
    return SecretKeySelector(name=name, key=key)


def _default_name(key: str) -> str:
    base = posixpath.basename(key.rstrip("/"))
    for ext in (".tar.gz", ".tgz", ".zip", ".git"):
        base = base.removesuffix(ext)
    return re.sub(r"[^A-Za-z0-9_-]", "-", base) or "artifact"


def _split_bucket(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if not parts.netloc:
        raise _bad(f"location URL {url!r} has no bucket")
    return parts.netloc, parts.path.lstrip("/")


def _local(url: str) -> LocalArtifact:
    """``file:///abs/dir/name`` → root ``/abs/dir``, key ``name``: the URL names one file or
    directory, so its parent is the root (a trailing ``/`` is ignored)."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
        raise _bad(f"location URL {url!r}: use file:///absolute/path (no host, query or fragment)")
    path = posixpath.normpath(unquote(parts.path)) if parts.path else ""
    root, key = posixpath.split(path)
    if not path.startswith("/") or not key:
        raise _bad(f"location URL {url!r} must name a file or directory: file:///dir/name")
    return LocalArtifact(root=root, key=key)


def _git(url: str) -> GitArtifact:
    parts = urlsplit(url.removeprefix("git+"))
    path, revision = parts.path, None
    if "@" in path:
        path, _, revision = path.rpartition("@")
    return GitArtifact(repo=urlunsplit(parts._replace(path=path)), revision=revision or None)


def parse_location_url(
    url: str,
    *,
    name: str | None = None,
    endpoint: str | None = None,
    insecure: bool | None = None,
    region: str | None = None,
    access_key_secret: str | None = None,
    secret_key_secret: str | None = None,
) -> Artifact:
    """An artifact for ``s3://bucket/key``, ``gs://bucket/key``, ``git+https://host/repo[@rev]``,
    ``git+ssh://…``, ``http(s)://…`` or ``file:///dir/name`` (our ``local`` kind, rooted at
    ``/dir``). S3 without key secrets uses the SDK credential chain."""
    scheme = url.split("://", 1)[0].lower()
    if scheme == "s3":
        bucket, key = _split_bucket(url)
        with_keys = access_key_secret is not None or secret_key_secret is not None
        s3 = S3Artifact(
            endpoint=endpoint or DEFAULT_S3_ENDPOINT,
            bucket=bucket,
            key=key,
            region=region,
            insecure=insecure,
            access_key_secret=parse_selector(access_key_secret) if access_key_secret else None,
            secret_key_secret=parse_selector(secret_key_secret) if secret_key_secret else None,
            use_sdk_creds=None if with_keys else True,
        )
        return Artifact(name=name or _default_name(key), s3=s3)
    if scheme in ("gs", "gcs"):
        bucket, key = _split_bucket(url)
        return Artifact(name=name or _default_name(key), gcs=GCSArtifact(bucket=bucket, key=key))
    if scheme.startswith("git+"):
        git = _git(url)
        return Artifact(name=name or _default_name(urlsplit(git.repo).path), git=git)
    if scheme in ("http", "https"):
        return Artifact(name=name or _default_name(_url_path(url)), http=HTTPArtifact(url=url))
    if scheme == "file":
        local = _local(url)
        return Artifact(name=name or _default_name(local.key or ""), local=local)
    raise _bad(
        f"unsupported location URL scheme {scheme!r} (use s3, gs, git+https, git+ssh, https, file)"
    )
