"""Kubernetes RBAC for tests: which requests a set of Roles and bindings allow.

Written from Kubernetes' authorization rules (the RBAC authorizer and the API server's
request-info rules), so a test can ask "may the controller's service account make the calls it
made?" of the project's real manifests, without a cluster:

* :class:`Authorizer` ``.from_objects(objects)`` reads Role, ClusterRole, RoleBinding and
  ClusterRoleBinding dicts (namespaces already set, as after kustomize's ``namespace:``; other
  kinds are skipped) and answers :meth:`Authorizer.allows` for resource requests and
  :meth:`Authorizer.allows_non_resource` for paths such as ``/version``.
* :func:`request_attributes` turns (method, path, query) into what the authorizer is asked.
* :func:`violations` lists a journal's requests (``tests.servers.kube.Request``) that a user made
  and the rules do not allow.

Semantics mirrored: a RoleBinding grants only in its own namespace (a Role of that namespace, or
a ClusterRole); a ClusterRoleBinding grants everywhere, cluster-scoped requests included; ``*``
in verbs, apiGroups and resources; ``*/sub`` resources; ``resourceNames`` (a request without a
name — list, watch, create — never matches a rule that names objects, unless a list/watch
names one with ``fieldSelector=metadata.name=…``); subjects ``User``, ``Group`` and
``ServiceAccount`` (user ``system:serviceaccount:<ns>:<name>``, groups ``system:serviceaccounts``,
``system:serviceaccounts:<ns>``, ``system:authenticated``); ``nonResourceURLs`` (exact or ``/p*``
prefix) only from ClusterRoles bound cluster-wide; the default ``system:discovery`` and
``system:public-info-viewer`` grants to every authenticated user.

Not modelled: aggregated ClusterRoles (refused), other default roles (``system:basic-user``...),
impersonation, other authorizers (Node, webhooks).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

RBAC_GROUP = "rbac.authorization.k8s.io"
AUTHENTICATED = "system:authenticated"
# Kubernetes' default system:discovery and system:public-info-viewer ClusterRoles, bound to
# system:authenticated: GET on the discovery and health paths.
DISCOVERY_URLS = (
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/healthz",
    "/livez",
    "/readyz",
    "/version",
    "/version/",
    "/openapi",
    "/openapi/*",
)
# Since Kubernetes 1.31 a websocket GET on these pod subresources is authorized as `create`, as
# the POST always was (AuthorizePodWebsocketUpgradeCreatePermission).
_CONNECT_SUBRESOURCES = frozenset({"exec", "attach", "portforward"})
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


class RbacError(ValueError):
    """An RBAC object the API server would refuse, or one this evaluator does not model."""


class RequestAttributes(NamedTuple):
    """What the authorizer is asked; ``resource == ""`` marks a non-resource request."""

    verb: str
    group: str
    resource: str
    subresource: str
    namespace: str
    name: str


def _strings(obj: Mapping[str, Any], key: str, where: str) -> frozenset[str]:
    value = obj.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RbacError(f"{where}: {key} must be a list of strings, not {value!r}")
    return frozenset(value)


@dataclass(frozen=True)
class PolicyRule:
    verbs: frozenset[str]
    api_groups: frozenset[str]
    resources: frozenset[str]
    resource_names: frozenset[str]
    non_resource_urls: frozenset[str]

    @classmethod
    def from_dict(cls, rule: Mapping[str, Any], where: str, *, cluster: bool) -> PolicyRule:
        parsed = cls(
            verbs=_strings(rule, "verbs", where),
            api_groups=_strings(rule, "apiGroups", where),
            resources=_strings(rule, "resources", where),
            resource_names=_strings(rule, "resourceNames", where),
            non_resource_urls=_strings(rule, "nonResourceURLs", where),
        )
        # The API server's validation of a PolicyRule.
        if not parsed.verbs:
            raise RbacError(f"{where}: verbs: Required value")
        if parsed.non_resource_urls and (parsed.resources or parsed.api_groups):
            raise RbacError(f"{where}: rules cannot apply to both resources and nonResourceURLs")
        if parsed.non_resource_urls and not cluster:
            raise RbacError(f"{where}: nonResourceURLs: namespaced rules cannot apply to them")
        if not parsed.non_resource_urls and not (parsed.resources and parsed.api_groups):
            raise RbacError(f"{where}: resource rules need both apiGroups and resources")
        return parsed

    def allows(self, attrs: RequestAttributes) -> bool:
        return (
            _has(self.verbs, attrs.verb)
            and _has(self.api_groups, attrs.group)
            and self._resource_matches(attrs.resource, attrs.subresource)
            and (not self.resource_names or attrs.name in self.resource_names)
        )

    def _resource_matches(self, resource: str, subresource: str) -> bool:
        combined = f"{resource}/{subresource}" if subresource else resource
        if "*" in self.resources or combined in self.resources:
            return True
        return bool(subresource) and f"*/{subresource}" in self.resources

    def allows_path(self, verb: str, path: str) -> bool:
        if not _has(self.verbs, verb):
            return False
        return any(
            url in ("*", path) or (url.endswith("*") and path.startswith(url[:-1]))
            for url in self.non_resource_urls
        )


def _has(values: frozenset[str], wanted: str) -> bool:
    return "*" in values or wanted in values


@dataclass(frozen=True)
class Subject:
    kind: str
    name: str
    namespace: str

    def matches(self, user: str, groups: frozenset[str], binding_namespace: str) -> bool:
        if self.kind == "User":
            return user == self.name
        if self.kind == "Group":
            return self.name in groups
        # A ServiceAccount subject without a namespace means the binding's own (RoleBindings).
        namespace = self.namespace or binding_namespace
        return bool(namespace) and user == f"system:serviceaccount:{namespace}:{self.name}"


@dataclass(frozen=True)
class Binding:
    name: str
    namespace: str  # "" for a ClusterRoleBinding
    role_kind: str  # Role | ClusterRole
    role_name: str
    subjects: tuple[Subject, ...]


_NONE: frozenset[str] = frozenset()
_DISCOVERY_RULE = PolicyRule(frozenset({"get"}), _NONE, _NONE, _NONE, frozenset(DISCOVERY_URLS))


def user_groups(user: str) -> frozenset[str]:
    """The groups the API server's authenticators give ``user``."""
    if user == "system:anonymous":
        return frozenset({"system:unauthenticated"})
    groups = {AUTHENTICATED}
    if user.startswith("system:serviceaccount:"):
        namespace = user.split(":")[2]
        groups |= {"system:serviceaccounts", f"system:serviceaccounts:{namespace}"}
    return frozenset(groups)


def _where(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    namespace = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind')} {namespace}{meta.get('name')}"


def _binding(obj: Mapping[str, Any], *, cluster: bool) -> Binding:
    where, meta = _where(obj), obj.get("metadata") or {}
    namespace = "" if cluster else str(meta.get("namespace") or "")
    if not cluster and not namespace:
        raise RbacError(f"{where}: no metadata.namespace (apply kustomize's namespace first)")
    ref = obj.get("roleRef") or {}
    if (
        ref.get("apiGroup") != RBAC_GROUP
        or ref.get("kind") not in ("Role", "ClusterRole")
        or not ref.get("name")
    ):
        raise RbacError(f"{where}: roleRef must be an {RBAC_GROUP} Role or ClusterRole: {ref}")
    if cluster and ref["kind"] != "ClusterRole":
        raise RbacError(f"{where}: a ClusterRoleBinding can only reference a ClusterRole")
    subjects = []
    for index, raw in enumerate(obj.get("subjects") or []):
        kind, sub_ns = raw.get("kind"), str(raw.get("namespace") or "")
        if kind not in ("User", "Group", "ServiceAccount") or not raw.get("name"):
            raise RbacError(f"{where}: subjects[{index}]: unsupported subject {raw}")
        if kind == "ServiceAccount" and cluster and not sub_ns:
            raise RbacError(f"{where}: subjects[{index}].namespace: Required value")
        subjects.append(Subject(kind, str(raw["name"]), sub_ns))
    return Binding(str(meta.get("name")), namespace, ref["kind"], ref["name"], tuple(subjects))


class Authorizer:
    """Kubernetes' RBAC authorizer over a fixed set of roles and bindings."""

    def __init__(
        self,
        roles: Mapping[tuple[str, str], tuple[PolicyRule, ...]],
        cluster_roles: Mapping[str, tuple[PolicyRule, ...]],
        bindings: Iterable[Binding],
    ) -> None:
        self.roles = dict(roles)  # (namespace, name) -> rules
        self.cluster_roles = dict(cluster_roles)
        self.bindings = tuple(bindings)

    @classmethod
    def from_objects(cls, objects: Iterable[Mapping[str, Any]]) -> Authorizer:
        roles: dict[tuple[str, str], tuple[PolicyRule, ...]] = {}
        cluster_roles: dict[str, tuple[PolicyRule, ...]] = {}
        bindings: list[Binding] = []
        for obj in objects:
            group = str(obj.get("apiVersion", "")).rpartition("/")[0]
            kind, where, meta = obj.get("kind"), _where(obj), obj.get("metadata") or {}
            if group != RBAC_GROUP:
                continue
            if kind in ("Role", "ClusterRole"):
                cluster = kind == "ClusterRole"
                if cluster and obj.get("aggregationRule"):
                    raise RbacError(f"{where}: aggregated ClusterRoles are not modelled")
                if not cluster and not meta.get("namespace"):
                    raise RbacError(f"{where}: no metadata.namespace (apply kustomize's first)")
                rules = tuple(
                    PolicyRule.from_dict(r, f"{where} rules[{i}]", cluster=cluster)
                    for i, r in enumerate(obj.get("rules") or [])
                )
                if cluster:
                    cluster_roles[str(meta["name"])] = rules
                else:
                    roles[(str(meta["namespace"]), str(meta["name"]))] = rules
            elif kind in ("RoleBinding", "ClusterRoleBinding"):
                bindings.append(_binding(obj, cluster=kind == "ClusterRoleBinding"))
            else:
                raise RbacError(f"{where}: unknown {RBAC_GROUP} kind")
        return cls(roles, cluster_roles, bindings)

    def _rules(self, user: str, groups: frozenset[str], namespace: str) -> Iterable[PolicyRule]:
        """The rules that apply to ``user`` for a request in ``namespace`` ("": cluster)."""
        for binding in self.bindings:
            if binding.namespace and binding.namespace != namespace:
                continue  # a RoleBinding grants in its namespace only
            if not any(s.matches(user, groups, binding.namespace) for s in binding.subjects):
                continue
            if binding.role_kind == "Role":
                yield from self.roles.get((binding.namespace, binding.role_name), ())
            else:
                yield from self.cluster_roles.get(binding.role_name, ())

    def allows(  # noqa: PLR0917 - the order of Kubernetes' authorizer.Attributes
        self,
        user: str,
        verb: str,
        group: str,
        resource: str,
        subresource: str = "",
        namespace: str = "",
        name: str = "",
        *,
        groups: Iterable[str] = (),
    ) -> bool:
        """May ``user`` do ``verb`` on ``resource[/subresource]`` of API ``group`` ("" = core)
        in ``namespace`` ("" = cluster-scoped or all namespaces), on object ``name``?"""
        attrs = RequestAttributes(verb, group, resource, subresource, namespace, name)
        all_groups = user_groups(user) | frozenset(groups)
        return any(rule.allows(attrs) for rule in self._rules(user, all_groups, namespace))

    def allows_non_resource(
        self, user: str, verb: str, path: str, *, groups: Iterable[str] = ()
    ) -> bool:
        """May ``user`` do ``verb`` (lowercase HTTP method) on a non-resource ``path``?"""
        all_groups = user_groups(user) | frozenset(groups)
        if AUTHENTICATED in all_groups and _DISCOVERY_RULE.allows_path(verb, path):
            return True
        # Only cluster-wide bindings can carry nonResourceURLs (Roles cannot hold them).
        return any(rule.allows_path(verb, path) for rule in self._rules(user, all_groups, ""))

    def allows_request(self, user: str, method: str, path: str, query: Mapping[str, str]) -> bool:
        """May ``user`` send this request (as :func:`request_attributes` reads it)?"""
        return self.allows_attributes(user, request_attributes(method, path, query), path)

    def allows_attributes(self, user: str, attrs: RequestAttributes, path: str) -> bool:
        if not attrs.resource:
            return self.allows_non_resource(user, attrs.verb, path)
        return self.allows(user, *attrs)


def _split_path(path: str) -> list[str]:
    return [part for part in path.strip("/").split("/") if part]


def _query_bool(query: Mapping[str, str], key: str) -> bool:
    """apimachinery's query bool: present and not "false"/"0" is true (even empty)."""
    return key in query and query[key] not in ("false", "0")


def _name_from_field_selector(selector: str) -> str:
    """The name a list/watch is limited to by ``metadata.name=`` (RequiresExactMatch)."""
    for part in selector.split(","):
        for op in ("==", "="):
            key, found, value = part.partition(op)
            if found and key.strip() == "metadata.name":
                value = value.strip()
                valid = value not in ("", ".", "..") and "/" not in value and "%" not in value
                return value if valid else ""
    return ""


def request_attributes(method: str, path: str, query: Mapping[str, str]) -> RequestAttributes:
    """The API server's request info: the verb and resource a request is authorized as."""
    method = method.upper()
    parts = _split_path(path)
    non_resource = RequestAttributes(method.lower(), "", "", "", "", "")
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return non_resource
    group, rest = "", parts[1:]
    if parts[0] == "apis":
        if len(rest) < 3:
            return non_resource  # /apis/<group>/<version>: discovery
        group, rest = rest[0], rest[1:]
    rest = rest[1:]  # the version
    verb = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch"}
    verb_name = verb.get(method, "delete" if method == "DELETE" else "")
    if rest[0] in ("watch", "proxy"):  # the deprecated /watch/... and /proxy/... paths
        if len(rest) < 2:
            raise ValueError(f"{method} {path}: a {rest[0]} path needs a resource")
        verb_name, rest = rest[0], rest[1:]
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 and verb_name != "proxy" else ""
    if not name and verb_name == "get":
        verb_name = "watch" if _query_bool(query, "watch") else "list"
        name = _name_from_field_selector(query.get("fieldSelector", ""))
    if not name and verb_name == "delete":
        verb_name = "deletecollection"
    if resource == "pods" and subresource in _CONNECT_SUBRESOURCES and verb_name == "get":
        verb_name = "create"
    return RequestAttributes(verb_name, group, resource, subresource, namespace, name)


def describe(attrs: RequestAttributes) -> str:
    """``verb resource[/sub] [name] (group, namespace)`` as a reviewer reads it."""
    what = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    named = f' "{attrs.name}"' if attrs.name else ""
    where = f' in namespace "{attrs.namespace}"' if attrs.namespace else " cluster-wide"
    return f'{attrs.verb} {what}{named} of API group "{attrs.group}"{where}'


def violations(journal: Iterable[Any], authorizer: Authorizer, user: str) -> list[str]:
    """Each request ``user`` made in ``journal`` (entries with method, path, user, query) that
    ``authorizer`` does not allow, as ``METHOD path: verb resource ...``."""
    found = []
    for entry in journal:
        if entry.user != user:
            continue
        attrs = request_attributes(entry.method, entry.path, entry.query or {})
        if authorizer.allows_attributes(user, attrs, entry.path):
            continue
        if attrs.resource:
            found.append(f"{entry.method} {entry.path}: {describe(attrs)}")
        else:
            found.append(f"{entry.method} {entry.path}: {attrs.verb} non-resource URL")
    return found
