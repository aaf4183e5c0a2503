"""The template as ``wait`` reads it: its JSON form, and the pydantic model only when needed.

Most pods save no artifacts: their ``wait`` reads the main containers' names, the volume mount
paths and the declared output parameters, and reports the outputs as JSON. Importing pydantic
and our models costs such a ``wait`` more than everything else it does (~80 ms of a ~200 ms
start), so a template that moves no artifacts, archives no logs and is not a ``resource``
template is read from its JSON alone, after checking the shape of every field read here. Any
other template — or one whose shape this module does not accept as it is (a number where a
string goes, say) — is validated by the model, as before, and read from the model's normalized
JSON, so both paths read the same fields in the same way.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from argoexec.contract import MAIN_CONTAINER

if TYPE_CHECKING:
    from argoexec.models import Template

# The template kinds whose main container's stdout is ``outputs.result`` (§4.3).
RESULT_KINDS = ("container", "script", "data", "http", "plugin")


@dataclass(frozen=True)
class WaitTemplate:
    """``doc``: the template's JSON form; ``model``: the validated model, when it was needed."""

    doc: dict[str, Any]
    model: Template | None = None

    @classmethod
    def of(cls, model: Template) -> WaitTemplate:
        return cls(model.to_wire(), model)

    @property
    def is_resource(self) -> bool:
        return self.doc.get("resource") is not None

    def main_containers(self) -> list[str]:
        """``["main"]``, or every containerSet member (an unnamed member is ``main``)."""
        members = (self.doc.get("containerSet") or {}).get("containers") or []
        return [m.get("name") or MAIN_CONTAINER for m in members] or [MAIN_CONTAINER]

    def volume_mount_paths(self) -> list[str]:
        mounts: list[dict[str, Any]] = []
        for kind in ("container", "script", "containerSet"):
            mounts += (self.doc.get(kind) or {}).get("volumeMounts") or []
        return [str(m["mountPath"]) for m in mounts if m.get("mountPath")]

    def can_have_output(self) -> bool:
        """Whether ``outputs.result`` applies to the template kind (§4.3)."""
        if self.doc.get("containerSet") is not None:
            return MAIN_CONTAINER in self.main_containers()
        return any(self.doc.get(kind) is not None for kind in RESULT_KINDS)

    def declared_outputs(self) -> dict[str, Any]:
        """A copy of the declared ``outputs``, to be filled in and reported."""
        return copy.deepcopy(self.doc.get("outputs") or {})


def read_wait_template(text: str) -> WaitTemplate:
    """The template of ``text``; invalid JSON or shape fails as the model's validation does."""
    try:
        doc: Any = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and plain(doc):
        return WaitTemplate(doc)
    # Imported on use: pods with artifacts, logs or a resource pay for the models.
    from argoexec.executor.template_source import parse_template

    return WaitTemplate.of(parse_template(text))


def plain(doc: dict[str, Any]) -> bool:
    """Whether ``wait`` can run the template from its JSON alone: no artifacts, no archived logs,
    not a resource, and every field this module reads has the type it expects."""
    inputs, outputs = doc.get("inputs"), doc.get("outputs")
    if not (_is_dict(inputs) and _is_dict(outputs)):
        return False
    if (inputs or {}).get("artifacts") or (outputs or {}).get("artifacts"):
        return False
    if doc.get("resource") is not None or not _is_dict(doc.get("archiveLocation")):
        return False
    if (doc.get("archiveLocation") or {}).get("archiveLogs"):
        return False
    if outputs is not None and None in outputs.values():
        return False  # the model drops nulls from what is reported; it normalizes these
    return _plain_parameters((outputs or {}).get("parameters")) and _plain_containers(doc)


def _is_dict(value: Any) -> bool:
    return value is None or isinstance(value, dict)


def _is_text(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _plain_parameters(params: Any) -> bool:
    if params is None:
        return True
    return isinstance(params, list) and all(_plain_parameter(p) for p in params)


def _plain_parameter(param: Any) -> bool:
    if not isinstance(param, dict) or not isinstance(param.get("name", ""), str):
        return False
    if None in param.values():
        return False
    if not (_is_text(param.get("value")) and _is_text(param.get("default"))):
        return False
    source = param.get("valueFrom")
    if not _is_dict(source):
        return False
    return not source or (_is_text(source.get("path")) and _is_text(source.get("default")))


def _plain_containers(doc: dict[str, Any]) -> bool:
    for kind in (*RESULT_KINDS, "containerSet"):
        if not _is_dict(doc.get(kind)):
            return False
    for kind in ("container", "script", "containerSet"):
        if not _plain_list((doc.get(kind) or {}).get("volumeMounts"), "mountPath"):
            return False
    return _plain_list((doc.get("containerSet") or {}).get("containers"), "name")


def _plain_list(items: Any, text_key: str) -> bool:
    """None, or a list of objects whose ``text_key`` is a string when set."""
    if items is None:
        return True
    if not isinstance(items, list):
        return False
    return all(isinstance(i, dict) and _is_text(i.get(text_key)) for i in items)
