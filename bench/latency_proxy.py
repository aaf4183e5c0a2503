"""A TCP proxy on loopback that adds round-trip time, as a real object store's link would.

    python -m bench.latency_proxy --upstream-port PORT [--rtt-ms 20]

prints the port it listens on (127.0.0.1 only) as its first line of stdout, then forwards every
connection to ``127.0.0.1:<upstream-port>`` until it is killed. Each chunk read from one side is
written to the other ``rtt/2`` after it was read, in order per connection and direction, so a
request/response exchange costs one RTT more than on loopback and a new connection one more RTT
(its handshake is modelled by delaying the upstream connect). Delays overlap: a stream is not
slowed to one chunk per RTT, it is shifted by rtt/2, like a long link with ample bandwidth.

Memory: each direction holds at most ``MAX_QUEUED`` chunks in flight (reading pauses when it is
full), so a 2 GiB body streams through; that bound also caps one connection's throughput at
``MAX_QUEUED * CHUNK / (rtt/2)`` (about 1.6 GB/s per direction at 20 ms), far above loopback S3.

It runs as a process of its own (started by ``running``) so its event loop does not share a GIL
with the client being measured. Stopped by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK = 256 * 1024
MAX_QUEUED = 64
HOST = "127.0.0.1"


async def _forward(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float
) -> None:
    """Copy ``reader`` to ``writer``, each chunk ``delay`` seconds after it arrived."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(MAX_QUEUED)

    async def send() -> None:
        while True:
            due, chunk = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not chunk:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(chunk)
            await writer.drain()

    sender = asyncio.create_task(send())
    try:
        while True:
            chunk = await reader.read(CHUNK)
            await queue.put((loop.time() + delay, chunk))
            if not chunk:
                break
        await sender
    except (ConnectionError, OSError):
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
            await sender


async def _handle(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    upstream_port: int,
    rtt: float,
) -> None:
    try:
        await asyncio.sleep(rtt)  # the TCP handshake a real link would cost
        up_reader, up_writer = await asyncio.open_connection(HOST, upstream_port)
    except OSError:
        client_writer.close()
        return
    half = rtt / 2
    try:
        await asyncio.gather(
            _forward(client_reader, up_writer, half), _forward(up_reader, client_writer, half)
        )
    finally:
        for writer in (up_writer, client_writer):
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()


async def serve(upstream_port: int, rtt_ms: float, port: int = 0) -> None:
    rtt = rtt_ms / 1000

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _handle(reader, writer, upstream_port, rtt)

    server = await asyncio.start_server(handle, HOST, port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    print(bound, flush=True)
    async with server:
        await server.serve_forever()


@dataclass(frozen=True)
class LatencyProxy:
    """A running proxy: the port to connect to and the process to stop."""

    port: int
    pid: int
    rtt_ms: float


@contextlib.contextmanager
def running(upstream_port: int, rtt_ms: float, log: Path) -> Iterator[LatencyProxy]:
    """Run the proxy in a process of its own until the block ends."""
    from tests.servers.procs import stop_process

    with log.open("ab") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.latency_proxy",
                f"--upstream-port={upstream_port}",
                f"--rtt-ms={rtt_ms}",
            ],
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=Path(__file__).resolve().parent.parent,
            start_new_session=True,
        )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode().strip()
        if not line.isdigit():
            raise RuntimeError(f"latency proxy did not start (exit {proc.poll()}); see {log}")
        yield LatencyProxy(int(line), proc.pid, rtt_ms)
    finally:
        stop_process(proc)
        if proc.stdout is not None:
            proc.stdout.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.latency_proxy", description=__doc__)
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--rtt-ms", type=float, default=20.0)
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.upstream_port, args.rtt_ms, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
