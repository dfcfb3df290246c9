# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore side: stream a volume archive into a private staging directory, safely and faithfully.

The restore role extracts into a staging directory, checks the result, and only then swaps it
in, so an aborted restore never touches live data (the caller removes the staging directory
when this raises). Every member is judged by tar_validate before any of its bytes is written;
with prevalidate=True (the default) the whole archive is judged in a first pass, so a hostile
member anywhere means nothing at all is written.

Defences in depth beyond the validator: files are created with O_CREAT|O_EXCL|O_NOFOLLOW, every
parent directory on disk is lstat()ed (an existing symlink in the target, e.g. planted by an
earlier archive, CVE-2025-45582, is refused), hardlinks are made with follow_symlinks=False,
symlinks are never followed.

Metadata (TARGETS 18/19): numeric uid/gid always (uname/gname are ignored, so a host user named
`postgres` with uid 1001 never captures uid 70), mode including setgid/sticky on directories
(setuid/setgid on files only with keep_setuid), whole-second mtime, hardlink structure,
symlinks (lchown, mtime without following), FIFOs, devices with allow_devices,
security.capability when present in the archive. Ownership needs root; without it files belong
to the caller and the result says owners_restored: false. Directory metadata is applied last,
deepest first, so read-only directories and their mtimes come out right.

Interface:
    extract_archive(archive_path, staging_dir, allow_devices=False, allow_external_symlinks=False,
                    keep_setuid=False, prevalidate=True, expected=None, progress=None,
                    apply_root=True, chunk_size=1 MiB, hash_raw=True) -> dict(members, file_bytes,
                    raw_bytes, raw_sha256, sha256, bytes, codec, owners_restored, xattrs_restored,
                    duration_s)
        expected: a manifest volume entry; its sha256 / bytes / raw_sha256 / raw_bytes / members
                  are checked after extraction and a mismatch raises ExtractError (staging must
                  then be discarded).
        hash_raw=False: no SHA-256 of the raw tar (raw_sha256 is None and not compared), for a
                  caller whose scan already proved it; the compressed hash still pins the bytes.
        raises tar_validate.UnsafeMember, archive_tarscan.TarFormatError/TruncatedArchive,
               archive_codec.CodecError, ExtractError, OSError.
    extract_stream(raw_chunks, staging_dir, ...) -> same facts without compressed ones
        (raw tar chunks in; e.g. to pre-stage from get_archive).
    prevalidate_archive(archive_path, allow_devices=False, allow_external_symlinks=False)
        -> member count; raises UnsafeMember for the first hostile member (no writes).
"""
from __future__ import annotations

import os
import stat
import tarfile
import time

from ansible_collections.homeiq.phase0.plugins.module_utils.archive_codec import (
    DecompressingReader, detect_codec)
from ansible_collections.homeiq.phase0.plugins.module_utils.archive_threads import (
    BackgroundHasher, Prefetcher, ThreadedFileReader)
from ansible_collections.homeiq.phase0.plugins.module_utils.archive_tarscan import TarScanner
from ansible_collections.homeiq.phase0.plugins.module_utils.tar_validate import (
    REGULAR_TYPES, TarMemberValidator, UnsafeMember)

CHUNK_SIZE = 1 << 20
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_CAPABILITY_KEY = "SCHILY.xattr.security.capability"


class ExtractError(Exception):
    pass


def _open_archive(path):
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    handle = os.fdopen(fd, "rb", buffering=0)
    codec = detect_codec(handle.read(8))
    handle.seek(0)
    return handle, codec


def _raw_chunks(reader, chunk_size):
    while True:
        data = reader.read(chunk_size)
        if not data:
            return
        yield data


def prevalidate_archive(archive_path, allow_devices=False, allow_external_symlinks=False, chunk_size=CHUNK_SIZE):
    """First pass: judge every member without writing anything; returns the member count."""
    validator = TarMemberValidator(allow_devices=allow_devices, allow_external_symlinks=allow_external_symlinks)

    def check(member):
        _reject_unsupported(member)
        validator.check(member)

    scanner = TarScanner(on_member=check)
    handle, codec = _open_archive(archive_path)
    with handle:
        for chunk in _raw_chunks(DecompressingReader(handle, codec, chunk_size), chunk_size):
            scanner.feed(chunk)
    scanner.finish()
    return scanner.members


def _reject_unsupported(member):
    pax = member.pax_headers
    if member.type == tarfile.GNUTYPE_SPARSE or (pax and any(key.startswith("GNU.sparse.") for key in pax)):
        raise UnsafeMember(member.name, "sparse members are not supported (the Engine API never writes them)")


class _FileSink:
    """Receives one regular file's data (see TarScanner sinks) and applies its metadata."""

    def __init__(self, extractor, path, member):
        self.extractor = extractor
        self.member = member
        self.fd = os.open(path, _CREATE_FLAGS, 0o600)

    def write(self, view):
        done, total = 0, len(view)
        while done < total:
            done += os.write(self.fd, view[done:])

    def close(self):
        fd, self.fd = self.fd, None
        try:
            self.extractor.apply_metadata(fd, None, self.member, is_file=True)
        finally:
            os.close(fd)


class _Extractor:
    def __init__(self, staging_dir, allow_devices, allow_external_symlinks, keep_setuid, apply_root):
        self.root = os.path.abspath(staging_dir)
        # Member paths are normalized (no leading '/', no '.' or '..'), so joining is concatenation.
        self.root_slash = self.root.rstrip("/") + "/"
        info = os.lstat(self.root)
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
            raise ExtractError("staging directory %s must be a real directory" % self.root)
        self.validator = TarMemberValidator(allow_devices=allow_devices,
                                            allow_external_symlinks=allow_external_symlinks)
        self.keep_setuid = keep_setuid
        self.apply_root = apply_root
        self.as_root = hasattr(os, "geteuid") and os.geteuid() == 0
        self.verified_dirs = set([""])
        self.deferred_dirs = []
        self.xattrs_restored = 0

    def _ensure_parents(self, relpath):
        parent = relpath.rpartition("/")[0]
        if parent in self.verified_dirs:
            return
        parts = parent.split("/")
        for index in range(1, len(parts) + 1):
            prefix = "/".join(parts[:index])
            if prefix in self.verified_dirs:
                continue
            full = self.root_slash + prefix
            try:
                info = os.lstat(full)
            except FileNotFoundError:
                os.mkdir(full, 0o700)
            else:
                if stat.S_ISLNK(info.st_mode):
                    raise UnsafeMember(relpath, "parent %r is a symlink on disk (write-through-symlink attack)" % prefix)
                if not stat.S_ISDIR(info.st_mode):
                    raise UnsafeMember(relpath, "parent %r exists on disk and is not a directory" % prefix)
            self.verified_dirs.add(prefix)

    def _mode(self, member, is_file):
        mode = member.mode & 0o7777
        if is_file and not self.keep_setuid:
            mode &= ~(stat.S_ISUID | stat.S_ISGID)
        return mode

    def apply_metadata(self, fd, path, member, is_file=False):
        """chown (numeric) before chmod (chown clears setuid), then mtime; by fd when we have one."""
        mode = self._mode(member, is_file)
        mtime_ns = int(member.mtime) * 1000000000
        target = fd if fd is not None else path
        if self.as_root:
            os.chown(target, member.uid, member.gid)
        if fd is not None and is_file and self.as_root:
            self._capability(fd, member)
        os.chmod(target, mode)
        os.utime(target, ns=(mtime_ns, mtime_ns))

    def _capability(self, fd, member):
        pax = member.pax_headers
        value = pax.get(_CAPABILITY_KEY) if pax else None
        if value is None or not hasattr(os, "setxattr"):
            return
        try:
            os.setxattr(fd, "security.capability", value.encode("utf-8", "surrogateescape"))
            self.xattrs_restored += 1
        except OSError:
            pass

    def on_member(self, member):
        _reject_unsupported(member)
        relpath = self.validator.check(member)
        if relpath == "":
            if self.apply_root:
                self.deferred_dirs.append((0, self.root, member))
            return None
        self._ensure_parents(relpath)
        full = self.root_slash + relpath
        kind = member.type
        if kind in REGULAR_TYPES:
            return _FileSink(self, full, member)
        if kind == tarfile.DIRTYPE:
            try:
                os.mkdir(full, 0o700)
            except FileExistsError:
                info = os.lstat(full)
                if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
                    raise UnsafeMember(member.name, "exists on disk and is not a directory")
            self.verified_dirs.add(relpath)
            self.deferred_dirs.append((relpath.count("/") + 1, full, member))
        elif kind == tarfile.SYMTYPE:
            os.symlink(member.linkname, full)
            if self.as_root:
                os.lchown(full, member.uid, member.gid)
            mtime_ns = int(member.mtime) * 1000000000
            os.utime(full, ns=(mtime_ns, mtime_ns), follow_symlinks=False)
        elif kind == tarfile.LNKTYPE:
            source = self.root_slash + self.validator_target(member)
            os.link(source, full, follow_symlinks=False)
        elif kind == tarfile.FIFOTYPE:
            os.mkfifo(full, 0o600)
            self._special_metadata(full, member)
        elif kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
            kind_bits = stat.S_IFCHR if kind == tarfile.CHRTYPE else stat.S_IFBLK
            os.mknod(full, 0o600 | kind_bits, os.makedev(member.devmajor, member.devminor))
            self._special_metadata(full, member)
        return None

    @staticmethod
    def validator_target(member):
        return "/".join(part for part in member.linkname.split("/") if part not in ("", "."))

    def _special_metadata(self, full, member):
        info = os.lstat(full)
        if stat.S_ISLNK(info.st_mode):  # cannot happen in a private staging dir; refuse anyway
            raise UnsafeMember(member.name, "became a symlink while restoring")
        self.apply_metadata(None, full, member)

    def finish(self):
        for dummy, full, member in sorted(self.deferred_dirs, key=lambda item: -item[0]):
            self.apply_metadata(None, full, member)


def extract_stream(raw_chunks, staging_dir, allow_devices=False, allow_external_symlinks=False,
                   keep_setuid=False, progress=None, apply_root=True, hash_raw=True):
    """Extract raw tar chunks into staging_dir (see module doc); returns the facts."""
    started = time.monotonic()
    extractor = _Extractor(staging_dir, allow_devices, allow_external_symlinks, keep_setuid, apply_root)
    scanner = TarScanner(on_member=extractor.on_member)
    digest = BackgroundHasher() if hash_raw else None  # the raw hash beside the writes, on the other core
    raw_sha256 = None
    try:
        for chunk in raw_chunks:
            if digest is not None:
                digest.update(chunk)
            scanner.feed(chunk)
            if progress is not None:
                progress(scanner.raw_bytes)
        scanner.finish()
        extractor.finish()
    finally:
        if digest is not None:
            raw_sha256 = digest.hexdigest()
    return {"members": scanner.members, "file_bytes": scanner.file_bytes, "raw_bytes": scanner.raw_bytes,
            "raw_sha256": raw_sha256, "owners_restored": extractor.as_root,
            "xattrs_restored": extractor.xattrs_restored,
            "duration_s": round(time.monotonic() - started, 3)}


def extract_archive(archive_path, staging_dir, allow_devices=False, allow_external_symlinks=False,
                    keep_setuid=False, prevalidate=True, expected=None, progress=None, apply_root=True,
                    chunk_size=CHUNK_SIZE, hash_raw=True):
    """Extract a (compressed) volume archive into staging_dir (see module doc)."""
    if prevalidate:
        prevalidate_archive(archive_path, allow_devices, allow_external_symlinks, chunk_size)
    handle, codec = _open_archive(archive_path)
    # The file is read and its compressed hash taken in a thread of its own (closes the handle).
    hashed = ThreadedFileReader(handle, chunk_size)
    chunks = None
    try:
        # Decompression in a thread too, so this one only walks the tar and makes the files.
        chunks = Prefetcher(_raw_chunks(DecompressingReader(hashed, codec, chunk_size), chunk_size))
        facts = extract_stream(chunks, staging_dir, allow_devices, allow_external_symlinks, keep_setuid,
                               progress, apply_root, hash_raw)
        while hashed.read(chunk_size):
            pass  # hash any trailing bytes the decompressor did not need
    finally:
        if chunks is not None:
            chunks.close()
        hashed.close()
    facts.update(codec=codec, sha256=hashed.sha256, bytes=hashed.bytes)
    if expected:
        mismatches = ["%s %s, manifest says %s" % (key, facts[key], expected[key])
                      for key in ("sha256", "bytes", "raw_sha256", "raw_bytes", "members")
                      if expected.get(key) is not None and facts.get(key) != expected[key]
                      and (hash_raw or key != "raw_sha256")]
        if mismatches:
            raise ExtractError("archive %s does not match its manifest entry: %s; discard the staging "
                               "directory" % (archive_path, "; ".join(mismatches)))
    return facts
