"""Run one command and report its peak RSS, measured from a bare interpreter.

    python -m bench.rss_exec ARGV...

prints one JSON line ``{"code": ..., "ru_maxrss_kib": ..., "cpu_seconds": ...}`` after the
command exits (the command's own stdout goes to /dev/null, its stderr is inherited). Linux folds
the RSS a process had before ``exec`` into ``ru_maxrss``; a peer tool started straight from the
bench would report the bench's RSS (boto3 loaded) whenever its own is smaller. Started from this
module instead, the floor is a bare interpreter (~10 MiB). Only the standard library is imported.
"""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m bench.rss_exec ARGV...", file=sys.stderr)
        return 2
    pid = os.fork()
    if pid == 0:
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    report = {
        "code": os.waitstatus_to_exitcode(status),
        "ru_maxrss_kib": int(usage.ru_maxrss),
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
    }
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
