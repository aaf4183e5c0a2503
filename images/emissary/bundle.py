"""Write the zip of precompiled modules that `build.sh` appends to the emissary executable.

Usage: PYTHON bundle.py REPO OUT.zip [BUILTIN...]  (the modules built into the static library)

Run with the interpreter whose static library the executable links (its standard library and
bytecode format are the ones that executable understands). The zip holds the emissary's entry
point (``argoexec.emissary.frozen``), every module of ``argoexec.emissary``, and every module
of the standard library they can reach (found by ``modulefinder``, so lazy imports count), plus
the ``encodings`` package the interpreter needs to start. Modules built into the interpreter
need no entry; an extension module the static interpreter lacks fails the build here rather
than in a container.

Entries are stored uncompressed (an import reads them in place, with no zlib) as sourceless
``.pyc`` files with a fixed timestamp, in sorted order: two builds from the same sources give
the same bytes.
"""

from __future__ import annotations

import importlib.util
import marshal
import modulefinder
import sys
import sysconfig
import zipfile
from pathlib import Path

ENTRY = "argoexec.emissary.frozen"
# Reachable from the stdlib modules the emissary uses, never run by it.
EXCLUDES = ["tkinter", "test", "unittest", "pydoc", "doctest", "_pydecimal", "asyncio", "ssl"]
# Imported only on platforms or paths the emissary never takes.
MAY_BE_MISSING = frozenset(
    {
        "_winapi", "msvcrt", "nt", "winreg", "_winreg", "org.python.core", "_frozen_importlib",
        "_frozen_importlib_external", "java.lang", "vms_lib", "_scproxy", "_overlapped",
        # Optional accelerators and codecs: the pure-Python fallbacks are used.
        "_json", "_typing", "_contextvars", "_hashlib", "_decimal", "_bz2", "_lzma",
        "_multibytecodec", "_codecs_cn", "_codecs_hk", "_codecs_iso2022", "_codecs_jp",
        "_codecs_kr", "_codecs_tw",
    }
)  # fmt: skip
STAMP = (1980, 1, 1, 0, 0, 0)


def find(repo: Path, stdlib: Path) -> modulefinder.ModuleFinder:
    finder = modulefinder.ModuleFinder(path=[str(repo), str(stdlib)], excludes=EXCLUDES)
    finder.import_hook(ENTRY)
    for source in sorted((repo / "argoexec" / "emissary").glob("*.py")):
        if source.stem != "__init__":
            finder.import_hook(f"argoexec.emissary.{source.stem}")
    finder.import_hook("encodings")
    for codec in sorted((stdlib / "encodings").glob("*.py")):
        if codec.stem != "__init__":
            finder.import_hook(f"encodings.{codec.stem}")
    return finder


def missing(finder: modulefinder.ModuleFinder, builtin: frozenset[str]) -> list[str]:
    """Modules imported somewhere that neither the zip nor the interpreter provides."""
    found = []
    for name in finder.badmodules:
        top = name.partition(".")[0]
        if top in MAY_BE_MISSING or top in EXCLUDES or name in MAY_BE_MISSING:
            continue
        if name in builtin:
            continue
        # `from package import name` of a plain attribute is recorded as a missing module.
        parent = name.rpartition(".")[0]
        if parent and parent in finder.modules:
            continue
        found.append(name)
    return sorted(found)


def write(finder: modulefinder.ModuleFinder, repo: Path, stdlib: Path, out: Path) -> int:
    header = importlib.util.MAGIC_NUMBER + bytes(12)  # flags 0, mtime 0, size 0: sourceless
    count = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name, module in sorted(finder.modules.items()):
            source = Path(module.__file__ or "")
            if source.suffix != ".py":
                continue  # built into the interpreter
            shown = source.relative_to(repo if source.is_relative_to(repo) else stdlib)
            code = compile(source.read_bytes(), str(shown), "exec", dont_inherit=True)
            package = module.__path__ is not None
            member = name.replace(".", "/") + ("/__init__.pyc" if package else ".pyc")
            info = zipfile.ZipInfo(member, STAMP)
            info.external_attr = 0o644 << 16
            archive.writestr(info, header + marshal.dumps(code))
            count += 1
    return count


def main() -> int:
    if len(sys.argv) < 3:
        sys.stderr.write("usage: bundle.py REPO OUT.zip [BUILTIN...]\n")
        return 2
    repo, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
    builtin = frozenset(sys.argv[3:]) | frozenset(sys.builtin_module_names)
    stdlib = Path(sysconfig.get_path("stdlib")).resolve()
    finder = find(repo, stdlib)
    absent = missing(finder, builtin)
    if absent:
        sys.stderr.write(f"bundle.py: modules neither found nor built in: {', '.join(absent)}\n")
        return 1
    count = write(finder, repo, stdlib, out)
    sys.stdout.write(f"{count} modules in {out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
