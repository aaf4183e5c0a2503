"""Bounded, reused transfer buffers (artifacts.memory) and the readers that fill them."""

from __future__ import annotations

import hashlib
import io
import threading

import pytest

from artifacts.memory import BufferPool, fill
from artifacts.streams import HashingReader


def test_a_pool_allocates_lazily_and_reuses_released_buffers() -> None:
    pool = BufferPool(16, 3)
    assert pool.allocated == 0
    first = pool.acquire()
    pool.release(first)
    again = pool.acquire()
    assert again is first
    assert (len(again), pool.allocated) == (16, 1)


def test_a_pool_never_hands_out_more_than_its_count() -> None:
    pool = BufferPool(8, 2)
    held = [pool.acquire(), pool.acquire()]
    with pytest.raises(TimeoutError):
        pool.acquire(timeout=0.05)
    assert (pool.outstanding, pool.allocated) == (2, 2)
    pool.release(held.pop())
    assert pool.acquire(timeout=0.05) is not None
    assert pool.allocated == 2


def test_a_blocked_acquire_wakes_when_a_buffer_comes_back() -> None:
    pool = BufferPool(8, 1)
    buffer = pool.acquire()
    got: list[bytearray] = []
    waiter = threading.Thread(target=lambda: got.append(pool.acquire(timeout=10)))
    waiter.start()
    pool.release(buffer)
    waiter.join(10)
    assert got == [buffer]


def test_a_shrunk_buffer_is_not_reused() -> None:
    pool = BufferPool(8, 2)
    short = pool.acquire()
    del short[3:]  # a short last part
    pool.release(short)
    fresh = pool.acquire()
    assert len(fresh) == 8
    assert fresh is not short
    assert pool.allocated == 2


def test_a_pool_resized_hands_out_the_new_size() -> None:
    pool = BufferPool(8, 2)
    buffer = pool.acquire()
    pool.resize(12)
    pool.release(buffer)  # the old size is dropped
    assert len(pool.acquire()) == 12


def test_a_pool_needs_a_positive_size_and_count() -> None:
    with pytest.raises(ValueError):
        BufferPool(0, 1)
    with pytest.raises(ValueError):
        BufferPool(1, 0)


class _Dribble:
    """A reader returning at most 3 bytes per call, with readinto or read only."""

    def __init__(self, data: bytes, *, into: bool) -> None:
        self._raw = io.BytesIO(data)
        if into:
            self.readinto = lambda b: self._raw.readinto(memoryview(b)[:3])

    def read(self, n: int = -1) -> bytes:
        return self._raw.read(min(3, n) if n >= 0 else 3)


@pytest.mark.parametrize("into", [True, False])
def test_fill_keeps_reading_until_the_buffer_is_full_or_eof(into: bool) -> None:
    reader = _Dribble(b"abcdefghij", into=into)
    buffer = bytearray(8)
    assert fill(reader, buffer) == 8
    assert buffer == b"abcdefgh"
    assert fill(reader, buffer) == 2
    assert buffer[:2] == b"ij"
    assert fill(reader, buffer) == 0


@pytest.mark.parametrize("into", [True, False])
def test_a_filling_reader_hashes_and_counts_what_it_fills(into: bool) -> None:
    data = bytes(range(256)) * 40
    seen: list[int] = []
    reader = HashingReader(_Dribble(data, into=into), seen.append)  # type: ignore[arg-type]
    buffer = bytearray(1000)
    out = bytearray()
    while count := fill(reader, buffer):
        out += buffer[:count]
    assert bytes(out) == data
    assert reader.size == len(data) == sum(seen)
    assert reader.hexdigest() == hashlib.sha256(data).hexdigest()


def test_a_filling_reader_mixes_read_and_readinto_in_one_digest() -> None:
    data = b"0123456789" * 10
    reader = HashingReader(io.BytesIO(data))
    head = reader.read(7)
    buffer = bytearray(200)
    count = reader.readinto(buffer)
    assert head + bytes(buffer[:count]) == data
    assert reader.hexdigest() == hashlib.sha256(data).hexdigest()
