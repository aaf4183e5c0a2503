"""Performing a ``resource`` action through the REST API (argo-contract.md §6 steps 6 and 7).

Each action maps to the request kubectl would make for ``kubectl <action> -f <manifest>``
(``argoexec.kube.resources`` has the requests). Transient API errors are retried with client-go's
default backoff (4 attempts, 10 ms, factor 5, jitter 0.1); any final failure reads
``no more retries <error>``, as in Argo, with kubectl's ``Error from server (<Reason>): …``
wording after it.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from argoexec.errors import ExecutorError
from argoexec.executor.resource.flags import ResourceFlags
from argoexec.executor.resource.manifest import Manifest
from argoexec.kube.errors import KubeError, KubeNotFoundError, is_transient
from argoexec.kube.resources import FIELD_MANAGER, ApiResource, ResourceClient
from argoexec.kube.resources import ResourceMappingError as MappingError
from argoexec.lifecycle import Stop
from argoexec.retry import Backoff, RetriesExhaustedError, retry_call

log = logging.getLogger("argoexec.resource")
T = TypeVar("T")

# client-go's retry.DefaultBackoff, which Argo uses around kubectl.
CLIENT_GO_BACKOFF = Backoff(steps=4, duration=0.01, factor=5.0, jitter=0.1)
ACTIONS = ("get", "create", "apply", "replace", "patch", "delete")
_GERUND = {
    "get": "getting",
    "create": "creating",
    "apply": "applying",
    "replace": "replacing",
    "patch": "patching",
    "delete": "deleting",
}


@dataclass
class Acted:
    """One object an action touched: its resource and the object the server answered with
    (``None`` for a delete, or a ``get --ignore-not-found`` of a missing object)."""

    res: ApiResource
    namespace: str
    name: str
    obj: dict[str, Any] | None


@dataclass
class _Target:
    res: ApiResource
    namespace: str
    name: str
    obj: dict[str, Any] | None  # the manifest object, if the target came from the manifest


class ResourceActions:
    """Runs one action over the manifest's objects (or the object named in ``flags``)."""

    def __init__(
        self,
        resources: ResourceClient,
        *,
        backoff: Backoff = CLIENT_GO_BACKOFF,
        transient_pattern: str | None = None,
        stop: Stop | None = None,
        delete_poll: float = 1.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.resources = resources
        self.backoff = backoff
        self.transient_pattern = transient_pattern
        self.stop = stop or Stop()
        self.delete_poll = delete_poll
        self.rand = rand

    def run(
        self, action: str, manifest: Manifest, flags: ResourceFlags, strategy: str
    ) -> list[Acted]:
        if action not in ACTIONS:
            raise ExecutorError(
                f"resource action '{action}' is not supported: use one of {', '.join(ACTIONS)}"
            )
        if action == "patch":
            return [self._patch(manifest, flags, strategy)]
        targets = self._targets(action, manifest, flags)
        return [self._one(action, target, manifest, flags) for target in targets]

    # --- targets ---------------------------------------------------------------------------

    def _targets(self, action: str, manifest: Manifest, flags: ResourceFlags) -> list[_Target]:
        if flags.target_type and action in ("get", "delete"):
            return [self._flag_target(flags)]
        if flags.target_type:
            raise ExecutorError(
                f"'{action}' takes its object from the manifest, not from flags "
                f"({flags.target_type} {flags.target_name})"
            )
        if manifest.documents and not manifest.objects:
            raise ExecutorError(f"the manifest {manifest.path} holds no Kubernetes object")
        if not manifest.objects:
            raise ExecutorError(f"'{action}' needs a manifest")
        return [
            self._manifest_target(i, obj, manifest, flags)
            for i, obj in enumerate(manifest.objects, 1)
        ]

    def _flag_target(self, flags: ResourceFlags) -> _Target:
        assert flags.target_type is not None and flags.target_name is not None
        type_name = flags.target_type
        res = self.call(
            f'resolving the resource type "{type_name}"', lambda: self.resources.for_type(type_name)
        )
        return _Target(res, self._namespace(res, "", flags), flags.target_name, None)

    def _manifest_target(
        self, index: int, obj: dict[str, Any], manifest: Manifest, flags: ResourceFlags
    ) -> _Target:
        api_version, kind = str(obj.get("apiVersion") or ""), str(obj.get("kind") or "")
        found = obj.get("metadata")
        meta: dict[str, Any] = found if isinstance(found, dict) else {}
        name = str(meta.get("name") or "")
        if not api_version or not kind:
            raise ExecutorError(
                f"object {index} of the manifest {manifest.path} needs both apiVersion and kind"
            )
        res = self.call(
            f'mapping {kind} "{name}" from "{manifest.path}"',
            lambda: self.resources.for_kind(api_version, kind),
        )
        namespace = self._namespace(res, str(meta.get("namespace") or ""), flags)
        if res.namespaced:
            obj = {**obj, "metadata": {**meta, "namespace": namespace}}
        return _Target(res, namespace, name, obj)

    def _namespace(self, res: ApiResource, declared: str, flags: ResourceFlags) -> str:
        if not res.namespaced:
            return ""
        if flags.namespace and declared and flags.namespace != declared:
            raise ExecutorError(
                f'the namespace from the provided object "{declared}" does not match the '
                f"namespace \"{flags.namespace}\". You must pass '--namespace={declared}' to "
                "perform this operation."
            )
        return flags.namespace or declared or self.resources.namespace

    # --- actions ---------------------------------------------------------------------------

    def _one(self, action: str, t: _Target, manifest: Manifest, flags: ResourceFlags) -> Acted:
        what = f'{_GERUND[action]} {t.res.plural} "{t.name}"'
        if t.obj is not None:
            what += f' from "{manifest.path}"'
        query = flags.query()
        r, ns, sub = self.resources, t.namespace, flags.subresource
        calls: dict[str, Callable[[], dict[str, Any] | None]] = {
            "get": lambda: r.get(
                t.res, ns, t.name, subresource=sub, ignore_not_found=bool(flags.ignore_not_found)
            ),
            "create": lambda: r.create(t.res, ns, t.obj or {}, query=query),
            "apply": lambda: r.apply(
                t.res,
                ns,
                t.obj or {},
                field_manager=flags.field_manager or FIELD_MANAGER,
                force=flags.force_conflicts,
                subresource=sub,
                query=query,
            ),
            "replace": lambda: r.replace(t.res, ns, t.obj or {}, subresource=sub, query=query),
            "delete": lambda: self._delete(t, flags),
        }
        answer = self.call(what, calls[action])
        if action == "delete":
            return Acted(t.res, ns, t.name, None)
        return Acted(t.res, ns, t.name, answer)

    def _delete(self, t: _Target, flags: ResourceFlags) -> dict[str, Any] | None:
        ignore = True if flags.ignore_not_found is None else flags.ignore_not_found
        answer = self.resources.delete(
            t.res,
            t.namespace,
            t.name,
            propagation_policy=flags.propagation_policy,
            grace_period_seconds=flags.grace_period_seconds(),
            ignore_not_found=ignore,
            query=flags.query(),
        )
        pending = isinstance(answer, dict) and bool(
            (answer.get("metadata") or {}).get("deletionTimestamp")
        )
        if pending and flags.wait and not flags.dry_run:
            self._wait_gone(t, str((answer or {}).get("metadata", {}).get("uid") or ""))
        return answer

    def _wait_gone(self, t: _Target, uid: str) -> None:
        """kubectl's ``delete --wait``: until the object (this uid) is gone (finalizers ran)."""
        log.info("waiting for %s %s/%s to be deleted", t.res.plural, t.namespace, t.name)
        while not self.stop.wait(self.delete_poll):
            try:
                live = self.resources.get(t.res, t.namespace, t.name)
            except KubeNotFoundError:
                return
            except KubeError as exc:
                if not is_transient(exc, self.transient_pattern):
                    raise
                continue
            if live is None or (uid and (live.get("metadata") or {}).get("uid") != uid):
                return

    def _patch(self, manifest: Manifest, flags: ResourceFlags, strategy: str) -> Acted:
        if len(manifest.documents) > 1:
            raise ExecutorError(f"a patch manifest holds one patch; {manifest.path} has several")
        body = manifest.documents[0] if manifest.documents else None
        if strategy == "json" and not isinstance(body, list):
            raise ExecutorError("a json patch is a YAML/JSON list of operations")
        if strategy != "json" and not isinstance(body, dict):
            raise ExecutorError(f"a {strategy} patch is a YAML/JSON object")
        if flags.target_type:
            t = self._flag_target(flags)
        elif strategy == "json" or not (isinstance(body, dict) and body.get("kind")):
            raise ExecutorError(
                "patch needs the object to patch: a manifest with apiVersion, kind and "
                "metadata.name, or flags naming it ('<type> <name>')"
            )
        else:
            t = self._manifest_target(1, body, manifest, flags)
        answer = self.call(
            f'patching ({strategy}) {t.res.plural} "{t.name}"',
            lambda: self.resources.patch(
                t.res,
                t.namespace,
                t.name,
                body,
                strategy=strategy,
                subresource=flags.subresource,
                query=flags.query(),
            ),
        )
        return Acted(t.res, t.namespace, t.name, answer)

    # --- retries ---------------------------------------------------------------------------

    def call(self, what: str, fn: Callable[[], T]) -> T:
        def on_retry(attempt: int, exc: BaseException, delay: float) -> None:
            log.warning("%s failed (attempt %d), retrying in %.2fs: %s", what, attempt, delay, exc)

        try:
            return retry_call(
                fn,
                is_transient=lambda e: is_transient(e, self.transient_pattern),
                backoff=self.backoff,
                stop=self.stop,
                on_retry=on_retry,
                rand=self.rand,
            )
        except RetriesExhaustedError as exc:
            raise ExecutorError(f"no more retries {describe(exc.last, what)}") from exc.last
        except (KubeError, MappingError) as exc:
            raise ExecutorError(f"no more retries {describe(exc, what)}") from exc


def describe(exc: BaseException, what: str) -> str:
    """kubectl's wording: ``Error from server (Reason): error when <what>: <message>``."""
    if isinstance(exc, MappingError):
        return f"error: {exc}"
    if not isinstance(exc, KubeError) or not exc.status:
        return f"error when {what}: {exc}"
    text = f"Error from server ({exc.reason or exc.status}): error when {what}: {exc.message}"
    if exc.status == 415 and "patching (strategic)" in what:
        text += (
            "; strategic merge patches are not supported for custom resources, "
            "use mergeStrategy: merge"
        )
    return text
