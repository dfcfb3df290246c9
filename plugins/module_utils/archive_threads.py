# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading an archive file and hashing in threads of their own, for full verify and restore.

SHA-256 and zstd release the GIL, so on two cores the compressed read + hash, the raw hash and
the decompression + tar walk overlap instead of adding up. Queues are bounded (4 chunks), so
memory stays the same whatever the archive size.

Interface:
    Prefetcher(chunks, depth=4, name=...)   iterate it: the chunks of `chunks`, pulled ahead by a
        daemon thread into a bounded queue (the iterable's error is raised here); .close() stops
        the thread and closes the iterable when it was stopped early. Used for the engine's
        archive stream (socket reads) and for decompression (restore).
    ThreadedFileReader(handle, chunk_size=1 MiB)   handle: an unbuffered binary file, owned (closed)
        .read(n) -> bytes (b'' at the end); a read error of the thread is raised here
        .sha256 (hex) and .bytes of everything read from the file so far
        .close() stops the thread and closes the handle (on every path)
    BackgroundHasher(depth=4, consumer=None)
        .update(data) hands a chunk to the hashing thread (blocks while it is depth behind);
                      consumer(data), if given, runs in that thread after the hash (the backup's
                      tar scan); an error it raised is raised here, by the next update()
        .hexdigest() waits for every chunk handed over, then gives the digest or raises the
                     consumer's error (call once; it also ends the thread, so call it on every path)
"""
from __future__ import annotations

import hashlib
import queue
import sys
import threading

CHUNK_SIZE = 1 << 20
_END = object()


class ThreadedFileReader:
    """Reads a file in a thread; hands chunks to the consumer; hashes the compressed bytes."""

    def __init__(self, handle, chunk_size=CHUNK_SIZE):
        self._handle = handle
        self._chunk_size = chunk_size
        self._queue = queue.Queue(maxsize=4)
        self._digest = hashlib.sha256()
        self.bytes = 0
        self._buffer = b""
        self._done = False
        self._stop = threading.Event()
        self._error = None
        self._thread = threading.Thread(target=self._run, name="phase0-archive-reader", daemon=True)
        self._thread.start()

    def _run(self):
        try:
            while not self._stop.is_set():
                data = self._handle.read(self._chunk_size)
                if data:
                    self._digest.update(data)
                    self.bytes += len(data)
                self._put(data)
                if not data:
                    return
        except BaseException as exc:  # pylint: disable=broad-except  # handed to the consumer
            self._error = exc
            self._put(b"")

    def _put(self, data):
        while not self._stop.is_set():
            try:
                self._queue.put(data, timeout=0.2)
                return
            except queue.Full:
                continue

    def read(self, size=-1):
        if self._done:
            return b""
        if not self._buffer:
            self._buffer = self._queue.get()
            if not self._buffer:
                self._done = True
                if self._error is not None:
                    raise self._error
                return b""
        if size is None or size < 0 or size >= len(self._buffer):
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def readable(self):
        return True

    @property
    def sha256(self):
        return self._digest.hexdigest()

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self._handle.close()


class BackgroundHasher:
    """SHA-256 of the chunks handed to update(), computed in a thread (bounded queue: memory stays
    at a few chunks whatever the archive size)."""

    def __init__(self, depth=4, consumer=None):
        self._digest = hashlib.sha256()
        self._consumer = consumer
        self._error = None
        self._queue = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._run, name="phase0-archive-hasher", daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            data = self._queue.get()
            if data is None:
                return
            if self._error is not None:
                continue  # keep draining, so update() never blocks on a dead consumer
            try:
                self._digest.update(data)
                if self._consumer is not None:
                    self._consumer(data)
            except BaseException:  # pylint: disable=broad-except  # handed to the caller's thread
                self._error = sys.exc_info()[1]

    def update(self, data):
        if self._error is not None:
            raise self._error
        self._queue.put(data)

    def hexdigest(self):
        """Wait for every chunk handed over so far, then give the digest (call once, at the end)."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._digest.hexdigest()


class Prefetcher:
    """Pull chunks from an iterable in a daemon thread into a bounded queue."""

    def __init__(self, chunks, depth=4, name="phase0-archive-prefetch"):
        self._iter = iter(chunks)
        self._queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _put(self, item):
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _run(self):
        try:
            for chunk in self._iter:
                if not self._put(chunk):
                    break
            else:
                self._put(_END)
                return
        except BaseException:  # pylint: disable=broad-except  # handed to the consumer thread
            self._put(("error", sys.exc_info()[1]))
            return
        finally:
            closer = getattr(self._iter, "close", None)
            if self._stop.is_set() and closer is not None:
                try:
                    closer()
                except Exception:  # pylint: disable=broad-except  # best effort on abort
                    pass

    def __iter__(self):
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, tuple):
                raise item[1]
            yield item

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
