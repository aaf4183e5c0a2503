"""Where ``wait`` reports a node's result, written once, then marked complete.

A result is the JSON form of a ``NodeResult`` (``outputs``, ``progress``, ``message``: the inlined
fields of a ``WorkflowTaskResult``), so a ``wait`` that saves no artifacts never builds a model.

The Kubernetes sink (a ``WorkflowTaskResult``) lives in ``argoexec.kube``; this module holds the
protocol and the file sink used by runtimes without an API server. Both keep Argo's completion
label: the result only claims completion after ``finalize``, so a ``wait`` killed mid-way never
leaves a result that looks complete.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Protocol

from argoexec.contract import API_VERSION, LABEL_REPORT_OUTPUTS_COMPLETED


class ResultSink(Protocol):
    def initialize(self) -> None:
        """Create the (empty, not completed) result."""
        ...

    def report(self, result: dict[str, Any]) -> None:
        """Merge ``result``'s fields (outputs, progress, message) into the stored result."""
        ...

    def finalize(self) -> None:
        """Mark the result complete. Called once, after the last ``report``."""
        ...


class FileSink:
    """A JSON document shaped like a ``WorkflowTaskResult``, replaced atomically on each write."""

    def __init__(self, path: Path, name: str = "") -> None:
        self.path = path
        self.name = name

    def read(self) -> dict[str, Any]:
        try:
            doc: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            doc = {
                "apiVersion": API_VERSION,
                "kind": "WorkflowTaskResult",
                "metadata": {
                    "name": self.name,
                    "labels": {LABEL_REPORT_OUTPUTS_COMPLETED: "false"},
                },
            }
        return doc

    def initialize(self) -> None:
        self._write(self.read())

    def report(self, result: dict[str, Any]) -> None:
        doc = self.read()
        doc.update(result)
        self._write(doc)

    def finalize(self) -> None:
        doc = self.read()
        doc.setdefault("metadata", {}).setdefault("labels", {})[LABEL_REPORT_OUTPUTS_COMPLETED] = (
            "true"
        )
        self._write(doc)

    def _write(self, doc: dict[str, Any]) -> None:
        """Replace the file atomically: a reader sees the old document or the new one.

        Not fsynced (each fsync cost a pod's critical path ~7 ms, three times): the file only
        has to outlive this process, not the machine. A runtime's pods do not survive a crash
        of their machine either, and the controller records what it read in the Workflow's
        status before it removes the pod."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with tmp.open("w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2, sort_keys=True)
        os.replace(tmp, self.path)


def is_completed(doc: dict[str, Any]) -> bool:
    labels = (doc.get("metadata") or {}).get("labels") or {}
    return bool(labels.get(LABEL_REPORT_OUTPUTS_COMPLETED) == "true")
