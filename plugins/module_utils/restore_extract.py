# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host fast path of restore: extract a validated archive into an empty directory, swap directories.

Used only when the module runs as root on the engine host and the volume's Mountpoint is a
plain directory (local driver, no mount options). The archive comes through
restore_stream.ValidatedTarReader, so every member was judged by tar_validate before tarfile
sees it, and the destination is a fresh, empty staging directory: nothing can be written
through a symlink (the validator refuses paths through and over symlinks) or outside it.

Interface:
    extract_into(reader, directory, root_prefix=None) -> dict(members, file_bytes)
        numeric uid/gid (as root), modes including setuid/setgid/sticky, hardlinks, symlinks
        (with their own mtime, set without following them), FIFOs and devices (when the
        validator allowed them), whole-second mtimes; directory attributes are set last.
    is_empty_dir(path) -> bool
    swap_directories(live, staged, old) -> None
        rename live -> old, staged -> live (each an atomic rename on one file system); on a
        failure of the second rename, old is moved back.
    remove_tree(path) -> None   (never follows symlinks)
"""
from __future__ import annotations

import os
import shutil
import tarfile


def _strip_prefix(name, root_prefix):
    if root_prefix and (name == root_prefix or name.startswith(root_prefix + "/")):
        return "." + name[len(root_prefix):]
    return name


def _members(tar, root_prefix, symlinks, counts):
    for member in tar:
        member.name = _strip_prefix(member.name, root_prefix)
        if member.islnk():
            member.linkname = _strip_prefix(member.linkname, root_prefix)
        if member.issym():
            symlinks.append((member.name, member.mtime))
        counts["members"] += 1
        if member.isreg():
            counts["file_bytes"] += member.size
        yield member


def extract_into(reader, directory, root_prefix=None):
    counts = {"members": 0, "file_bytes": 0}
    symlinks = []
    kwargs = {"numeric_owner": True}
    if hasattr(tarfile, "fully_trusted_filter"):
        # Our validator already judged every member; the stricter stdlib filters would clear
        # setuid/setgid/sticky bits and group write, which a faithful restore must keep.
        kwargs["filter"] = "fully_trusted"
    with tarfile.open(fileobj=reader, mode="r|", errorlevel=2) as tar:
        tar.extractall(directory, members=_members(tar, root_prefix, symlinks, counts), **kwargs)
    for name, mtime in symlinks:
        path = os.path.join(directory, name)
        os.utime(path, (mtime, mtime), follow_symlinks=False)
    return counts


def is_empty_dir(path):
    with os.scandir(path) as entries:
        for _entry in entries:
            return False
    return True


def swap_directories(live, staged, old):
    os.rename(live, old)
    try:
        os.rename(staged, live)
    except OSError:
        os.rename(old, live)
        raise


def remove_tree(path):
    if os.path.islink(path) or not os.path.isdir(path):
        if os.path.lexists(path):
            os.unlink(path)
        return
    shutil.rmtree(path)
