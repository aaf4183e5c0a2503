"""This project's executor, as the ``local`` runtime runs it in executor containers.

An *executor container* (``init``, ``wait``, a resource template's ``main``) runs this
project's ``argoexec`` with the interpreter running the controller; user containers run their
command under the emissary installed at ``/var/run/argo/argoexec``.

Sandboxed, none of this is visible at its host path: the interpreter's prefix, the executor's
packages and the site directories its dependencies live in are bound read-only under
``/.argoexec`` (`ROOT`), so a container sees neither the checkout nor the host's home, and the
project's interpreter is not on any container's ``PATH``. The interpreter is started through
its ELF loader with ``--library-path`` so that a build whose ``libpython`` is found through an
absolute ``RUNPATH`` (pyenv, ``--enable-shared``) finds it at the new place, without an
``LD_LIBRARY_PATH`` that would leak into user commands. User containers get the interpreter,
the packages and the emissary launcher only (`Executor.emissary_binds`); ``init`` copies the
launcher to ``/var/run/argo/argoexec`` (``ARGOEXEC_EMISSARY_BINARY``), as Argo's init copies
its own binary there.

Every interpreter starts with ``-S`` and an explicit import path: processing site-packages
(.pth files, the editable-install finder) on every start costs about as much as the interpreter
itself.
"""

from __future__ import annotations

import shlex
import struct
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import argoexec
from argoexec.controller.sandbox import Mount
from argoexec.emissary.launcher import launcher_script, python_code

ROOT = "/.argoexec"
PYTHON = f"{ROOT}/python"
SOURCE = f"{ROOT}/src"
LIBS = f"{ROOT}/lib"
BIN = f"{ROOT}/bin"  # holds `argoexec`: first on the PATH of executor containers
EMISSARY = f"{ROOT}/emissary"
PACKAGES = ("argoexec", "artifacts")
SITE_DIRS = ("site-packages", "dist-packages")
SOURCE_ROOT = Path(argoexec.__file__).resolve().parents[1]  # holds argoexec/ and artifacts/

_CLI = "from argoexec.cli import main; sys.exit(main())"


@dataclass(frozen=True)
class Executor:
    python: tuple[str, ...]  # the command line that starts the interpreter
    path: tuple[str, ...]  # the import path of the executor (sources first)
    bin: str  # the directory holding `command()` as `argoexec`, as the executor image's PATH has
    emissary: str  # the file holding `launcher()`, which init installs at /var/run/argo/argoexec
    binds: tuple[Mount, ...] = ()  # what executor containers need bound
    emissary_binds: tuple[Mount, ...] = ()  # what user containers need bound

    def argv(self, args: Sequence[str]) -> list[str]:
        """``argoexec ARGS...`` in an executor container."""
        return [*self.python, "-S", "-c", python_code(self.path, _CLI), *args]

    def command(self) -> str:
        """The ``argoexec`` executable of executor containers (a resource template's main runs
        ``argoexec resource`` under the emissary, which looks it up on PATH)."""
        code = shlex.quote(python_code(self.path, _CLI))
        return f'#!/bin/sh\nexec {shlex.join(self.python)} -S -c {code} "$@"\n'

    def launcher(self) -> str:
        """The emissary launcher `init` installs at ``/var/run/argo/argoexec``."""
        return launcher_script(self.python, self.path[0])


def compile_sources() -> None:
    """Bring the executor's bytecode up to date (``__pycache__`` beside the sources). Sandboxed
    containers see the sources read-only: a module changed since its bytecode was written would
    be compiled again in every container, in memory (each one costing milliseconds a pod).
    Nothing to do costs ~8 ms, once per run; sources that cannot be written are left alone."""
    import compileall

    for package in PACKAGES:
        compileall.compile_dir(str(SOURCE_ROOT / package), quiet=2)


def host_executor(files: Path) -> Executor:
    """Unsandboxed: this interpreter and these modules at their host paths; ``files`` is the
    runtime's directory holding ``bin/argoexec``."""
    path = [str(SOURCE_ROOT), *(p for p in sys.path if p)]
    return Executor(
        (sys.executable,), tuple(dict.fromkeys(path)), str(files / "bin"), str(files / "emissary")
    )


def sandboxed_executor(files: Path) -> Executor:
    """Sandboxed: everything under `ROOT`; ``files`` is the runtime's directory holding the
    emissary launcher (`Executor.launcher`) and ``bin/argoexec`` (`Executor.command`)."""
    prefix = Path(sys.base_prefix).resolve()
    # A venv's python is a link to this one (sys._base_executable, which typeshed lacks).
    binary = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    try:
        inside = f"{PYTHON}/{binary.relative_to(prefix)}"
    except ValueError:  # an interpreter outside its own prefix: run it where it is
        inside = str(binary)
    loader = elf_interpreter(binary)
    python = (loader, "--library-path", f"{PYTHON}/lib", inside) if loader else (inside,)
    interpreter = Mount(prefix, PYTHON, read_only=True)
    sources = tuple(Mount(SOURCE_ROOT / p, f"{SOURCE}/{p}", read_only=True) for p in PACKAGES)
    libs: list[Mount] = []
    path = [SOURCE]
    for entry in _site_dirs():
        if entry.is_relative_to(prefix):
            path.append(f"{PYTHON}/{entry.relative_to(prefix)}")
        else:
            target = f"{LIBS}/{len(libs)}"
            libs.append(Mount(entry, target, read_only=True))
            path.append(target)
    emissary = Mount(files / "emissary", EMISSARY, read_only=True)
    command = Mount(files / "bin", BIN, read_only=True)
    return Executor(
        python,
        tuple(path),
        BIN,
        EMISSARY,
        binds=(interpreter, *sources, *libs, emissary, command),
        emissary_binds=(interpreter, *sources),
    )


def _site_dirs() -> list[Path]:
    """The site directories on this interpreter's import path (where the dependencies are)."""
    found = []
    for entry in sys.path:
        path = Path(entry).resolve() if entry else None
        if path is not None and path.name in SITE_DIRS and path.is_dir():
            found.append(path)
    return list(dict.fromkeys(found))


def elf_interpreter(binary: Path) -> str | None:
    """The program interpreter (``PT_INTERP``, the dynamic loader) of an ELF executable; None
    for a static or non-ELF one."""
    try:
        with binary.open("rb") as file:
            header = file.read(64)
            if header[:4] != b"\x7fELF" or header[4] != 2:  # ELF, 64-bit
                return None
            order = "<" if header[5] == 1 else ">"
            (phoff,) = struct.unpack_from(order + "Q", header, 0x20)
            phentsize, phnum = struct.unpack_from(order + "HH", header, 0x36)
            for index in range(phnum):
                file.seek(phoff + index * phentsize)
                kind, _flags, offset, _vaddr, _paddr, size = struct.unpack(
                    order + "IIQQQQ", file.read(40)
                )
                if kind == 3:  # PT_INTERP
                    file.seek(offset)
                    return file.read(size).rstrip(b"\0").decode() or None
    except (OSError, struct.error, UnicodeDecodeError):
        return None
    return None
