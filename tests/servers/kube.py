"""A faithful fake Kubernetes API server on 127.0.0.1 (stdlib ``ThreadingHTTPServer``, HTTP/1.1).

No real kube-apiserver can be installed here, so this fake implements the subset the executor and
the thin controller rely on, with the API server's own status codes and ``Status`` bodies. The
semantics live in ``tests/servers/_kube_store.py`` (pod log/exec in ``_kube_pods.py``); this
module serves them.

Supported subset:

* Kinds: core v1 pods, secrets, configmaps, services, namespaces and nodes (cluster-scoped),
  serviceaccounts, events; batch/v1 jobs; apps/v1 deployments; coordination.k8s.io/v1 leases;
  policy/v1 poddisruptionbudgets; rbac.authorization.k8s.io/v1 roles, rolebindings,
  clusterroles and clusterrolebindings (cluster-scoped); apiextensions.k8s.io/v1
  customresourcedefinitions (cluster-scoped); argoproj.io/v1alpha1 workflows,
  workflowtaskresults, workflowtemplates, clusterworkflowtemplates (cluster-scoped),
  cronworkflows, workflowtasksets, workflowartifactgctasks. ``register(Kind(...))`` adds more,
  ``store.unregister`` removes one (a missing CRD answers 404 "the server could not find the
  requested resource").
* Metadata: uid, resourceVersion (one global counter; a no-op write keeps it), generation (bumped
  when anything but metadata — and status, for kinds with a status subresource — changes),
  creationTimestamp, namespace.
* GET; LIST (also across namespaces) with ``labelSelector`` (``=``, ``==``, ``!=``, ``in``,
  ``notin``, ``key``, ``!key``) and ``fieldSelector`` (``metadata.name``/``metadata.namespace``
  with ``=``, ``==``, ``!=``), ListMeta.resourceVersion: a watch from it sees every later change.
* POST → 201 (``generateName``; 409 ``AlreadyExists``; 422 without a name; ``status`` dropped for
  kinds with a status subresource). PUT → 200 (409 ``Conflict`` on a stale resourceVersion; none
  given = unconditional). DELETE → 200 with the object (preconditions uid/resourceVersion → 409;
  ``gracePeriodSeconds`` accepted, but the object is gone at once: no graceful deletion).
  DELETE on a collection (verb ``deletecollection``) deletes what the selectors match and answers
  the ``…List`` of the deleted objects; each deletion is its own DELETED event.
* Owner-reference garbage collection, run at once after the owner's DELETED event (a cluster
  does it asynchronously): dependents in the owner's namespace (any namespace for a
  cluster-scoped owner) with no other live owner are deleted, transitively; those with one
  lose the dangling references. ``propagationPolicy`` (DeleteOptions body or query):
  ``Background`` (default), ``Foreground`` (dependents first; no intermediate
  ``deletionTimestamp`` update), ``Orphan`` (dependents lose the reference); others → 422.
* PATCH: ``merge-patch+json`` (RFC 7386), ``json-patch+json`` (RFC 6902; a failed ``test`` or a
  missing path → 422 ``Invalid``), ``strategic-merge-patch+json`` treated as a merge patch (415
  for custom resources, as upstream), ``apply-patch+yaml`` as server-side apply = merge that
  creates a missing object (201; ``fieldManager`` required, no managedFields); other types → 415.
* ``/status`` subresource for pods, services, namespaces, nodes, jobs, deployments,
  poddisruptionbudgets, customresourcedefinitions, and (as in Argo's CRDs) workflowtasksets and
  workflowartifactgctasks: the main resource's PUT/PATCH ignore ``status``, ``/status`` changes
  only ``status``. Pod spec changes are not refused (upstream forbids most of them).
* Pod subresources (in discovery, as upstream), delegated to ``kubelet`` (a :class:`PodHost`,
  e.g. a test's node agent; None = no pod has a node → 400 "pod P does not have a host
  assigned"). The pod must exist (404) and the container be one of its (400 "container X is not
  valid for pod P"; none named with several → 400 "a container name must be specified …").
  ``pods/log`` (verb ``get``; ``container``, ``follow``, ``tailLines``, ``timestamps``,
  ``previous``, ``limitBytes``; ``sinceSeconds``/``sinceTime`` ignored): ``text/plain``, chunked
  while following until the kubelet's iterator ends. ``pods/exec`` (verb ``create`` for GET and
  POST, as since 1.31): a WebSocket (RFC 6455) with the channel sub-protocols ``v5``/``v4``
  (binary, a JSON ``Status`` on channel 3, e.g. ``NonZeroExitCode``), ``v4.base64``,
  ``channel.k8s.io``/``base64.channel.k8s.io`` (a bare error message); output then close frame;
  stdin frames are discarded; no upgrade → 400 "Upgrade request required"; SPDY refused.
  ``pods/binding`` (verb ``create``): sets ``spec.nodeName`` and the ``PodScheduled`` condition,
  answers a 201 ``Status``; a bound pod → 409 ``Conflict``.
* Watch (``?watch=true&resourceVersion=&timeoutSeconds=&allowWatchBookmarks=``, selectors
  apply): chunked JSON lines ``{"type": ADDED|MODIFIED|DELETED|BOOKMARK, "object": …}``; no/"0"
  resourceVersion starts with the current objects as ADDED; bookmarks every
  ``bookmark_interval`` s and before the watch ends; a compacted resourceVersion (``compact()``)
  answers an ``ERROR`` event with a 410 ``Expired`` Status, as the API server does.
* Discovery: ``/api``, ``/api/v1``, ``/apis``, ``/apis/<g>``, ``/apis/<g>/<v>``, ``/version``
  (1.31).
* Authentication: ``Authorization: Bearer <token>`` (``token`` may be changed to simulate
  rotation; ``add_token(user)`` makes more, one per identity, kept in ``tokens``), or (TLS
  variant) a client certificate signed by the test CA; anything else → 401. Authorization:
  ``deny(verb, resource, ...)`` rules → 403 with the API server's wording; a subresource is its
  own resource (``pods/exec``, ``pods/log``, ``pods/status``), as in RBAC.
* A request journal (:class:`Request`: method, path, user, query, content type, body, status —
  101 for an upgraded exec —, user agent, and every query parameter in order).
* Faults: ``fault(method, path_regex, status=…, times=N)`` answers the next N matching requests
  with 409/429/500/503/504 Status bodies (custom message possible), ``drop=True`` closes the
  connection without an answer, ``drop="after"`` applies the request and then drops the answer.

Finalizers: a DELETE of an object with ``metadata.finalizers`` only sets its
``deletionTimestamp`` (once, a MODIFIED event); the write that removes its last finalizer deletes
it (DELETED, dependents collected).

Not supported: managedFields, graceful deletion, namespace existence checks,
admission/validation beyond the above, LIST pagination (``limit``/``continue``) and
``resourceVersionMatch``, legacy ``/watch/`` paths, ``pods/attach``/``portforward``/``eviction``,
exec stdin and terminal resizing, SPDY, table output, protobuf. Checked against the official
``kubernetes`` Python client (typed, dynamic with discovery, server-side apply, ``/status``
patch, ``watch.Watch().stream``, ``stream.stream`` exec, followed logs, leases, custom-object
collection deletes): see tests/kube/test_fake_api*.py.

Fixtures: ``kube_api`` (plain HTTP) and ``kube_api_tls`` (HTTPS with a throwaway CA, optional
client certificates); both start once per session and are reset for every test.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import re
import secrets
import socket
import ssl
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, parse_qsl, unquote, urlsplit

import pytest
import yaml

from tests.servers._kube_pki import CLIENT_CERT_USER, Pki
from tests.servers._kube_pods import PodHost, Streamer, exec_streamer, log_streamer, parse_bool
from tests.servers._kube_store import (
    ApiError,
    Kind,
    Store,
    status_body,
)
from tests.servers._kube_watch import Watch

__all__ = [
    "CLIENT_CERT_USER",
    "DEFAULT_TOKEN",
    "TOKEN_USER",
    "FakeKube",
    "Pki",
    "PodHost",
    "Request",
]

DEFAULT_TOKEN = "fake-kube-token-0123456789"
TOKEN_USER = "system:serviceaccount:default:tester"
status = status_body  # the name earlier tests import

_PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}
_FAULT_REASONS = {
    409: ("Conflict", "Operation cannot be fulfilled: the object has been modified"),
    429: ("TooManyRequests", "Too many requests, please try again later."),
    500: ("InternalError", "Internal error occurred: injected fault"),
    503: ("ServiceUnavailable", "The server is currently unable to handle the request"),
    504: ("Timeout", "Timeout: request did not complete within the allotted timeout"),
}


class Request(NamedTuple):
    """One journal entry (indexable like the earlier ``(method, path, user)`` tuples)."""

    method: str
    path: str
    user: str
    query: dict[str, str]
    content_type: str
    body: Any
    status: int  # 101 for an exec upgraded to a WebSocket
    user_agent: str = ""
    params: tuple[tuple[str, str], ...] = ()  # every query parameter in order (``command``s)


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    times: int
    drop: bool | str = False
    message: str | None = None
    reason: str | None = None


@dataclass
class Rule:
    verb: str
    plural: str
    group: str
    namespace: str | None
    name: str | None


@dataclass
class Route:
    kind: Kind
    namespace: str
    name: str
    subresource: str


@dataclass
class FakeKube:
    """State and control of one fake API server; ``store`` holds the objects."""

    token: str = DEFAULT_TOKEN
    tokens: dict[str, str] = field(default_factory=dict)  # more bearer tokens: token -> user
    kubelet: PodHost | None = None  # serves pods/log and pods/exec; None: no pod has a node
    pki: Pki | None = None
    bookmark_interval: float = 1.0  # seconds between BOOKMARK events on a quiet watch
    max_watch_seconds: float = 30.0
    store: Store = field(default_factory=Store)
    journal: list[Request] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    url: str = ""
    _server: ThreadingHTTPServer | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- test controls -----------------------------------------------------------------------

    def reset(self) -> None:
        self.store.reset()
        with self._lock:
            self.journal.clear()
            self.faults.clear()
            self.rules.clear()
            self.tokens.clear()
        self.token = DEFAULT_TOKEN
        self.kubelet = None
        self.bookmark_interval = 1.0

    def add_token(self, user: str) -> str:
        """A fresh bearer token that authenticates as ``user`` (the journal records that name)."""
        token = f"fake-{secrets.token_hex(16)}"
        with self._lock:
            self.tokens[token] = user
        return token

    def register(self, kind: Kind) -> None:
        self.store.register(kind)

    def kind(self, plural: str, group: str = "") -> Kind:
        return self.store.kinds[(group, plural)]

    def seed(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Store ``obj`` (``apiVersion``/``kind`` pick the type; ``status`` is kept)."""
        group, _, _ = str(obj["apiVersion"]).rpartition("/")
        kinds = [k for k in self.store.kinds.values() if k.group == group]
        kind = next(k for k in kinds if k.kind == obj["kind"])
        return self.store.seed(kind, dict(obj))

    def get(self, plural: str, name: str, namespace: str = "", group: str = "") -> Any:
        """A copy of the stored object, or None."""
        kind = self.kind(plural, group)
        with self.store.lock:
            key = (group, kind.version, plural, namespace if kind.namespaced else "", name)
            return copy.deepcopy(self.store.objects.get(key))

    def objects(self, plural: str, group: str = "", namespace: str = "") -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.store.list(self.kind(plural, group), namespace)["items"]
        return items

    def add_secret(self, namespace: str, name: str, data: Mapping[str, str | bytes]) -> None:
        values = {k: v.encode() if isinstance(v, str) else v for k, v in data.items()}
        encoded = {k: base64.b64encode(v).decode() for k, v in values.items()}
        meta = {"name": name, "namespace": namespace}
        self.seed({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": encoded})

    def deny(
        self,
        verb: str,
        plural: str,
        *,
        group: str = "",
        namespace: str | None = None,
        name: str | None = None,
    ) -> None:
        """Refuse ``verb`` (``get``, ``list``, ``watch``, ``create``, ``update``, ``patch``,
        ``delete``, ``deletecollection`` or ``*``) on a resource type, optionally one namespace /
        object. Subresources are their own resources, as in RBAC: ``pods/exec`` (``create``, for
        GET and POST alike), ``pods/log`` (``get``), ``pods/status``, ``pods/binding``."""
        with self._lock:
            self.rules.append(Rule(verb, plural, group, namespace, name))

    def forbid(self, namespace: str, name: str) -> None:
        self.deny("get", "secrets", namespace=namespace, name=name)

    def fault(
        self,
        method: str,
        path: str,
        status: int = 503,
        *,
        times: int = 1,
        drop: bool | str = False,
        message: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests matching ``method`` (or ``*``) and the ``path``
        regex with ``status``, or drop the connection (``drop=True`` before handling,
        ``drop="after"`` once the request took effect)."""
        with self._lock:
            self.faults.append(
                Fault(method, re.compile(path), status, times, drop, message, reason)
            )

    def requests(self, method: str | None = None, path: str | None = None) -> list[Request]:
        with self._lock:
            return [
                r
                for r in self.journal
                if (method is None or r.method == method)
                and (path is None or re.search(path, r.path))
            ]

    def compact(self) -> None:
        self.store.compact()

    def kubeconfig(
        self,
        path: Path,
        *,
        token: str | None = None,
        namespace: str | None = "default",
        ca: bool = True,
        insecure: bool = False,
        client_cert: bool = False,
        user: dict[str, Any] | None = None,
    ) -> Path:
        """Write a kubeconfig for this server (one cluster, user and current context)."""
        cluster: dict[str, Any] = {"server": self.url}
        if self.pki is not None and ca and not insecure:
            cluster["certificate-authority-data"] = base64.b64encode(self.pki.ca_pem).decode()
        if insecure:
            cluster["insecure-skip-tls-verify"] = True
        creds: dict[str, Any] = dict(user or {})
        if token is not None:
            creds["token"] = token
        if client_cert and self.pki is not None:
            creds["client-certificate-data"] = base64.b64encode(self.pki.client_cert_pem).decode()
            creds["client-key-data"] = base64.b64encode(self.pki.client_key_pem).decode()
        context: dict[str, Any] = {"cluster": "fake", "user": "tester"}
        if namespace:
            context["namespace"] = namespace
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": cluster}],
            "users": [{"name": "tester", "user": creds}],
            "contexts": [{"name": "fake", "context": context}],
            "current-context": "fake",
        }
        path.write_text(yaml.safe_dump(doc), encoding="utf-8")
        return path

    # --- serving -----------------------------------------------------------------------------

    def user(self, handler: BaseHTTPRequestHandler) -> str | None:
        auth = handler.headers.get("Authorization", "")
        if auth == f"Bearer {self.token}":
            return TOKEN_USER
        with self._lock:
            user = (
                self.tokens.get(auth.removeprefix("Bearer "))
                if auth.startswith("Bearer ")
                else None
            )
        if user is not None:
            return user
        peer = getattr(handler.connection, "getpeercert", None)
        if peer is not None and peer():
            return CLIENT_CERT_USER
        return None

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method in ("*", method) and fault.path.search(path):
                    fault.times -= 1
                    return fault
        return None

    def record(self, entry: Request) -> None:
        with self._lock:
            self.journal.append(entry)

    def check_access(self, verb: str, route: Route, user: str) -> None:
        kind = route.kind
        resource = f"{kind.plural}/{route.subresource}" if route.subresource else kind.plural
        for rule in list(self.rules):
            if (
                rule.verb in ("*", verb)
                and (rule.plural, rule.group) == (resource, kind.group)
                and rule.namespace in (None, route.namespace)
                and rule.name in (None, route.name)
            ):
                what = f'{kind.resource} "{route.name}"' if route.name else kind.resource
                where = f' in the namespace "{route.namespace}"' if route.namespace else ""
                message = (
                    f'{what} is forbidden: User "{user}" cannot {verb} resource "{resource}" '
                    f'in API group "{kind.group}"{where}'
                )
                details = {"name": route.name, "group": kind.group, "kind": kind.plural}
                raise ApiError(403, "Forbidden", message, **details)

    def route(self, path: str) -> Route | dict[str, Any]:
        """A resource route, or a discovery document."""
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts[:1] == ["version"]:
            return {"major": "1", "minor": "31", "gitVersion": "v1.31.0-argoexec-fake"}
        if parts[:1] == ["api"]:
            group, version, rest = "", parts[1] if len(parts) > 1 else "", parts[2:]
        elif parts[:1] == ["apis"]:
            group = parts[1] if len(parts) > 1 else ""
            version, rest = (parts[2] if len(parts) > 2 else ""), parts[3:]
        else:
            raise _missing()
        if not rest:
            return _discovery(self.store, parts[0], group, version)
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3 and (group, rest[2]) in self.store.kinds:
            namespace, rest = rest[1], rest[2:]
        kind = self.store.kind(group, version, rest[0])
        if kind is None or len(rest) > 3 or (namespace and not kind.namespaced):
            raise _missing()
        subresource = rest[2] if len(rest) == 3 else ""
        if subresource and subresource not in _subresources(kind):
            raise _missing()
        return Route(kind, namespace, rest[1] if len(rest) > 1 else "", subresource)

    def start(self) -> None:
        server = _Server(("127.0.0.1", 0), _handler_class(self))
        server.daemon_threads = True
        scheme = "http"
        if self.pki is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.pki.server_cert, self.pki.server_key)
            context.load_verify_locations(cadata=self.pki.ca_pem.decode())
            context.verify_mode = ssl.CERT_OPTIONAL
            server.socket = context.wrap_socket(server.socket, server_side=True)
            scheme = "https"
        self._server = server
        self.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, name="fake-kube", daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        with self.store.changed:
            self.store.changed.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (a reset while a keep-alive connection idles) is no bug."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _missing() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
# subresource -> (the kind discovery names, its verbs), as a real API server lists them
_POD_SUBRESOURCES = {
    "binding": ("Binding", ["create"]),
    "exec": ("PodExecOptions", ["create", "get"]),
    "log": ("Pod", ["get"]),
}


def _subresources(kind: Kind) -> dict[str, tuple[str, list[str]]]:
    found = dict(_POD_SUBRESOURCES) if (kind.group, kind.plural) == ("", "pods") else {}
    if kind.status_subresource:
        found["status"] = (kind.kind, ["get", "patch", "update"])
    return found


def _resources(store: Store, group: str, version: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for kind in store.kinds.values():
        if (kind.group, kind.version) != (group, version):
            continue
        entry = {
            "name": kind.plural,
            "singularName": kind.kind.lower(),
            "namespaced": kind.namespaced,
            "kind": kind.kind,
            "verbs": _VERBS,
        }
        if kind.short_names:
            entry["shortNames"] = list(kind.short_names)
        out.append(entry)
        for sub, (sub_kind, verbs) in sorted(_subresources(kind).items()):
            name = f"{kind.plural}/{sub}"
            sub_entry = {"name": name, "singularName": "", "kind": sub_kind, "verbs": verbs}
            out.append({**sub_entry, "namespaced": kind.namespaced})
    return out


def _discovery(store: Store, root: str, group: str, version: str) -> dict[str, Any]:
    if root == "api" and not version:
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
    versions: dict[str, list[str]] = {}
    for kind in store.kinds.values():
        if kind.group:
            versions.setdefault(kind.group, [])
            if kind.version not in versions[kind.group]:
                versions[kind.group].append(kind.version)

    def api_group(name: str) -> dict[str, Any]:
        vs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions[name]]
        return {"name": name, "versions": vs, "preferredVersion": vs[0]}

    if root == "apis" and not group:
        groups = [api_group(g) for g in sorted(versions)]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    if root == "apis" and not version:
        if group not in versions:
            raise _missing()
        return {"kind": "APIGroup", "apiVersion": "v1", **api_group(group)}
    resources = _resources(store, group, version)
    if not resources:
        raise _missing()
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


def _verb(method: str, route: Route, query: dict[str, str]) -> str:
    if route.subresource in ("exec", "binding") and method in ("GET", "POST"):
        return "create"  # KEP-4006 (1.31): a WebSocket exec (GET) needs create too
    if route.subresource in ("exec", "log", "binding") and method != "GET":
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")
    if method == "GET":
        if route.name:
            return "get"
        return "watch" if query.get("watch") in ("true", "1") else "list"
    if method == "DELETE" and not route.name:
        return "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]


@dataclass
class Call:
    method: str
    route: Route
    query: dict[str, str]
    body: Any
    content_type: str

    def selectors(self) -> tuple[str, str]:
        return self.query.get("labelSelector", ""), self.query.get("fieldSelector", "")

    def delete_options(self) -> dict[str, Any]:
        """DeleteOptions from the query, overridden by a body (the API server reads both)."""
        options: dict[str, Any] = {}
        if "propagationPolicy" in self.query:
            options["propagationPolicy"] = self.query["propagationPolicy"]
        if "orphanDependents" in self.query:
            options["orphanDependents"] = parse_bool(self.query, "orphanDependents")
        if self.query.get("gracePeriodSeconds"):  # accepted; pods vanish at once all the same
            try:
                options["gracePeriodSeconds"] = int(self.query["gracePeriodSeconds"])
            except ValueError:
                message = f'gracePeriodSeconds: invalid value "{self.query["gracePeriodSeconds"]}"'
                raise ApiError(400, "BadRequest", message) from None
        if isinstance(self.body, dict):
            options.update(self.body)
        return options


def _patch(store: Store, call: Call) -> tuple[int, dict[str, Any]]:
    route = call.route
    patch_type = _PATCH_TYPES.get(call.content_type)
    if patch_type is None or (patch_type == "strategic" and route.kind.custom):
        accepted = ", ".join(
            t for t, n in _PATCH_TYPES.items() if n != "strategic" or not route.kind.custom
        )
        message = "the body of the request was in an unknown format - accepted media types "
        message += f"include: {accepted}"
        raise ApiError(415, "UnsupportedMediaType", message)
    if patch_type == "apply" and not call.query.get("fieldManager"):
        raise ApiError(400, "BadRequest", "PATCH requests with apply must set fieldManager")
    return store.patch(
        route.kind,
        route.namespace,
        route.name,
        patch_type,
        call.body,
        subresource=route.subresource,
    )


def _serve(store: Store, call: Call) -> tuple[int, dict[str, Any]]:
    kind, ns, name = call.route.kind, call.route.namespace, call.route.name
    method, sub = call.method, call.route.subresource
    if method == "GET":
        return 200, store.get(kind, ns, name) if name else store.list(kind, ns, *call.selectors())
    if method == "POST" and (not name or sub == "binding"):
        body = _object(call.body)
        return 201, store.bind(ns, name, body) if sub == "binding" else store.create(kind, ns, body)
    if method == "PUT" and name:
        return 200, store.update(kind, ns, name, _object(call.body), subresource=sub)
    if method == "PATCH" and name:
        return _patch(store, call)
    if method == "DELETE" and name:
        return 200, store.delete(kind, ns, name, call.delete_options())
    if method == "DELETE":
        return 200, _delete_collection(store, call)
    message = f"the server does not allow this method on {kind.resource}"
    raise ApiError(405, "MethodNotAllowed", message)


def _delete_collection(store: Store, call: Call) -> dict[str, Any]:
    """Delete what the selectors match; answer the list of deleted objects, as upstream."""
    kind, options = call.route.kind, call.delete_options()
    options.pop("preconditions", None)
    listed = store.list(kind, call.route.namespace, *call.selectors())
    deleted = []
    for item in listed["items"]:
        meta = item["metadata"]
        try:
            deleted.append(store.delete(kind, meta.get("namespace", ""), meta["name"], options))
        except ApiError as exc:
            if exc.code != 404:  # already collected through an owner: fine
                raise
    return {**listed, "items": deleted}


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequest", "the request body is not a JSON object")
    return body


def _handler_class(fake: FakeKube) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _body(self) -> tuple[bytes, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not raw:
                return raw, None
            try:
                return raw, yaml.safe_load(raw) if "yaml" in self._content_type() else json.loads(
                    raw
                )
            except (ValueError, yaml.YAMLError) as exc:
                raise ApiError(400, "BadRequest", f"the request body is not valid: {exc}") from exc

        def _content_type(self) -> str:
            return (self.headers.get("Content-Type") or "").split(";")[0].strip()

        def _send(self, code: int, doc: dict[str, Any], headers: Mapping[str, str] = {}) -> None:
            payload = json.dumps(doc).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def _drop(self) -> None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        def _respond(self) -> None:
            split = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            params = tuple(parse_qsl(split.query))
            user, body, code, doc = fake.user(self), None, 500, {}
            action: str | Streamer = "send"
            try:
                _, body = self._body()
                code, doc, action = self._handle(split.path, query, params, body, user)
            except ApiError as exc:
                code, doc = exc.code, exc.status()
            except Exception as exc:  # a bug in the fake: answer like the API server would
                code, doc = 500, ApiError(500, "InternalError", f"fake bug: {exc!r}").status()
            entry = Request(
                self.command,
                split.path,
                user or "",
                query,
                self._content_type(),
                body,
                0 if action == "drop" else code,
                self.headers.get("User-Agent", ""),
                params,
            )
            fake.record(entry)
            if callable(action):
                action(self)
            elif action == "drop":
                self._drop()
            elif action == "watch":
                Watch(fake, self, doc["route"], query).run()
            else:
                headers = {"Retry-After": "1"} if code == 429 else {}
                self._send(code, doc, headers)

        def _handle(
            self,
            path: str,
            query: dict[str, str],
            params: tuple[tuple[str, str], ...],
            body: Any,
            user: str | None,
        ) -> tuple[int, dict[str, Any], str | Streamer]:
            """(code, document, action): ``send`` it, ``drop`` the connection, ``watch``, or
            a streamer that answers itself (pods/log, pods/exec)."""
            if user is None:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            fault = fake.take_fault(self.command, path)
            if fault is not None and fault.drop is True:
                return 0, {}, "drop"
            if fault is not None and not fault.drop:
                reason, message = _FAULT_REASONS.get(fault.status, ("InternalError", "injected"))
                raise ApiError(fault.status, fault.reason or reason, fault.message or message)
            target = fake.route(path)
            if isinstance(target, dict):
                if self.command != "GET":
                    raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")
                return 200, target, "send"
            verb = _verb(self.command, target, query)
            fake.check_access(verb, target, user)
            if verb == "watch":
                return 200, {"route": target}, "watch"
            if target.subresource in ("log", "exec"):
                pod = fake.store.get(target.kind, target.namespace, target.name)
                if target.subresource == "log":
                    return 200, {}, log_streamer(fake.kubelet, pod, query)
                command = [value for key, value in params if key == "command"]
                return 101, {}, exec_streamer(fake.kubelet, pod, query, command, self.headers)
            call = Call(self.command, target, query, body, self._content_type())
            code, doc = _serve(fake.store, call)
            # drop="after": the request took effect, only the answer is lost.
            return code, doc, "drop" if fault is not None else "send"

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _respond  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="session")
def _kube_server() -> Iterator[FakeKube]:
    fake = FakeKube()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def _kube_tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeKube]:
    fake = FakeKube(pki=Pki.create(tmp_path_factory.mktemp("kube-pki")))
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def kube_api(_kube_server: FakeKube) -> FakeKube:
    """The plain-HTTP fake API server, emptied for this test."""
    _kube_server.reset()
    return _kube_server


@pytest.fixture
def kube_api_tls(_kube_tls_server: FakeKube) -> FakeKube:
    """The HTTPS fake API server (test CA; client certificates accepted), emptied for this test."""
    _kube_tls_server.reset()
    return _kube_tls_server
