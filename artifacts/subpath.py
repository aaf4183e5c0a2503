"""An artifact's ``subPath``: one file or directory from inside an artifact.

Argo's controller appends the subPath to the key of the artifact a ``from`` names (its
``AppendToKey``, a Go ``path.Join``), so the executor loads ``<key>/<subPath>``: that finds what
was stored object by object (``archive: none``) and nothing inside an archive. We carry the
subPath beside the key instead, and the executor applies it: ``<key>/<subPath>`` as Argo, or,
when the key holds one tar.gz or zip, only that path extracted from it (``archive_select``).

A subPath is relative to the artifact as it is placed at its input path: for Argo's archives of a
directory ``out`` (entries ``out/...``) ``a.txt`` means ``out/a.txt``. It must be a clean relative
path; Argo's ``path.Join`` would silently clean ``../x`` into a path outside the artifact.
Standard library only: the controller checks subPaths too.
"""

from __future__ import annotations


def sub_path_problem(sub: str) -> str | None:
    """Why ``sub`` (non-empty) is not a clean relative path inside an artifact, or None."""
    if "\x00" in sub:
        return "contains a NUL byte"
    if sub.startswith("/"):
        return "is absolute: give a path relative to the artifact's root"
    parts = sub.split("/")
    if ".." in parts:
        return "contains a '..' segment: a subPath cannot leave the artifact"
    if "" in parts:
        return "has an empty segment (a doubled or trailing '/')"
    if "." in parts:
        return "contains a '.' segment"
    return None


def join_sub_paths(*parts: str | None) -> str:
    """The subPath of a subPath: the non-empty parts joined with ``/`` (``""`` for none)."""
    return "/".join(part for part in parts if part)


def is_within(rel: str, sub: str) -> bool:
    """Whether the relative path ``rel`` is ``sub`` or lies below it."""
    return rel == sub or rel.startswith(sub + "/")
