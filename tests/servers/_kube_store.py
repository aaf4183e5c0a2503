"""The object store behind the fake Kubernetes API server (``tests/servers/kube.py``).

Pure API semantics, no HTTP: a registry of kinds, objects keyed by
group/version/plural/namespace/name, metadata bookkeeping (uid, global resourceVersion,
generation, creationTimestamp), label and field selectors, merge / JSON patches, optimistic
concurrency, the ``status`` subresource split, and an event log for watches (with compaction so
an old resourceVersion answers 410 Gone). Every failure is an :class:`ApiError` that the server
turns into a real ``metav1.Status`` body.
"""

from __future__ import annotations

import copy
import datetime
import json
import random
import re
import threading
import uuid
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Kind:
    """One API resource: ``group`` "" is the core group (``/api/v1``)."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    status_subresource: bool = False
    custom: bool = False  # a CRD: strategic merge patch is refused (415), as upstream
    short_names: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def resource(self) -> str:
        """``plural.group`` as the API server names it in messages (``pods`` for core)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _argo(plural: str, kind: str, *, namespaced: bool = True, status: bool = False) -> Kind:
    return Kind(
        "argoproj.io",
        "v1alpha1",
        plural,
        kind,
        namespaced=namespaced,
        status_subresource=status,
        custom=True,
    )


def _rbac(plural: str, kind: str, *, namespaced: bool = True) -> Kind:
    return Kind("rbac.authorization.k8s.io", "v1", plural, kind, namespaced=namespaced)


BUILTIN_KINDS: tuple[Kind, ...] = (
    Kind("", "v1", "pods", "Pod", status_subresource=True, short_names=("po",)),
    Kind("", "v1", "secrets", "Secret"),
    Kind("", "v1", "configmaps", "ConfigMap", short_names=("cm",)),
    Kind("", "v1", "services", "Service", status_subresource=True, short_names=("svc",)),
    Kind("", "v1", "namespaces", "Namespace", namespaced=False, status_subresource=True),
    Kind("", "v1", "nodes", "Node", namespaced=False, status_subresource=True),
    Kind("", "v1", "serviceaccounts", "ServiceAccount", short_names=("sa",)),
    Kind("", "v1", "events", "Event", short_names=("ev",)),
    Kind("batch", "v1", "jobs", "Job", status_subresource=True),
    Kind("apps", "v1", "deployments", "Deployment", status_subresource=True),
    Kind("coordination.k8s.io", "v1", "leases", "Lease"),
    Kind("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", status_subresource=True),
    _rbac("roles", "Role"),
    _rbac("rolebindings", "RoleBinding"),
    _rbac("clusterroles", "ClusterRole", namespaced=False),
    _rbac("clusterrolebindings", "ClusterRoleBinding", namespaced=False),
    Kind(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        status_subresource=True,
        short_names=("crd", "crds"),
    ),
    # Argo's CRDs: only the task sets have a status subresource (as in Argo's manifests).
    _argo("workflows", "Workflow"),
    _argo("workflowtaskresults", "WorkflowTaskResult"),
    _argo("workflowtemplates", "WorkflowTemplate"),
    _argo("clusterworkflowtemplates", "ClusterWorkflowTemplate", namespaced=False),
    _argo("cronworkflows", "CronWorkflow"),
    _argo("workflowtasksets", "WorkflowTaskSet", status=True),
    _argo("workflowartifactgctasks", "WorkflowArtifactGCTask", status=True),
)


class ApiError(Exception):
    """A failure the API server reports as a ``Status``."""

    def __init__(self, code: int, reason: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict[str, Any]:
        return status_body(self.code, self.reason, self.message, **self.details)


def status_body(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    """A ``metav1.Status`` failure body as the API server sends it."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def not_found(kind: Kind, name: str) -> ApiError:
    details = {"name": name, "group": kind.group, "kind": kind.plural}
    return ApiError(404, "NotFound", f'{kind.resource} "{name}" not found', **details)


def conflict(kind: Kind, name: str) -> ApiError:
    message = (
        f'Operation cannot be fulfilled on {kind.resource} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )
    return ApiError(409, "Conflict", message, name=name, group=kind.group, kind=kind.plural)


def invalid(kind: Kind, name: str, cause: str) -> ApiError:
    message = f'{kind.kind}.{kind.group or "core"} "{name}" is invalid: {cause}'
    return ApiError(422, "Invalid", message, name=name, group=kind.group, kind=kind.kind)


# --- selectors -------------------------------------------------------------------------------

_REQUIREMENT = re.compile(
    r"^\s*(?P<neg>!)?\s*(?P<key>[A-Za-z0-9._/-]+)\s*"
    r"(?:(?P<op>==|!=|=|\s+in\s+|\s+notin\s+)\s*(?P<value>\([^)]*\)|[A-Za-z0-9._-]*))?\s*$"
)


def _split(selector: str) -> list[str]:
    """Split on commas outside ``( )``."""
    parts, depth, current = [], 0, ""
    for char in selector:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for p in parts if p.strip()]


def label_matcher(selector: str) -> Any:
    """A predicate over labels: ``=``, ``==``, ``!=``, ``in``, ``notin``, ``key``, ``!key``."""
    checks = []
    for part in _split(selector):
        match = _REQUIREMENT.match(part)
        if match is None or (match["neg"] and match["op"]):
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {part!r}")
        key, op, value = match["key"], (match["op"] or "").strip(), match["value"]
        if op in ("in", "notin"):
            if not value or not value.startswith("("):
                raise ApiError(400, "BadRequest", f"unable to parse requirement: {part!r}")
            values = {v.strip() for v in value[1:-1].split(",") if v.strip()}
            checks.append((key, op, values))
        elif op:
            checks.append((key, op, {value or ""}))
        else:
            checks.append((key, "!" if match["neg"] else "exists", set()))

    def matches(labels: dict[str, str]) -> bool:
        for key, op, values in checks:
            present, actual = key in labels, labels.get(key)
            ok = {
                "=": present and actual in values,
                "==": present and actual in values,
                "in": present and actual in values,
                "!=": not present or actual not in values,
                "notin": not present or actual not in values,
                "exists": present,
                "!": not present,
            }[op]
            if not ok:
                return False
        return True

    return matches


_FIELDS = {"metadata.name": ("metadata", "name"), "metadata.namespace": ("metadata", "namespace")}


def field_matcher(selector: str) -> Any:
    checks = []
    for part in _split(selector):
        match = re.match(r"^\s*([A-Za-z0-9.]+)\s*(==|!=|=)\s*(.*?)\s*$", part)
        if match is None:
            raise ApiError(400, "BadRequest", f"invalid field selector: {part!r}")
        if match[1] not in _FIELDS:
            raise ApiError(400, "BadRequest", f'field label not supported: "{match[1]}"')
        checks.append((_FIELDS[match[1]], match[2] == "!=", match[3]))

    def matches(obj: dict[str, Any]) -> bool:
        for (section, key), negate, value in checks:
            actual = (obj.get(section) or {}).get(key) or ""
            if (actual == value) == negate:
                return False
        return True

    return matches


# --- patches ---------------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: ``null`` deletes, objects merge, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, path: str) -> tuple[Any, str]:
    parts = _pointer(path)
    if not parts:
        raise ValueError("the root cannot be patched")
    node = doc
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node, parts[-1]


def _get(doc: Any, path: str) -> Any:
    node = doc
    for part in _pointer(path):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _remove(doc: Any, path: str) -> Any:
    parent, key = _parent(doc, path)
    return parent.pop(int(key) if isinstance(parent, list) else key)


def _add(doc: Any, path: str, value: Any) -> None:
    parent, key = _parent(doc, path)
    if isinstance(parent, list):
        index = len(parent) if key == "-" else int(key)
        if not 0 <= index <= len(parent):
            raise IndexError(index)
        parent.insert(index, value)
    else:
        parent[key] = value


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902: add, remove, replace, move, copy, test. Failures raise ``ValueError``."""
    if not isinstance(ops, list):
        raise ValueError("a JSON patch is a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        kind, path = op.get("op"), op.get("path", "")
        try:
            if kind == "add":
                _add(doc, path, copy.deepcopy(op["value"]))
            elif kind == "remove":
                _remove(doc, path)
            elif kind == "replace":
                _get(doc, path)
                _remove(doc, path)
                _add(doc, path, copy.deepcopy(op["value"]))
            elif kind == "move":
                _add(doc, path, _remove(doc, op["from"]))
            elif kind == "copy":
                _add(doc, path, copy.deepcopy(_get(doc, op["from"])))
            elif kind == "test":
                if _get(doc, path) != op.get("value"):
                    raise ValueError(f"testing value {path} failed")
            else:
                raise ValueError(f"unexpected kind of operation: {kind!r}")
        except (KeyError, IndexError, TypeError) as exc:
            raise ValueError(
                f"{kind} operation does not apply: doc is missing path: {path}"
            ) from exc
    return doc


# --- the store -------------------------------------------------------------------------------

Key = tuple[str, str, str, str, str]  # group, version, plural, namespace ("" if cluster), name
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery's generateName alphabet


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Event:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    kind: Kind
    obj: dict[str, Any]


class Store:
    """Objects plus the event log. One lock; watchers wait on ``changed``."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.kinds: dict[tuple[str, str], Kind] = {}
        self.objects: dict[Key, dict[str, Any]] = {}
        self.events: list[Event] = []
        self.rv = 0
        self.compacted_rv = 0
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.kinds = {(k.group, k.plural): k for k in BUILTIN_KINDS}
            self.objects.clear()
            self.compact()

    def register(self, kind: Kind) -> None:
        with self.lock:
            self.kinds[(kind.group, kind.plural)] = kind

    def unregister(self, group: str, plural: str) -> None:
        with self.lock:
            self.kinds.pop((group, plural), None)

    def kind(self, group: str, version: str, plural: str) -> Kind | None:
        found = self.kinds.get((group, plural))
        return found if found is not None and found.version == version else None

    def compact(self) -> None:
        """Forget the event history: watches from any older resourceVersion get 410 Gone."""
        with self.lock:
            self.events.clear()
            self.compacted_rv = self.rv

    # --- helpers -----------------------------------------------------------------------------

    def _key(self, kind: Kind, namespace: str, name: str) -> Key:
        return (kind.group, kind.version, kind.plural, namespace if kind.namespaced else "", name)

    def _bump(self, kind: Kind, obj: dict[str, Any], event: str) -> dict[str, Any]:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.events.append(Event(self.rv, event, kind, copy.deepcopy(obj)))
        self.changed.notify_all()
        return copy.deepcopy(obj)

    def _existing(self, kind: Kind, namespace: str, name: str) -> dict[str, Any]:
        obj = self.objects.get(self._key(kind, namespace, name))
        if obj is None:
            raise not_found(kind, name)
        return obj

    # --- verbs -------------------------------------------------------------------------------

    def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self._existing(kind, namespace, name))

    def list(
        self, kind: Kind, namespace: str, labels: str = "", fields: str = ""
    ) -> dict[str, Any]:
        by_label, by_field = label_matcher(labels), field_matcher(fields)
        with self.lock:
            items = [
                copy.deepcopy(obj)
                for key, obj in sorted(self.objects.items())
                if key[:3] == (kind.group, kind.version, kind.plural)
                and (not namespace or key[3] == namespace)
                and by_label(obj["metadata"].get("labels") or {})
                and by_field(obj)
            ]
            rv = str(self.rv)
        return {
            "kind": f"{kind.kind}List",
            "apiVersion": kind.api_version,
            "metadata": {"resourceVersion": rv},
            "items": items,
        }

    def create(self, kind: Kind, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(body)
        if obj.get("kind") not in (None, kind.kind) or obj.get("apiVersion") not in (
            None,
            kind.api_version,
        ):
            message = f"the API version in the data ({obj.get('apiVersion')}) does not match"
            raise ApiError(400, "BadRequest", f"{message} the expected API version")
        obj["kind"], obj["apiVersion"] = kind.kind, kind.api_version
        meta = obj.setdefault("metadata", {})
        if kind.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                message = "the namespace of the provided object does not match the namespace"
                raise ApiError(400, "BadRequest", f"{message} sent on the request")
            meta["namespace"] = namespace
        with self.lock:
            if not meta.get("name") and meta.get("generateName"):
                suffix = "".join(random.choice(_NAME_CHARS) for _ in range(5))
                meta["name"] = f"{meta['generateName']}{suffix}"
            if not meta.get("name"):
                raise invalid(
                    kind, "", "metadata.name: Required value: name or generateName is required"
                )
            key = self._key(kind, namespace, meta["name"])
            if key in self.objects:
                message = f'{kind.resource} "{meta["name"]}" already exists'
                details = {"name": meta["name"], "group": kind.group, "kind": kind.plural}
                raise ApiError(409, "AlreadyExists", message, **details)
            if kind.status_subresource:
                obj.pop("status", None)
            meta.pop("resourceVersion", None)
            meta.update(uid=str(uuid.uuid4()), generation=1, creationTimestamp=now())
            self.objects[key] = obj
            return self._bump(kind, obj, "ADDED")

    def seed(self, kind: Kind, obj: dict[str, Any]) -> dict[str, Any]:
        """Create ``obj`` as given, ``status`` included (test setup, bypassing the split)."""
        namespace = obj.get("metadata", {}).get("namespace", "default") if kind.namespaced else ""
        status = obj.get("status")
        created = self.create(kind, namespace, obj)
        if status is not None and kind.status_subresource:
            created = self.update(
                kind,
                namespace,
                created["metadata"]["name"],
                {"status": status},
                subresource="status",
            )
        return created

    def _check_rv(self, kind: Kind, current: dict[str, Any], wanted: Any) -> None:
        if wanted not in (None, "") and str(wanted) != current["metadata"]["resourceVersion"]:
            raise conflict(kind, current["metadata"]["name"])

    def update(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        new: dict[str, Any],
        *,
        subresource: str = "",
    ) -> dict[str, Any]:
        """Replace ``name`` with ``new`` (PUT), honouring the status split and preconditions."""
        with self.lock:
            current = self._existing(kind, namespace, name)
            meta = new.get("metadata") or {}
            if meta.get("name") not in (None, name):
                raise ApiError(400, "BadRequest", "the name of the object does not match the URL")
            self._check_rv(kind, current, meta.get("resourceVersion"))
            if subresource == "status":
                merged = copy.deepcopy(current)
                merged["status"] = copy.deepcopy(new.get("status"))
                if merged["status"] is None:
                    merged.pop("status")
            else:
                merged = copy.deepcopy(new)
                merged["kind"], merged["apiVersion"] = kind.kind, kind.api_version
                keep = ("uid", "creationTimestamp", "generation", "namespace", "name")
                keep += ("deletionTimestamp", "deletionGracePeriodSeconds")
                merged.setdefault("metadata", {}).update(
                    {k: current["metadata"][k] for k in keep if k in current["metadata"]}
                )
                if kind.status_subresource:
                    merged.pop("status", None)
                    if "status" in current:
                        merged["status"] = copy.deepcopy(current["status"])
            merged["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            if _spec(merged, kind) != _spec(current, kind):
                merged["metadata"]["generation"] = int(current["metadata"].get("generation", 1)) + 1
            if merged == current:
                return copy.deepcopy(current)  # a no-op write keeps its resourceVersion
            self.objects[self._key(kind, namespace, name)] = merged
            if merged["metadata"].get("deletionTimestamp") and not merged["metadata"].get(
                "finalizers"
            ):
                return self._finalized(kind, merged)
            return self._bump(kind, merged, "MODIFIED")

    def patch(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        patch_type: str,
        patch: Any,
        *,
        subresource: str = "",
    ) -> tuple[int, dict[str, Any]]:
        """Apply a patch; ``apply`` (server-side apply) creates the object when missing."""
        with self.lock:
            key = self._key(kind, namespace, name)
            if patch_type == "apply" and key not in self.objects and not subresource:
                body = dict(patch, metadata={**(patch.get("metadata") or {}), "name": name})
                return 201, self.create(kind, namespace, body)
            current = self._existing(kind, namespace, name)
            if patch_type == "json":
                try:
                    patched = json_patch(current, patch)
                except ValueError as exc:
                    raise invalid(kind, name, str(exc)) from exc
            else:
                if not isinstance(patch, dict):
                    raise ApiError(400, "BadRequest", "a merge patch must be a JSON object")
                self._check_rv(kind, current, (patch.get("metadata") or {}).get("resourceVersion"))
                patched = merge_patch(copy.deepcopy(current), patch)
            patched.get("metadata", {}).pop("resourceVersion", None)
            return 200, self.update(kind, namespace, name, patched, subresource=subresource)

    def delete(
        self, kind: Kind, namespace: str, name: str, options: dict[str, Any]
    ) -> dict[str, Any]:
        """Delete at once (no graceful deletion), then collect the dependents; an object with
        finalizers is only marked (`_mark_deleted`).

        The garbage collector of a real cluster works asynchronously; here it runs right after
        the owner's DELETED event, under the same lock, so a test sees its effects at once.
        ``Foreground`` deletes the dependents first (without the owner's intermediate
        ``deletionTimestamp`` update)."""
        policy = propagation_policy(options)
        with self.lock:
            current = self._existing(kind, namespace, name)
            pre = options.get("preconditions") or {}
            if pre.get("uid") not in (None, current["metadata"]["uid"]):
                raise conflict(kind, name)
            self._check_rv(kind, current, pre.get("resourceVersion"))
            if current["metadata"].get("finalizers"):
                return self._mark_deleted(kind, current)
            if policy == "Foreground":
                self._collect(kind, current, policy)
            del self.objects[self._key(kind, namespace, name)]
            deleted = self._bump(kind, current, "DELETED")
            if policy != "Foreground":
                self._collect(kind, current, policy)
            return deleted

    def _mark_deleted(self, kind: Kind, current: dict[str, Any]) -> dict[str, Any]:
        """An object with finalizers is only marked (``deletionTimestamp``, once); it goes
        when a write removes its last finalizer (`update`)."""
        if current["metadata"].get("deletionTimestamp"):
            return copy.deepcopy(current)
        current["metadata"].update(deletionTimestamp=now(), deletionGracePeriodSeconds=0)
        return self._bump(kind, current, "MODIFIED")

    def _finalized(self, kind: Kind, obj: dict[str, Any]) -> dict[str, Any]:
        """A marked object whose last finalizer went: deleted now, its dependents collected."""
        meta = obj["metadata"]
        del self.objects[self._key(kind, meta.get("namespace", ""), meta["name"])]
        deleted = self._bump(kind, obj, "DELETED")
        self._collect(kind, obj, "Background")
        return deleted

    def _dependents(self, owner_kind: Kind, owner: dict[str, Any]) -> list[tuple[Kind, Key]]:
        """Objects naming ``owner`` in their ownerReferences: in its namespace if it has one."""
        uid, namespace = owner["metadata"]["uid"], owner["metadata"].get("namespace", "")
        found = []
        for key, obj in sorted(self.objects.items()):
            kind = self.kinds.get((key[0], key[2]))
            refs = obj["metadata"].get("ownerReferences") or []
            if kind is None or (owner_kind.namespaced and key[3] != namespace):
                continue
            if any(ref.get("uid") == uid for ref in refs):
                found.append((kind, key))
        return found

    def _collect(self, owner_kind: Kind, owner: dict[str, Any], policy: str) -> None:
        """What the garbage collector does for the dependents of a deleted ``owner``.

        Orphan: drop the reference to the owner. Otherwise a dependent that still has an
        existing owner loses its dangling references; one that has none is deleted (with its
        own dependents, transitively)."""
        uid = owner["metadata"]["uid"]
        for kind, key in self._dependents(owner_kind, owner):
            dependent = self.objects.get(key)
            if dependent is None:
                continue  # collected meanwhile through another owner
            refs = dependent["metadata"]["ownerReferences"]
            others = [ref for ref in refs if ref.get("uid") != uid]
            alive = {o["metadata"]["uid"] for o in self.objects.values()} - {uid}
            solid = [ref for ref in others if ref.get("uid") in alive]
            if policy == "Orphan" or solid:
                changed = copy.deepcopy(dependent)
                keep = others if policy == "Orphan" else solid
                changed["metadata"]["ownerReferences"] = keep
                if not keep:
                    del changed["metadata"]["ownerReferences"]
                self.objects[key] = changed
                self._bump(kind, changed, "MODIFIED")
            else:
                cascade = "Foreground" if policy == "Foreground" else "Background"
                self.delete(kind, key[3], key[4], {"propagationPolicy": cascade})

    def bind(self, namespace: str, name: str, binding: dict[str, Any]) -> dict[str, Any]:
        """``pods/binding``: set ``spec.nodeName`` once, as the scheduler does."""
        kind = self.kinds[("", "pods")]
        target = binding.get("target") or {}
        meta = binding.get("metadata") or {}
        if meta.get("name") not in (None, name):
            raise ApiError(400, "BadRequest", "name in URL does not match name in Binding object")
        if target.get("kind") not in (None, "", "Node"):
            cause = f'target.kind: Invalid value: "{target.get("kind")}": must be empty or "Node"'
            raise ApiError(422, "Invalid", f'Binding "{name}" is invalid: {cause}')
        with self.lock:
            pod = copy.deepcopy(self._existing(kind, namespace, name))
            node = (pod.get("spec") or {}).get("nodeName")
            if node:
                message = (
                    f'Operation cannot be fulfilled on pods/binding "{name}": pod {name} is '
                    f'already assigned to node "{node}"'
                )
                details = {"name": name, "group": "", "kind": "pods/binding"}
                raise ApiError(409, "Conflict", message, **details)
            pod.setdefault("spec", {})["nodeName"] = target.get("name", "")
            annotations = meta.get("annotations") or {}
            if annotations:
                pod["metadata"].setdefault("annotations", {}).update(annotations)
            conditions = pod.setdefault("status", {}).setdefault("conditions", [])
            conditions[:] = [c for c in conditions if c.get("type") != "PodScheduled"]
            conditions.append(
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": now()}
            )
            self.objects[self._key(kind, namespace, name)] = pod
            self._bump(kind, pod, "MODIFIED")
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "code": 201,
        }

    def events_since(self, rv: int) -> list[Event]:
        with self.lock:
            if rv < self.compacted_rv:
                message = f"too old resource version: {rv} ({self.compacted_rv})"
                raise ApiError(410, "Expired", message)
            return [e for e in self.events if e.rv > rv]


_POLICIES = ("Foreground", "Background", "Orphan")


def propagation_policy(options: dict[str, Any]) -> str:
    """DeleteOptions' cascade: ``propagationPolicy``, else the deprecated ``orphanDependents``."""
    policy = options.get("propagationPolicy")
    if policy is None:
        return "Orphan" if options.get("orphanDependents") else "Background"
    if policy not in _POLICIES:
        supported = ", ".join(f'"{p}"' for p in _POLICIES)
        cause = f'propagationPolicy: Unsupported value: "{policy}": supported values: {supported}'
        raise ApiError(422, "Invalid", f'DeleteOptions.meta.k8s.io "" is invalid: {cause}')
    return str(policy)


def _spec(obj: dict[str, Any], kind: Kind) -> str:
    """What generation tracks: everything but metadata (and status, with a status subresource)."""
    skip = {"metadata", "status"} if kind.status_subresource else {"metadata"}
    return json.dumps({k: v for k, v in obj.items() if k not in skip}, sort_keys=True)
