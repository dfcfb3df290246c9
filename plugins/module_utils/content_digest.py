# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An order-independent digest of what a tar stream holds.

Two tar streams of the same tree can differ byte for byte (member order follows the order in
which a filesystem lists a directory; headers carry user/group names), so rollback cannot
compare the raw tar of a restored volume with the archive's raw SHA-256. It compares this
digest instead: for every member, its path, type, mode, numeric uid/gid, whole-second mtime,
size, link target and the SHA-256 of its data, sorted by path and hashed.

Interface:
    tree_digest(fileobj, root_prefix=None) -> TreeDigest
        fileobj: a readable binary stream of an uncompressed tar (read in chunks: tarfile's
                 stream mode, memory bounded by one member's read buffer).
        root_prefix: leading path component to strip (docker's get_archive of /data yields
                 members named `data/...`); None strips nothing.
    TreeDigest: digest (hex), members (int), file_bytes (int), entries (list of per-member
                tuples, only when keep_entries=True), as_dict()
    diff_entries(a_entries, b_entries, limit=20) -> list of human-readable differences
"""
from __future__ import annotations

import hashlib
import tarfile

READ_SIZE = 1024 * 1024

_TYPE_NAMES = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.CONTTYPE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
    tarfile.FIFOTYPE: "fifo",
    tarfile.CHRTYPE: "chardev",
    tarfile.BLKTYPE: "blockdev",
}


class TreeDigest:
    def __init__(self, digest, members, file_bytes, entries=None):
        self.digest = digest
        self.members = members
        self.file_bytes = file_bytes
        self.entries = entries

    def as_dict(self):
        return {"digest": self.digest, "members": self.members, "file_bytes": self.file_bytes}


def _strip(name, root_prefix):
    name = name.rstrip("/")
    if name.startswith("./"):
        name = name[2:]
    if name == ".":
        name = ""
    if root_prefix:
        if name == root_prefix:
            return ""
        if name.startswith(root_prefix + "/"):
            return name[len(root_prefix) + 1:]
    return name


def member_entry(member, data_sha256, root_prefix=None):
    """The tuple that stands for one member in the digest (pure)."""
    kind = _TYPE_NAMES.get(member.type, "other:%r" % member.type)
    link = ""
    if member.type == tarfile.SYMTYPE:
        link = member.linkname
    elif member.type == tarfile.LNKTYPE:
        # Hardlink targets are member names: strip them like names so both sides agree.
        link = _strip(member.linkname, root_prefix)
    size = member.size if kind == "file" else 0
    dev = "%d,%d" % (member.devmajor, member.devminor) if kind in ("chardev", "blockdev") else ""
    return (
        _strip(member.name, root_prefix),
        kind,
        "%o" % (member.mode & 0o7777),
        int(member.uid),
        int(member.gid),
        int(member.mtime),
        int(size),
        link,
        dev,
        data_sha256,
    )


def _entry_line(entry):
    return "\0".join(str(part) for part in entry).encode("utf-8", "surrogateescape") + b"\n"


def tree_digest(fileobj, root_prefix=None, keep_entries=False):
    entries = []
    file_bytes = 0
    with tarfile.open(fileobj=fileobj, mode="r|", errorlevel=2) as tar:
        for member in tar:
            data_hash = ""
            if member.isreg():
                h = hashlib.sha256()
                src = tar.extractfile(member)
                while True:
                    block = src.read(READ_SIZE)
                    if not block:
                        break
                    h.update(block)
                data_hash = h.hexdigest()
                file_bytes += member.size
            entries.append(member_entry(member, data_hash, root_prefix))
    entries.sort(key=lambda e: e[0])
    digest = hashlib.sha256()
    for entry in entries:
        digest.update(_entry_line(entry))
    return TreeDigest(digest.hexdigest(), len(entries), file_bytes, entries if keep_entries else None)


def diff_entries(a_entries, b_entries, limit=20):
    """Say which paths differ between two entry lists (for an operator, not a machine)."""
    fields = ("type", "mode", "uid", "gid", "mtime", "size", "link", "device", "content")
    a = {e[0]: e for e in a_entries}
    b = {e[0]: e for e in b_entries}
    out = []
    for path in sorted(set(a) | set(b)):
        if path not in b:
            out.append("%s: only in the first tree" % (path or "."))
        elif path not in a:
            out.append("%s: only in the second tree" % (path or "."))
        elif a[path] != b[path]:
            changed = [f for f, x, y in zip(fields, a[path][1:], b[path][1:]) if x != y]
            out.append("%s: %s differ" % (path or ".", ", ".join(changed)))
        if len(out) >= limit:
            out.append("... (more differences not listed)")
            break
    return out
