# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read a volume archive for restore: verify it and judge every member before anything is written.

Two readers over the same archive file, both streaming in bounded chunks:

    scan_archive(path, expected=None, **validator_options) -> ScanReport
        One pass: compressed SHA-256 and size, decompression (codec detected from the magic
        number), raw SHA-256, TarScanner (member count, file bytes, end-of-archive marker) and
        TarMemberValidator on every member. Never raises for bad data: the report lists every
        problem, so restore can refuse the archive before the first write.
        `expected` (from the manifest): sha256, bytes, raw_sha256, raw_bytes, members, file_bytes;
        each key present is compared.
    ScanReport: ok, problems (list of str), unsafe (list of (name, reason)), sha256, bytes,
        raw_sha256, raw_bytes, members, file_bytes, codec, symlinks (sorted list of normalized
        symlink paths, for chaining a second archive), duration_s, as_dict()

    ValidatedTarReader(path, expected=None, **validator_options)
        A file object (.read(n)) yielding the raw tar, for docker-py `put_archive` or tarfile's
        stream mode. It validates again while it streams (the file may have changed since the
        scan): a header is judged before the chunk holding it is handed on, and the hashes and
        the end marker are checked when the stream ends; any problem raises ArchiveRejected, so
        the consumer sees an error instead of a clean end of stream.
    ArchiveRejected(ValueError): .problems (list of str)
"""
from __future__ import annotations

import time

from ansible_collections.homeiq.phase0.plugins.module_utils.archive_codec import (
    CodecError, DecompressingReader, detect_codec)
from ansible_collections.homeiq.phase0.plugins.module_utils.archive_threads import BackgroundHasher, ThreadedFileReader
from ansible_collections.homeiq.phase0.plugins.module_utils.archive_tarscan import (
    TarFormatError, TarScanner)
from ansible_collections.homeiq.phase0.plugins.module_utils.tar_validate import (
    TarMemberValidator, UnsafeMember)

CHUNK_SIZE = 1 << 20
MAX_LISTED_PROBLEMS = 20
_COMPARED = ("sha256", "bytes", "raw_sha256", "raw_bytes", "members", "file_bytes")


class ArchiveRejected(ValueError):
    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems[:5]))


class ScanReport:
    __slots__ = ("problems", "unsafe", "sha256", "bytes", "raw_sha256", "raw_bytes", "members",
                 "file_bytes", "codec", "symlinks", "duration_s")

    def __init__(self, **fields):
        for key in self.__slots__:
            setattr(self, key, fields.get(key))

    @property
    def ok(self):
        return not self.problems

    def as_dict(self):
        data = dict((key, getattr(self, key)) for key in self.__slots__ if key not in ("symlinks", "unsafe"))
        data["unsafe"] = [{"name": name, "reason": reason} for name, reason in self.unsafe or []]
        data["ok"] = self.ok
        return data


def compare_expected(actual, expected):
    """Problems where a measured value differs from the manifest's (pure)."""
    problems = []
    for key in _COMPARED:
        want = (expected or {}).get(key)
        if want is None or actual.get(key) is None:
            continue
        if str(want) != str(actual[key]):
            problems.append("%s is %s, the manifest says %s" % (key, actual[key], want))
    return problems


def _open_archive(path):
    handle = open(path, "rb", buffering=0)  # pylint: disable=consider-using-with  # owned by ThreadedFileReader
    try:
        codec = detect_codec(_peek(handle))
    except BaseException:
        handle.close()
        raise
    # The file is read and its compressed hash taken in a thread of its own (closes the handle).
    return ThreadedFileReader(handle, CHUNK_SIZE), codec


def _peek(handle):
    head = handle.read(4)
    handle.seek(0)
    return head


class _Pipeline:
    """archive file -> compressed hash -> decompressor -> raw hash -> scanner (+ validator)."""

    def __init__(self, path, validator_options):
        self.hashed, self.codec = _open_archive(path)
        self.reader = DecompressingReader(self.hashed, self.codec, read_size=CHUNK_SIZE)
        # SHA-256 of the raw tar in a thread too: this one decompresses and judges the members.
        self.raw_hash = BackgroundHasher()
        self._raw_digest = None
        self.validator = TarMemberValidator(**validator_options)
        self.unsafe = []
        self.scanner = TarScanner(on_member=self._judge)
        self.started = time.monotonic()

    def _judge(self, member):
        try:
            self.validator.check(member)
        except UnsafeMember as exc:
            self.unsafe.append((exc.name, exc.reason))

    def next_chunk(self):
        data = self.reader.read(CHUNK_SIZE)
        if data:
            self.raw_hash.update(data)
            self.scanner.feed(data)
        return data

    def _raw_sha256(self):
        if self._raw_digest is None:
            self._raw_digest = self.raw_hash.hexdigest()  # once: it ends the hashing thread
        return self._raw_digest

    def measured(self):
        return {"sha256": self.hashed.sha256, "bytes": self.hashed.bytes,
                "raw_sha256": self._raw_sha256(), "raw_bytes": self.scanner.raw_bytes,
                "members": self.scanner.members, "file_bytes": self.scanner.file_bytes}

    def close(self):
        try:
            self.reader.close()
        finally:
            self.hashed.close()
            self._raw_sha256()


def _unsafe_problems(unsafe):
    problems = ["unsafe member %r: %s" % (name, reason) for name, reason in unsafe[:MAX_LISTED_PROBLEMS]]
    if len(unsafe) > MAX_LISTED_PROBLEMS:
        problems.append("... and %d more unsafe members" % (len(unsafe) - MAX_LISTED_PROBLEMS))
    return problems


def scan_archive(path, expected=None, **validator_options):
    pipeline = _Pipeline(path, validator_options)
    problems = []
    try:
        try:
            while pipeline.next_chunk():
                pass
            # Drain what the decompressor did not need, so the compressed hash covers the file.
            while pipeline.hashed.read(CHUNK_SIZE):
                pass
            pipeline.scanner.finish()
        except (CodecError, TarFormatError) as exc:
            problems.append(str(exc))
            # Read the rest, so the compressed hash covers the whole file (the raw figures stay partial).
            while pipeline.hashed.read(CHUNK_SIZE):
                pass
        measured = pipeline.measured()
    finally:
        pipeline.close()
    if problems:  # after a decompression or tar error only the file's own hash and size are whole
        measured_whole = dict((key, measured[key]) for key in ("sha256", "bytes"))
        problems = compare_expected(measured_whole, expected) + problems
    else:
        problems = compare_expected(measured, expected)
    problems.extend(_unsafe_problems(pipeline.unsafe))
    return ScanReport(problems=problems, unsafe=pipeline.unsafe, codec=pipeline.codec,
                      symlinks=sorted(pipeline.validator.symlinks),
                      duration_s=round(time.monotonic() - pipeline.started, 3), **measured)


class ValidatedTarReader:
    """File-like raw tar stream that refuses to hand on anything unsafe (see module doc)."""

    def __init__(self, path, expected=None, abort_after=None, **validator_options):
        self.expected = expected or {}
        self._pipeline = _Pipeline(path, validator_options)
        self._done = False
        self._pending = b""
        # abort_after: test-only fault injection (TARGETS 17, a restore aborted halfway): raise OSError once
        # more than this many bytes were handed on.
        self._abort_after = abort_after or 0
        self._handed = 0

    def readable(self):
        return True

    def _fail(self, problems):
        self._done = True
        self.close()
        raise ArchiveRejected(problems)

    def read(self, size=-1):
        if self._pending:
            if size is None or size < 0 or size >= len(self._pending):
                data, self._pending = self._pending, b""
            else:
                data, self._pending = self._pending[:size], self._pending[size:]
            return data
        data = self._next()
        if data and size is not None and 0 <= size < len(data):
            data, self._pending = data[:size], data[size:]
        return data

    def _next(self):
        if self._done:
            return b""
        try:
            data = self._pipeline.next_chunk()
        except (CodecError, TarFormatError) as exc:
            self._fail([str(exc)])
        if self._pipeline.unsafe:
            self._fail(_unsafe_problems(self._pipeline.unsafe))
        if data:
            self._handed += len(data)
            if self._abort_after and self._handed > self._abort_after:
                self._done = True
                self.close()
                raise OSError("restore aborted after %d bytes (PHASE0_TEST_RESTORE_ABORT_AFTER_BYTES)" % self._handed)
            return data
        try:
            while self._pipeline.hashed.read(CHUNK_SIZE):
                pass
            self._pipeline.scanner.finish()
        except (CodecError, TarFormatError) as exc:
            self._fail([str(exc)])
        problems = compare_expected(self._pipeline.measured(), self.expected)
        if problems:
            self._fail(["the archive changed since it was verified: " + p for p in problems])
        self._done = True
        self.close()
        return b""

    def __iter__(self):
        while True:
            data = self.read(CHUNK_SIZE)
            if not data:
                return
            yield data

    def measured(self):
        return self._pipeline.measured()

    def close(self):
        self._pipeline.close()
