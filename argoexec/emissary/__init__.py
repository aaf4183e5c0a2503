"""The emissary: PID 1 of every user container (argo-contract.md §2). STANDARD LIBRARY ONLY.

It runs inside arbitrary user images, so it must freeze into one self-contained executable: no
third-party import may ever appear in this package (an import-linter contract enforces it).

File protocol under ``/var/run/argo`` (the root can be moved with ``ARGOEXEC_VAR_RUN_DIR``):

=============================== ============================================================
``ctr/<ctr>/``                  created 0777 (umask 0) when the container starts
``ctr/<ctr>/stdout``            child's stdout (only when capture is on), append, 0666
``ctr/<ctr>/combined``          child's stdout+stderr interleaved (capture on), append, 0666
``ctr/<ctr>/signal``            a decimal signal number; consumed (deleted), then delivered
``ctr/<ctr>/before``/``after``  debug-pause release markers
``ctr/<ctr>/exitcode``          decimal exit code, no newline, 0644 — always the LAST write
                                (``exitcode.tmp``, written blank before the command runs,
                                holds its room on the file system, then is renamed to it)
``outputs/parameters/<path>``   byte copies of main's output parameter files
``outputs/artifacts/<path>.tgz`` tar+gzip of main's output artifact paths
=============================== ============================================================

Start-up cost counts: every container pays it. A container without outputs or with output
parameters imports only built-in modules and this package's (no ``json``, ``re``, ``pathlib``,
``subprocess``, ``threading``, ``signal``, ``shutil``, ``typing``...; tests/emissary guard it);
anything heavier is imported where it is needed (artifacts, logging, a deadline, a tty).

Exit codes: the child's own code; ``128 + signal`` when it was killed; 64 when the emissary itself
failed (the reason also goes to ``/dev/termination-log``).
"""
