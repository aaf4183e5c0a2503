"""Errors about the documents a workflow run reads: they name the file and the YAML path."""

from __future__ import annotations


class DocumentError(Exception):
    """A document that cannot be read or used.

    ``str()`` is ``FILE:LINE:COLUMN: YAML_PATH: message`` with the parts that are known, e.g.
    ``wf.yaml:3:7: could not find expected ':'`` or ``wf.yaml: document 2: unknown kind `Pod```.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str = "",
        path: str = "",
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.path = path
        self.line = line
        self.column = column
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        parts = [part for part in (where, self.path, self.message) if part]
        return ": ".join(parts)


class TemplateReferenceError(DocumentError):
    """A ``templateRef``/``workflowTemplateRef`` (or a plain name) that names nothing we have.

    The message lists what is available, so a typo is easy to spot. ``missing_document``: the
    (Cluster)WorkflowTemplate named is not among the documents given (a cluster may have it).
    """

    missing_document: bool = False
