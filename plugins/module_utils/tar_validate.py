# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judge every tar member before a single byte of it is written. Pure logic, no I/O.

Our own rules run before any extraction, so restore is safe on Python versions without the
2025 tarfile filter fixes (CVE-2025-4517 and friends) and against the two-archive symlink
attack (CVE-2025-45582), where archive A plants `x -> /` and archive B writes `x/tmp/pwn`.

Interface:
    TarMemberValidator(allow_devices=False, allow_external_symlinks=False, known_symlinks=())
        .check(member) -> normalized relative path ('' is the archive root, 'a/b' otherwise)
            raises UnsafeMember(name, reason) for:
              - an empty name, a NUL in a name or link target, an absolute name, a `..` component;
              - a member whose path goes through a symlink seen earlier (in this archive, or in
                `known_symlinks`: the symlinks already present in the target from an earlier
                archive), or that replaces a symlink or any earlier member (duplicates; a
                directory may repeat a directory);
              - a symlink whose target is absolute or climbs out of the root (unless
                allow_external_symlinks: then it is created but still never written through);
              - a hardlink that is absolute, has `..`, goes through a symlink, or points at a
                member not seen before or at anything but a regular file;
              - a character/block device unless allow_devices; any type other than regular
                file, directory, symlink, hardlink, FIFO (and devices when allowed).
        .symlinks  -> set of normalized symlink paths accepted so far (feed it to the next
                      archive's validator as known_symlinks to chain two archives safely).
    `member` is anything with the tarfile.TarInfo attributes name, linkname, type (a
    tarfile.TarInfo, or archive_tarscan.ScannedMember).
    normalize_member_name(name) -> normalized path or raises UnsafeMember (pure)
    validate_members(members, **validator_options) -> list of (name, reason) problems (all of them)

Ownership is not judged here: the extractor always restores numeric uid/gid (numeric owner),
never names, so `uname=postgres uid=70` gives uid 70 whatever /etc/passwd says.
"""
from __future__ import annotations

import posixpath
import tarfile

REGULAR_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE, tarfile.GNUTYPE_SPARSE)
DEVICE_TYPES = (tarfile.CHRTYPE, tarfile.BLKTYPE)
ALLOWED_TYPES = REGULAR_TYPES + (tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE)

_KIND_FILE = "file"
_KIND_DIR = "dir"
_KIND_SYMLINK = "symlink"
_KIND_OTHER = "other"


class UnsafeMember(ValueError):
    """A member restore must refuse; .name is the member name as written, .reason says why."""

    def __init__(self, name, reason):
        self.name = name
        self.reason = reason
        super().__init__("unsafe tar member %r: %s" % (name, reason))


def _plain_name(name):
    """The common case, decided with a few substring tests: './a/b', 'a/b' or 'a/b/' with no empty,
    '.' or '..' component and no NUL. Returns the normalized path, or None for the full parse."""
    if (not name or name[0] == "/" or "\x00" in name or ".." in name or "//" in name or "/./" in name
            or name.endswith("/.") or name == "."):
        return None
    if name.startswith("./"):
        name = name[2:]
    return name[:-1] if name.endswith("/") else name


def normalize_member_name(name, what="name"):
    """'./a//b/' -> 'a/b'; '.' or './' -> '' (the root). Raises UnsafeMember for hostile names."""
    plain = _plain_name(name)
    if plain is not None:
        return plain
    if name is None or name == "":
        raise UnsafeMember(name, "empty %s" % what)
    if "\x00" in name:
        raise UnsafeMember(name, "NUL byte in %s" % what)
    if name.startswith("/"):
        raise UnsafeMember(name, "absolute %s" % what)
    parts = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise UnsafeMember(name, "'..' in %s" % what)
        parts.append(part)
    return "/".join(parts)


_KINDS = dict([(kind, _KIND_FILE) for kind in REGULAR_TYPES] + [(tarfile.DIRTYPE, _KIND_DIR),
                                                                (tarfile.SYMTYPE, _KIND_SYMLINK)])


def symlink_escapes(path, target):
    """Does symlink `path` (normalized, relative to the root) -> `target` point outside the root?"""
    if target.startswith("/"):
        return True
    depth = len(posixpath.dirname(path).split("/")) if posixpath.dirname(path) else 0
    for part in target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        else:
            depth += 1
    return False


class TarMemberValidator:
    """Stateful per-archive validator (see module doc)."""

    def __init__(self, allow_devices=False, allow_external_symlinks=False, known_symlinks=()):
        self.allow_devices = allow_devices
        self.allow_external_symlinks = allow_external_symlinks
        self.seen = {}  # normalized path -> kind
        self.symlinks = set(known_symlinks)

    def _through_symlink(self, path):
        """The first proper prefix of `path` that is a symlink, or None."""
        if not self.symlinks:
            return None
        parts = path.split("/")
        for index in range(1, len(parts)):
            prefix = "/".join(parts[:index])
            if prefix in self.symlinks:
                return prefix
        return None

    def check(self, member):
        name = member.name
        path = normalize_member_name(name)
        linkname = member.linkname or ""
        if "\x00" in linkname:
            raise UnsafeMember(name, "NUL byte in link target")
        kind = _KINDS.get(member.type, _KIND_OTHER)
        if member.type not in ALLOWED_TYPES:
            if member.type in DEVICE_TYPES:
                if not self.allow_devices:
                    raise UnsafeMember(name, "device file (set allow_devices to restore devices)")
            else:
                raise UnsafeMember(name, "unsupported member type %r" % member.type)
        if path == "":
            if kind != _KIND_DIR:
                raise UnsafeMember(name, "the archive root must be a directory")
            return path
        if self.symlinks:
            via = self._through_symlink(path)
            if via is not None:
                raise UnsafeMember(name, "path goes through symlink %r (write-through-symlink attack)" % via)
            if path in self.symlinks:
                raise UnsafeMember(name, "replaces symlink %r" % path)
        previous = self.seen.get(path)
        if previous is not None and not (previous == _KIND_DIR and kind == _KIND_DIR):
            raise UnsafeMember(name, "duplicate member (would replace an earlier %s)" % previous)
        if member.type == tarfile.SYMTYPE:
            if linkname == "":
                raise UnsafeMember(name, "symlink with an empty target")
            if symlink_escapes(path, linkname) and not self.allow_external_symlinks:
                raise UnsafeMember(name, "symlink target %r points outside the archive root "
                                         "(set allow_external_symlinks to keep it)" % linkname)
            self.symlinks.add(path)
        elif member.type == tarfile.LNKTYPE:
            self._check_hardlink(name, linkname)
            kind = _KIND_FILE
        self.seen[path] = kind
        return path

    def _check_hardlink(self, name, linkname):
        target = normalize_member_name(linkname, "hardlink target") if linkname else ""
        if target == "":
            raise UnsafeMember(name, "hardlink with an empty target")
        via = self._through_symlink(target)
        if via is not None or target in self.symlinks:
            raise UnsafeMember(name, "hardlink target %r goes through a symlink" % linkname)
        previous = self.seen.get(target)
        if previous is None:
            raise UnsafeMember(name, "hardlink to %r, a member not seen before" % linkname)
        if previous != _KIND_FILE:
            raise UnsafeMember(name, "hardlink to %r, which is a %s, not a regular file" % (linkname, previous))


def validate_members(members, **options):
    """Check every member; returns all problems as [(name, reason)] (empty when safe)."""
    validator = TarMemberValidator(**options)
    problems = []
    for member in members:
        try:
            validator.check(member)
        except UnsafeMember as exc:
            problems.append((exc.name, exc.reason))
    return problems
