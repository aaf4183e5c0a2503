"""Volumes and mounts of a workflow pod (argo-contract.md §1.2, §11.2).

Containers are plain dicts in Kubernetes wire form; functions here append to their
``volumeMounts`` in the order Argo's ``createWorkflowPod`` does.
"""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from argoexec.contract import SECRETS_DIR, VAR_RUN_ARGO, VAR_RUN_ARGO_VOLUME
from argoexec.controller.pod.context import PodBuildError
from argoexec.models import Artifact, ArtifactLocation, SecretKeySelector, Template
from artifacts.locations import has_key, has_location
from artifacts.subpath import sub_path_problem

TMP_DIR_VOLUME = "tmp-dir-argo"
INPUT_ARTIFACTS_VOLUME = "input-artifacts"
INPUT_ARTIFACTS_DIR = "/argo/inputs/artifacts"
STAGING_VOLUME = "argo-staging"
STAGING_DIR = "/argo/staging"
MAIN_FS_DIR = "/mainctrfs"

Container = dict[str, Any]


def empty_dir(name: str) -> dict[str, Any]:
    return {"name": name, "emptyDir": {}}


def var_run_argo_mount() -> dict[str, Any]:
    return {"name": VAR_RUN_ARGO_VOLUME, "mountPath": VAR_RUN_ARGO}


def add_mounts(container: Container, mounts: Iterable[Mapping[str, Any]]) -> None:
    container.setdefault("volumeMounts", []).extend(copy.deepcopy(dict(m)) for m in mounts)


def find(containers: Sequence[Container], name: str) -> Container | None:
    return next((c for c in containers if c.get("name") == name), None)


# --- secrets (§11.2) --------------------------------------------------------------------------


def _selector(value: Any) -> SecretKeySelector | None:
    if isinstance(value, SecretKeySelector) or value is None:
        return value
    if isinstance(value, Mapping):
        return SecretKeySelector.model_validate(value)
    return None


def _dict_selectors(loc: Mapping[str, Any] | None, *names: str) -> list[SecretKeySelector | None]:
    return [_selector((loc or {}).get(n)) for n in names]


def _http_selectors(art: ArtifactLocation) -> list[SecretKeySelector | None]:
    auth = art.http.auth if art.http is not None else None
    if auth is None:
        return []
    found: list[SecretKeySelector | None] = []
    if auth.basic_auth is not None:
        found += [auth.basic_auth.username_secret, auth.basic_auth.password_secret]
    if auth.client_cert is not None:
        found += [auth.client_cert.client_cert_secret, auth.client_cert.client_key_secret]
    if auth.oauth2 is not None:
        o = auth.oauth2
        found += [o.client_id_secret, o.client_secret_secret, o.token_url_secret]
    return found


def _s3_selectors(art: ArtifactLocation) -> list[SecretKeySelector | None]:
    s3 = art.s3
    assert s3 is not None
    found = [s3.access_key_secret, s3.secret_key_secret, s3.session_token_secret, s3.ca_secret]
    enc = s3.encryption_options
    if enc is not None and enc.enable_encryption:
        found.append(enc.server_side_customer_key_secret)
    return found


def _git_selectors(art: ArtifactLocation) -> list[SecretKeySelector | None]:
    g = art.git
    assert g is not None
    return [g.username_secret, g.password_secret, g.ssh_private_key_secret]


def _artifactory_selectors(art: ArtifactLocation) -> list[SecretKeySelector | None]:
    a = art.artifactory
    assert a is not None
    return [a.username_secret, a.password_secret]


def _gcs_selectors(art: ArtifactLocation) -> list[SecretKeySelector | None]:
    assert art.gcs is not None
    return [art.gcs.service_account_key_secret]


# Argo's createSecretVolume checks the kinds in this order and uses the first one set.
_SECRET_SELECTORS: tuple[tuple[str, Callable[[ArtifactLocation], list[Any]]], ...] = (
    ("s3", _s3_selectors),
    ("git", _git_selectors),
    ("artifactory", _artifactory_selectors),
    ("hdfs", lambda a: _dict_selectors(a.hdfs, "krbCCacheSecret", "krbKeytabSecret")),
    ("oss", lambda a: _dict_selectors(a.oss, "accessKeySecret", "secretKeySecret")),
    ("gcs", _gcs_selectors),
    ("http", _http_selectors),
    ("azure", lambda a: _dict_selectors(a.azure, "accountKeySecret")),
)


def artifact_secrets(art: ArtifactLocation) -> list[SecretKeySelector | None]:
    """The secret selectors Argo mounts for one location (first matching kind only)."""
    for kind, selectors in _SECRET_SELECTORS:
        if getattr(art, kind) is not None:
            return selectors(art)
    return []


def secret_volumes(
    locations: Iterable[ArtifactLocation],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One secret volume per referenced secret, with ``items`` for exactly the keys used, and
    its read-only mount at ``/argo/secret/<name>`` (first-seen order; see the package notes)."""
    volumes: dict[str, dict[str, Any]] = {}
    for loc in locations:
        for sel in artifact_secrets(loc):
            if sel is None or not sel.name or not sel.key:
                continue
            vol = volumes.setdefault(
                sel.name, {"name": sel.name, "secret": {"secretName": sel.name, "items": []}}
            )
            items: list[dict[str, str]] = vol["secret"]["items"]
            if all(item["key"] != sel.key for item in items):
                items.append({"key": sel.key, "path": sel.key})
    mounts = [
        {"name": name, "mountPath": f"{SECRETS_DIR}/{name}", "readOnly": True} for name in volumes
    ]
    return list(volumes.values()), mounts


def data_source_artifact(template: Template) -> Artifact | None:
    source = (template.data or {}).get("source") or {}
    paths = source.get("artifactPaths")
    return Artifact.model_validate(paths) if isinstance(paths, Mapping) else None


def secret_locations(template: Template) -> list[ArtifactLocation]:
    """Argo's order: archive location, outputs, inputs, then the data source artifact."""
    found: list[ArtifactLocation] = []
    if template.archive_location is not None:
        found.append(template.archive_location)
    found += (template.outputs.artifacts or []) if template.outputs else []
    found += (template.inputs.artifacts or []) if template.inputs else []
    source = data_source_artifact(template)
    if source is not None:
        found.append(source)
    return found


# --- user volumes -----------------------------------------------------------------------------


def template_volume_mounts(template: Template) -> list[dict[str, Any]]:
    """Argo's ``Template.GetVolumeMounts``: the container's, the script's or the set's."""
    if template.container is not None:
        return list(template.container.get("volumeMounts") or [])
    if template.script is not None:
        return list(template.script.volume_mounts or [])
    if template.container_set is not None:
        return list(template.container_set.volume_mounts or [])
    return []


def add_volume_references(
    volumes: list[dict[str, Any]],
    mount_lists: Iterable[Sequence[Mapping[str, Any]]],
    sources: Sequence[Sequence[Mapping[str, Any]]],
) -> None:
    """Add the volume behind every referenced mount (template volumes, then workflow volumes,
    then PVCs), once each; an unknown name fails like Argo."""
    for mounts in mount_lists:
        for mount in mounts:
            name = mount.get("name")
            vol = next((v for src in sources for v in src if v.get("name") == name), None)
            if vol is None:
                raise PodBuildError(f"volume '{name}' not found in workflow spec")
            if all(v.get("name") != name for v in volumes):
                volumes.append(copy.deepcopy(dict(vol)))


def find_overlapping_mount(
    mounts: Sequence[Mapping[str, Any]], path: str
) -> Mapping[str, Any] | None:
    """Argo's ``FindOverlappingVolume``: the longest mount path equal to or containing path."""
    for mount in sorted(mounts, key=lambda m: len(str(m.get("mountPath", ""))), reverse=True):
        mount_path = str(mount.get("mountPath", ""))
        prefix = mount_path if mount_path.endswith("/") else mount_path + "/"
        if path == mount_path or path.startswith(prefix):
            return mount
    return None


def mirrored(mounts: Iterable[Mapping[str, Any]], *, writable: bool) -> list[dict[str, Any]]:
    """Mounts re-rooted under ``/mainctrfs`` (Go's ``filepath.Join`` cleans the path)."""
    out = []
    for mount in mounts:
        m = copy.deepcopy(dict(mount))
        m["mountPath"] = posixpath.normpath(f"{MAIN_FS_DIR}/{m.get('mountPath', '')}")
        if writable:
            m["readOnly"] = False
        out.append(m)
    return out


# --- input artifacts and script staging ---------------------------------------------------------


def clean_artifact_path(art: Artifact) -> str:
    """Argo's ``Artifact.CleanPath``: clean the path but refuse to leave the directory before
    the first ``/..``."""
    path = art.path or ""
    safe_dir = ""
    if "/../" in path:
        safe_dir = path[: path.index("/../")]
    elif path.endswith("/.."):
        safe_dir = path[: -len("/..")]
    cleaned = posixpath.normpath(path) if path else path
    if cleaned.startswith("//"):
        cleaned = cleaned[1:]
    if safe_dir and not cleaned.startswith(safe_dir):
        raise PodBuildError(
            f"error in inputs.artifacts.{art.name}: Artifact resolved path {cleaned} "
            f"is outside its safe directory {safe_dir}"
        )
    return cleaned


def input_artifact_mounts(template: Template) -> list[dict[str, Any]]:
    """The per-artifact ``input-artifacts`` subPath mounts of ``main``."""
    user_mounts = template_volume_mounts(template)
    mounts = []
    for art in (template.inputs.artifacts or []) if template.inputs else []:
        path = clean_artifact_path(art)
        if not path:
            raise PodBuildError(f"inputs.artifacts.{art.name} did not specify a path")
        if art.optional and not (has_location(art) or has_key(art)):
            continue  # optional and not supplied: nothing to mount
        if find_overlapping_mount(user_mounts, path) is not None:
            continue  # init writes straight into the user's volume instead
        mounts.append({"name": INPUT_ARTIFACTS_VOLUME, "mountPath": path, "subPath": art.name})
    return mounts


def check_sub_paths(artifacts: Iterable[Artifact]) -> None:
    """Refuse, before the pod exists, a ``subPath`` that is not a clean relative path (after
    substitution): the executor would refuse it too, from inside the pod."""
    for art in artifacts:
        problem = sub_path_problem(art.sub_path) if art.sub_path else None
        if problem:
            raise PodBuildError(f"inputs.artifacts.{art.name}: subPath {art.sub_path!r} {problem}")


def add_input_artifact_volumes(
    template: Template, volumes: list[dict[str, Any]], init: Container, containers: list[Container]
) -> None:
    if not (template.inputs and template.inputs.artifacts):
        return
    check_sub_paths(template.inputs.artifacts)
    volumes.append(empty_dir(INPUT_ARTIFACTS_VOLUME))
    add_mounts(init, [{"name": INPUT_ARTIFACTS_VOLUME, "mountPath": INPUT_ARTIFACTS_DIR}])
    add_mounts(init, mirrored(template_volume_mounts(template), writable=False))
    main = find(containers, "main")
    if main is not None:
        add_mounts(main, input_artifact_mounts(template))


def add_script_staging(volumes: list[dict[str, Any]], init: Container, main: Container) -> None:
    volumes.append(empty_dir(STAGING_VOLUME))
    mount = {"name": STAGING_VOLUME, "mountPath": STAGING_DIR}
    add_mounts(init, [mount])
    add_mounts(main, [mount])
