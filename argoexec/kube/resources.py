"""Dynamic resource actions over the Kubernetes REST API: what ``kubectl`` does for ``resource``.

``argoexec resource`` (argo-contract.md §6) acts on arbitrary objects, so the REST path of a kind
is looked up the way kubectl's RESTMapper does it: API discovery (``/api/v1``,
``/apis/<group>/<version>``) maps ``apiVersion`` + ``kind`` to the plural resource name and
whether it is namespaced. When discovery cannot be read (other than "this group/version does not
exist") the caller's ``guess_plural`` is used and the kind is taken to be namespaced.

Verbs and their requests:

* ``get`` — ``GET …/<plural>/<name>``.
* ``create`` — ``POST …/<plural>`` (201 with the created object).
* ``apply`` — server-side apply: ``PATCH …/<plural>/<name>`` with
  ``application/apply-patch+yaml``, ``fieldManager`` (``argo-executor`` unless overridden) and
  ``force=true``, which creates a missing object and takes over conflicting fields.
* ``replace`` — ``PUT …/<plural>/<name>`` carrying the live ``resourceVersion`` (read first) when
  the manifest has none, as ``kubectl replace`` does.
* ``patch`` — ``PATCH`` with ``merge`` (``application/merge-patch+json``), ``json``
  (``application/json-patch+json``) or ``strategic``
  (``application/strategic-merge-patch+json``) bodies; optionally on a subresource.
* ``delete`` — ``DELETE`` with ``DeleteOptions`` (propagation policy, grace period); a missing
  object is ``None`` with ``ignore_not_found``.

Every call raises the client's ``KubeError`` subclasses unchanged; retrying them is the caller's
business (one owner per failure mode).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from argoexec.contract import API_GROUP
from argoexec.kube.client import KubeClient, resource_path
from argoexec.kube.errors import KubeError, KubeNotFoundError

FIELD_MANAGER = "argo-executor"
PATCH_STRATEGIES = ("merge", "json", "strategic")


class ResourceMappingError(Exception):
    """No API resource serves this kind (or kubectl-style type name)."""


@dataclass(frozen=True)
class ApiResource:
    """One REST resource: where objects of ``kind`` live."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    # singular name and short names from discovery (``pod``, ``po``): kubectl's type aliases
    aliases: tuple[str, ...] = field(default=(), compare=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(
        self, namespace: str = "", name: str | None = None, subresource: str | None = None
    ) -> str:
        """The REST path; ``namespace`` is dropped for cluster-scoped resources."""
        return resource_path(
            self.group,
            self.version,
            self.plural,
            namespace=namespace if self.namespaced else None,
            name=name,
            subresource=subresource,
        )


def _naive_plural(kind: str) -> str:
    return kind.lower() + "s"


def _aliases(entry: Mapping[str, Any]) -> tuple[str, ...]:
    names = [str(entry.get("singularName") or ""), *map(str, entry.get("shortNames") or [])]
    return tuple(n.lower() for n in names if n)


def _key(res: ApiResource) -> tuple[str, str]:
    return res.group, res.plural


def split_api_version(api_version: str) -> tuple[str, str]:
    """``apps/v1`` → (``apps``, ``v1``); ``v1`` → (``""``, ``v1``)."""
    group, _, version = api_version.rpartition("/")
    return group, version


class ResourceClient:
    """Resource actions on one API server, with a discovery cache. Thread-safe."""

    def __init__(
        self, client: KubeClient, *, guess_plural: Callable[[str], str] = _naive_plural
    ) -> None:
        self.client = client
        self.guess_plural = guess_plural
        self._lock = threading.Lock()
        self._discovered: dict[str, list[ApiResource] | None] = {}
        self._groups: list[str] | None = None

    @property
    def namespace(self) -> str:
        """The default namespace of the client configuration (kubeconfig context or pod)."""
        return self.client.namespace

    # --- discovery -------------------------------------------------------------------------

    def resources(self, group_version: str) -> list[ApiResource] | None:
        """The resources served under ``group_version``; ``None`` when it does not exist."""
        with self._lock:
            if group_version in self._discovered:
                return self._discovered[group_version]
        group, version = split_api_version(group_version)
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        try:
            doc = self.client.get(path)
        except KubeNotFoundError:
            found: list[ApiResource] | None = None
        else:
            found = [
                ApiResource(
                    group,
                    version,
                    str(entry.get("kind") or ""),
                    str(entry["name"]),
                    bool(entry.get("namespaced")),
                    _aliases(entry),
                )
                for entry in doc.get("resources") or []
                if isinstance(entry, dict) and "/" not in str(entry.get("name", "/"))
            ]
            found = found or None
        with self._lock:
            self._discovered[group_version] = found
        return found

    def for_kind(self, api_version: str, kind: str) -> ApiResource:
        """The resource of ``kind`` in ``api_version`` (kubectl's ``RESTMapping``)."""
        if not api_version or not kind:
            raise ResourceMappingError("apiVersion and kind are both required")
        group, version = split_api_version(api_version)
        try:
            served = self.resources(api_version)
        except KubeError:
            # Discovery unreadable (forbidden, flaky): guess, and let the real request decide.
            return ApiResource(group, version, kind, self.guess_plural(kind))
        for res in served or []:
            if res.kind == kind:
                return res
        hint = " (is its CustomResourceDefinition installed?)" if group else ""
        raise ResourceMappingError(f'no matches for kind "{kind}" in version "{api_version}"{hint}')

    def for_type(self, type_name: str) -> ApiResource:
        """A kubectl resource argument: ``pods``, ``pod``, ``po``, ``Pod``, ``deployments.apps``,
        ``deployment.v1.apps``, ``workflows.argoproj.io``."""
        wanted, _, qualifier = type_name.partition(".")
        wanted = wanted.lower()
        for res in self._candidates(qualifier):
            names = {res.plural, res.kind.lower(), *res.aliases, *_SHORT_NAMES.get(_key(res), ())}
            if wanted in names:
                return res
        raise ResourceMappingError(f'the server doesn\'t have a resource type "{type_name}"')

    def _candidates(self, qualifier: str) -> list[ApiResource]:
        """Resources of the group named by ``qualifier`` (``[version.]group``; core first)."""
        group_versions = ["v1", *self._preferred_group_versions()]
        out: list[ApiResource] = []
        for group_version in group_versions:
            group, version = split_api_version(group_version)
            if qualifier and qualifier not in (group, f"{version}.{group}"):
                continue
            out += self.resources(group_version) or []
        return out

    def _preferred_group_versions(self) -> list[str]:
        with self._lock:
            if self._groups is not None:
                return self._groups
        doc = self.client.get("/apis")
        out = []
        for group in doc.get("groups") or []:
            preferred = (group.get("preferredVersion") or {}).get("groupVersion")
            if preferred:
                out.append(str(preferred))
        with self._lock:
            self._groups = out
        return out

    # --- verbs -----------------------------------------------------------------------------

    def get(
        self,
        res: ApiResource,
        namespace: str,
        name: str,
        *,
        subresource: str | None = None,
        ignore_not_found: bool = False,
    ) -> dict[str, Any] | None:
        try:
            return self.client.get(res.path(namespace, name, subresource))
        except KubeNotFoundError:
            if ignore_not_found:
                return None
            raise

    def get_path(self, path: str) -> dict[str, Any]:
        """A raw GET (the self link of an object)."""
        return self.client.get(path)

    def create(
        self,
        res: ApiResource,
        namespace: str,
        obj: Mapping[str, Any],
        *,
        query: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        return self.client.request("POST", res.path(namespace), body=obj, query=query)[1]

    def apply(
        self,
        res: ApiResource,
        namespace: str,
        obj: Mapping[str, Any],
        *,
        field_manager: str = FIELD_MANAGER,
        force: bool = True,
        subresource: str | None = None,
        query: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Server-side apply of ``obj`` (created when missing)."""
        name = str((obj.get("metadata") or {}).get("name") or "")
        params = {**(query or {}), "fieldManager": field_manager}
        if force:
            params["force"] = "true"
        return self.client.request(
            "PATCH",
            res.path(namespace, name, subresource),
            body=obj,
            content_type="application/apply-patch+yaml",
            query=params,
        )[1]

    def replace(
        self,
        res: ApiResource,
        namespace: str,
        obj: Mapping[str, Any],
        *,
        subresource: str | None = None,
        query: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """PUT ``obj``; without a ``resourceVersion`` the live one is used (kubectl's overwrite)."""
        meta = dict(obj.get("metadata") or {})
        name = str(meta.get("name") or "")
        path = res.path(namespace, name, subresource)
        if not meta.get("resourceVersion"):
            live = self.client.get(res.path(namespace, name))
            meta["resourceVersion"] = (live.get("metadata") or {}).get("resourceVersion")
        body = {**obj, "metadata": meta}
        return self.client.request("PUT", path, body=body, query=query)[1]

    def patch(
        self,
        res: ApiResource,
        namespace: str,
        name: str,
        body: Any,
        *,
        strategy: str = "strategic",
        subresource: str | None = None,
        query: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        if strategy not in PATCH_STRATEGIES:
            raise ValueError(f"unknown patch strategy {strategy!r}: one of {PATCH_STRATEGIES}")
        content_type = {
            "merge": "application/merge-patch+json",
            "json": "application/json-patch+json",
            "strategic": "application/strategic-merge-patch+json",
        }[strategy]
        return self.client.request(
            "PATCH",
            res.path(namespace, name, subresource),
            body=body,
            content_type=content_type,
            query=query,
        )[1]

    def delete(
        self,
        res: ApiResource,
        namespace: str,
        name: str,
        *,
        propagation_policy: str | None = None,
        grace_period_seconds: int | None = None,
        ignore_not_found: bool = False,
        query: Mapping[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """Delete ``name``; the answer (the object, or a ``Status``), ``None`` if it was gone."""
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        try:
            return self.client.request(
                "DELETE", res.path(namespace, name), body=options, query=query
            )[1]
        except KubeNotFoundError:
            if ignore_not_found:
                return None
            raise


# Discovery lists short names, but only for some servers and versions; kubectl's well-known
# ones are kept here so ``po``/``cm``/``deploy`` work whatever discovery says.
_SHORT_NAMES: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "pods"): ("po",),
    ("", "configmaps"): ("cm",),
    ("", "services"): ("svc",),
    ("", "serviceaccounts"): ("sa",),
    ("", "namespaces"): ("ns",),
    ("", "persistentvolumeclaims"): ("pvc",),
    ("", "persistentvolumes"): ("pv",),
    ("", "nodes"): ("no",),
    ("", "endpoints"): ("ep",),
    ("", "events"): ("ev",),
    ("apps", "deployments"): ("deploy",),
    ("apps", "replicasets"): ("rs",),
    ("apps", "daemonsets"): ("ds",),
    ("apps", "statefulsets"): ("sts",),
    ("batch", "cronjobs"): ("cj",),
    (API_GROUP, "workflows"): ("wf",),
    (API_GROUP, "workflowtemplates"): ("wftmpl",),
    (API_GROUP, "cronworkflows"): ("cwf", "cronwf"),
    (API_GROUP, "clusterworkflowtemplates"): ("cwft", "cwftmpl"),
}
