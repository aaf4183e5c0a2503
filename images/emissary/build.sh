#!/bin/sh
# Build the in-container emissary: build/emissary/argoexec, one static ELF executable.
#
# `argoexec init` copies this file to /var/run/argo/argoexec (ARGOEXEC_EMISSARY_BINARY) so that
# any image (no Python, no shell, no libc; any uid; a read-only root; no /tmp) can run
# `argoexec emissary -- CMD...` and `argoexec kill SIGNAL PID`.
#
#  1. launcher.c is linked statically with the interpreter's libpython3.11.a and glibc: an
#     embedded CPython that runs argoexec.emissary.frozen in isolated mode.
#  2. bundle.py writes a zip of precompiled modules: the emissary and the part of the standard
#     library it reaches.
#  3. The zip is appended to the executable. The interpreter imports from its own file; nothing
#     is unpacked at run time.
#
# Environment: PYTHON (default python3.11: a CPython 3.11 with its static library, e.g.
# Debian's python3.11 + libpython3.11-dev), CC (default cc), OUT (default build/emissary).
# Exit status 3: a build prerequisite is missing.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${OUT:-$repo/build/emissary}
python=${PYTHON:-}
if [ -z "$python" ]; then
    # Debian's interpreter (what libpython3.11-dev belongs to) before any other on PATH.
    if [ -x /usr/bin/python3.11 ]; then python=/usr/bin/python3.11; else python=python3.11; fi
fi
cc=${CC:-cc}

missing() {
    echo "build.sh: $1" >&2
    exit 3
}
command -v "$python" >/dev/null 2>&1 || missing "no $python (apt-get install python3.11)"
command -v "$cc" >/dev/null 2>&1 || missing "no C compiler $cc (apt-get install gcc)"
command -v nm >/dev/null 2>&1 || missing "no nm (apt-get install binutils)"
# The static library, its headers and the libraries it needs, as the interpreter describes them.
eval "$("$python" -S -c '
import os, shlex, sysconfig
v = sysconfig.get_config_var
print("include=" + shlex.quote(sysconfig.get_path("include")))
print("static=" + shlex.quote(os.path.join(v("LIBPL") or "", v("LIBRARY") or "")))
print("libs=" + shlex.quote(" ".join(filter(None, [v("LIBS"), v("SYSLIBS"), v("MODLIBS")]))))
')"
[ -f "$include/Python.h" ] || missing "no $include/Python.h (apt-get install libpython3.11-dev)"
[ -f "$static" ] || missing "no static library $static (apt-get install libpython3.11-dev)"

mkdir -p "$out"
work=$(mktemp -d "$out/work.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# glibc warns that NSS functions (getpwnam...) linked statically need its shared libraries at
# run time: the emissary never calls them.
# shellcheck disable=SC2086  # $libs is a list of linker flags
"$cc" -static -O2 -s -o "$work/launcher" "$here/launcher.c" -I"$include" "$static" \
    $libs -lm 2>"$work/cc.log" || { cat "$work/cc.log" >&2; exit 1; }
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-315532800}
export SOURCE_DATE_EPOCH
# The modules built into the static library need no entry in the zip.
builtin=$(nm -g --defined-only "$static" 2>/dev/null | sed -n 's/.* T PyInit_//p' | sort -u)
# shellcheck disable=SC2086  # one argument per module name
"$python" -S "$here/bundle.py" "$repo" "$work/modules.zip" $builtin >/dev/null
cat "$work/launcher" "$work/modules.zip" >"$work/argoexec"
chmod 0555 "$work/argoexec"
mv -f "$work/argoexec" "$out/argoexec"
echo "built $out/argoexec ($(wc -c <"$out/argoexec") bytes)"
