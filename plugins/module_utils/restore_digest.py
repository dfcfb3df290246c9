# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Does a volume already hold exactly what an archive holds? (restore idempotence)

Two tar streams of the same tree differ byte for byte (member order follows directory listing
order) and in which name of a hardlink pair carries the data. This digest ignores both: every
member is (path, type, mode, uid, gid, whole-second mtime, size, symlink target, device,
content SHA-256, hardlink group) - without a symlink's mode (Linux ignores it) and the root
directory's mtime (put_archive cannot set it) -, where a hardlink counts as a regular file with its target's
content and the group is the smallest path sharing the inode. Names are made relative to the
archive root (`./a`, `a` and `data/a` with root_prefix='data' are all `a`).

Interface:
    tree_state(fileobj, root_prefix=None) -> TreeState (digest, members, file_bytes)
        fileobj: readable raw (uncompressed) tar stream, read in chunks (tarfile stream mode).
    ChunkReader(chunks): file object over an iterable of bytes (docker-py get_archive streams).
"""
from __future__ import annotations

import hashlib
import tarfile

READ_SIZE = 1 << 20


class TreeState:
    __slots__ = ("digest", "members", "file_bytes")

    def __init__(self, digest, members, file_bytes):
        self.digest = digest
        self.members = members
        self.file_bytes = file_bytes

    def as_dict(self):
        return {"digest": self.digest, "members": self.members, "file_bytes": self.file_bytes}


class ChunkReader:
    """.read(n) over an iterable of byte chunks, holding at most one chunk."""

    def __init__(self, chunks):
        self._iter = iter(chunks)
        self._buf = b""
        self._pos = 0

    def readable(self):
        return True

    def read(self, size=-1):
        if size is None or size < 0:
            size = READ_SIZE
        while self._pos >= len(self._buf):
            try:
                self._buf = next(self._iter)
            except StopIteration:
                return b""
            self._pos = 0
        data = self._buf[self._pos:self._pos + size]
        self._pos += len(data)
        return data


def relative_name(name, root_prefix=None):
    """'./a/' -> 'a'; '.' -> ''; with root_prefix 'data': 'data/a' -> 'a' (pure)."""
    name = name.rstrip("/")
    while name.startswith("./"):
        name = name[2:]
    if name == ".":
        name = ""
    if root_prefix:
        if name == root_prefix:
            return ""
        if name.startswith(root_prefix + "/"):
            name = name[len(root_prefix) + 1:]
    return name


def _kind(member):
    if member.isreg() or member.islnk():
        return "file"
    if member.isdir():
        return "dir"
    if member.issym():
        return "symlink"
    if member.isfifo():
        return "fifo"
    if member.ischr():
        return "chardev"
    if member.isblk():
        return "blockdev"
    return "other"


def _content_hash(tar, member):
    digest = hashlib.sha256()
    source = tar.extractfile(member)
    while True:
        block = source.read(READ_SIZE)
        if not block:
            return digest.hexdigest()
        digest.update(block)


def tree_state(fileobj, root_prefix=None):
    entries = {}
    group_of = {}   # path -> group id (first path of the inode)
    groups = {}     # group id -> set of paths
    file_bytes = 0
    with tarfile.open(fileobj=fileobj, mode="r|", errorlevel=2) as tar:
        for member in tar:
            path = relative_name(member.name, root_prefix)
            content, size, link = "", 0, ""
            if member.isreg():
                content, size = _content_hash(tar, member), member.size
                file_bytes += size
            elif member.islnk():
                target = relative_name(member.linkname, root_prefix)
                source = entries.get(target)
                content, size = (source[8], source[5]) if source else ("?", 0)
                group = group_of.setdefault(target, target)
                group_of[path] = group
                groups.setdefault(group, {target}).add(path)
            elif member.issym():
                link = member.linkname
            dev = "%d,%d" % (member.devmajor, member.devminor) if member.ischr() or member.isblk() else ""
            # Linux ignores a symlink's mode (always 0777); the API path cannot set the root's mtime.
            mode = "" if member.issym() else "%o" % (member.mode & 0o7777)
            mtime = 0 if path == "" else int(member.mtime)
            entries[path] = [_kind(member), mode, int(member.uid), int(member.gid),
                             mtime, int(size), link, dev, content]
    digest = hashlib.sha256()
    for path in sorted(entries):
        group = min(groups[group_of[path]]) if path in group_of else ""
        line = "\0".join(str(part) for part in [path] + entries[path] + [group])
        digest.update(line.encode("utf-8", "surrogateescape") + b"\n")
    return TreeState(digest.hexdigest(), len(entries), file_bytes)
