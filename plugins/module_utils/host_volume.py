# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Can this process use a volume's directory on this host instead of the Engine API? (pure)

Shared by the backup's `method: host` (GNU tar reads the directory) and the restore's (the
extractor writes a staging directory next to it), so both refuse for the same reasons, in the
same words:

    engine_refusal(euid, local_engine, remaps_ids, endpoint=None) -> None or a reason (str)
        euid: this process's effective uid; local_engine: the engine is on a unix socket here;
        remaps_ids: docker_client.remaps_ids (True, False, or None when docker info failed);
        endpoint: named in the reason when the engine is remote.
    volume_refusal(driver, options) -> None or a reason (str)
        driver: the volume's driver; options: its driver options (a dict, or True when only their
        presence is known). A local volume with options (NFS, CIFS, tmpfs, bind) is a mount made
        only while a container uses it, so its directory on the host is not its content.
    read_mountinfo(path='/proc/self/mountinfo') -> its text, or None when it cannot be read
    mounts_under(directory, mountinfo, include_self=False) -> sorted mount points below directory
        (and the directory itself with include_self), from a mountinfo text. The engine mounts a
        volume into containers recursively, so its archive holds what is mounted inside the
        directory; GNU tar on the directory and a rename of it would not treat those mounts the same.
    mounts_refusal(directory, mountinfo, include_self=False) -> None or a reason (str); None
        mountinfo (unknown) is a reason too.
"""
from __future__ import annotations

import os
import re

_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


def engine_refusal(euid, local_engine, remaps_ids, endpoint=None):
    if euid != 0:
        return "the module does not run as root"
    if not local_engine:
        return "the engine is not on this host (%s is not a unix socket)" % (endpoint or "its address")
    if remaps_ids is None:
        return "the engine's security options are unknown (docker info failed)"
    if remaps_ids:
        return ("the engine remaps user ids (userns-remap or rootless), so the owners in the volume's "
                "directory are not the ones in the engine's archives")
    return None


def volume_refusal(driver, options):
    if driver != "local":
        return "the volume driver is %s, not local" % driver
    if options:
        names = " (%s)" % ", ".join(sorted(options)) if isinstance(options, dict) else ""
        return "the local volume has driver options%s: a mount made only while a container runs" % names
    return None


def read_mountinfo(path="/proc/self/mountinfo"):
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "surrogateescape")
    except OSError:
        return None


def _mount_points(mountinfo):
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        if len(fields) > 4:
            # The kernel writes space, tab, newline and backslash as \040, \011, \012, \134.
            yield _OCTAL_ESCAPE.sub(lambda match: chr(int(match.group(1), 8)), fields[4])


def mounts_under(directory, mountinfo, include_self=False):
    root = directory.rstrip("/") or "/"
    prefix = root if root == "/" else root + "/"
    found = set()
    for point in _mount_points(mountinfo):
        if point.startswith(prefix) and point != root or (include_self and point == root):
            found.add(point)
    return sorted(found)


def mounts_refusal(directory, mountinfo, include_self=False):
    if mountinfo is None:
        return "the mount table (/proc/self/mountinfo) cannot be read, so mounts inside the volume's directory are unknown"
    points = mounts_under(os.path.realpath(directory), mountinfo, include_self)
    if not points:
        return None
    shown = ", ".join(points[:3]) + (" and %d more" % (len(points) - 3) if len(points) > 3 else "")
    return ("a file system is mounted %s the volume's directory (%s); the engine's view of the volume "
            "includes it" % ("at or inside" if include_self else "inside", shown))
