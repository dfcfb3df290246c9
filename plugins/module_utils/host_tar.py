# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""volume_backup's method host: GNU tar reads the volume's directory on the engine host.

The Engine API path costs the engine about 2.5 CPU-seconds per GB here (it builds the tar in a
re-executed child and copies it into the HTTP response); GNU tar reading the same directory costs
about 0.5. On 2 cores that leaves zstd a core of its own (docs/benchmarks.md). The stream is the
same kind of archive the engine sends: members `./...`, numeric owners, whole-second mtimes,
`security.capability` as a PAX xattr, sorted by name (Go's filepath.Walk order), no sparse holes.

It is used only when every check below passes, else the backup falls back to the API:
    the module runs as root, the engine is local (unix socket) and does not remap user ids
    (userns-remap or rootless: its archive holds the container's ids, the directory the host's),
    the volume uses the `local`
    driver without options (an NFS/CIFS/bind `local` volume is only mounted while a container runs,
    so its directory could be an empty stand-in), the Mountpoint is a real directory (not a
    symlink), GNU tar >= 1.28 is installed, and the engine's own stat of the volume root, seen by
    the helper container, has the same mtime (nanoseconds) and mode as the directory here: the
    directory is that engine's volume, not a same-named one of another engine on this host.

Interface:
    GNU_TAR_ARGS                            the options after `tar` (the cwd is given by -C)
    gnu_tar_version(executable='tar') -> (major, minor) or None
    parse_engine_time(text) -> int ns        RFC 3339 with nanoseconds, as the engine sends it
    mountpoint_refusal(facts, check_identity=True) -> None or a reason (str)
        facts: euid, local_engine, remaps_ids (docker_client.remaps_ids; None: unknown), driver, driver_options, mountpoint,
               mountinfo (host_volume.read_mountinfo: a mount inside the directory is refused), tar_version,
               lstat (os.stat_result or None), engine_stat (the path-stat header dict or None),
               engine_stat_error (why there is none, optional)
    HostTarChunks(mountpoint, chunk_size=1 MiB, executable='tar')
        iterate once: chunks of the tar stream (bytes-like: a full chunk is a fresh bytearray,
        never reused); raises HostTarError if tar fails (exit >= 2 or a
        signal, or exit 1 because a file shrank: tar pads it with zeros), with its first stderr lines.
        .warnings: lines of a run that exited 1 otherwise (a file changed or vanished while it was
        read; the caller records the copy as not consistent). .close() ends tar on every path.
    HostTarError(RuntimeError)
"""
from __future__ import annotations

import calendar
import errno
import os
import re
import stat
import subprocess
import tempfile

from ansible_collections.homeiq.phase0.plugins.module_utils.host_volume import (
    engine_refusal, mounts_refusal, volume_refusal)

CHUNK_SIZE = 1 << 20
MIN_TAR_VERSION = (1, 28)  # --sort=name
# Names, owners and mtimes as the engine writes them: `./` members, numeric ids, no atime/ctime
# and no sub-second mtime records (the restore keeps whole seconds), stable PAX header names.
# No --one-file-system: the engine mounts a volume recursively, so its archive crosses into a
# file system mounted inside the directory, and tar must too (mountpoint_refusal sends a
# volume with such a mount to the Engine API; this covers one mounted while tar runs).
GNU_TAR_ARGS = (
    "--numeric-owner", "--sort=name", "--format=pax",
    "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime,delete=mtime",
    "--xattrs", "--xattrs-include=security.capability",
    "-cf", "-", ".")
F_SETPIPE_SZ = 1031
_TIME = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")
_VERSION = re.compile(r"\(GNU tar\)\s+(\d+)\.(\d+)")
_GO_MODE_DIR = 1 << 31


class HostTarError(RuntimeError):
    pass


def gnu_tar_version(executable="tar"):
    try:
        output = subprocess.run([executable, "--version"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(output.decode("utf-8", "replace").split("\n", 1)[0])
    return (int(match.group(1)), int(match.group(2))) if match else None


def parse_engine_time(text):
    match = _TIME.match(text or "")
    if not match:
        raise ValueError("not an RFC 3339 time: %r" % (text,))
    fields = [int(part) for part in match.groups()[:6]]
    seconds = calendar.timegm(tuple(fields) + (0, 0, 0))
    zone = match.group(8)
    if zone != "Z":
        offset = int(zone[1:3]) * 3600 + int(zone[4:6]) * 60
        seconds -= offset if zone[0] == "+" else -offset
    fraction = (match.group(7) or "").ljust(9, "0")
    return seconds * 10 ** 9 + int(fraction)


def mountpoint_refusal(facts, check_identity=True):
    """Why the volume cannot be read from its directory here (None: it can).

    check_identity=False leaves out the comparison with the engine's stat (before a helper exists)."""
    refusal = engine_refusal(facts.get("euid"), facts.get("local_engine"), facts.get("remaps_ids")) \
        or volume_refusal(facts.get("driver"), facts.get("driver_options"))
    if refusal is not None:
        return refusal
    mountpoint = facts.get("mountpoint")
    if not mountpoint or not os.path.isabs(mountpoint):
        return "the engine reports no absolute Mountpoint"
    lstat = facts.get("lstat")
    if lstat is None or not stat.S_ISDIR(lstat.st_mode):
        return "the Mountpoint %s is not a directory on this host" % mountpoint
    refusal = mounts_refusal(mountpoint, facts.get("mountinfo"))
    if refusal is not None:
        return refusal
    version = facts.get("tar_version")
    if version is None or tuple(version) < MIN_TAR_VERSION:
        return "GNU tar >= %d.%d is not installed" % MIN_TAR_VERSION
    if not check_identity:
        return None
    engine_stat = facts.get("engine_stat") or {}
    try:
        engine_ns = parse_engine_time(engine_stat.get("mtime"))
        engine_mode = int(engine_stat.get("mode"))
    except (TypeError, ValueError):
        return "the engine did not report the volume root's stat%s" % (
            " (%s)" % facts["engine_stat_error"] if facts.get("engine_stat_error") else "")
    if engine_ns != lstat.st_mtime_ns or not engine_mode & _GO_MODE_DIR \
            or engine_mode & 0o777 != lstat.st_mode & 0o777:
        return "the directory %s is not the engine's volume (mtime or mode differ)" % mountpoint
    return None


class HostTarChunks:
    """GNU tar's stream of one directory, in chunks of chunk_size."""

    def __init__(self, mountpoint, chunk_size=CHUNK_SIZE, executable="tar"):
        self.warnings = []
        self._chunk_size = chunk_size
        self._stderr = tempfile.TemporaryFile()  # a file, so tar can never block on a full stderr pipe
        try:
            # LC_ALL=C: names pass as raw bytes, as the engine writes them (another charset would be
            # converted to UTF-8 in the PAX records), and tar's messages stay parseable.
            self._process = subprocess.Popen(
                [executable, "-C", mountpoint] + list(GNU_TAR_ARGS), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=self._stderr, close_fds=True, bufsize=0,
                env=dict(os.environ, LC_ALL="C"))
        except OSError as exc:
            self._stderr.close()
            raise HostTarError("could not run %s: %s" % (executable, exc))
        try:
            # 1 MiB pipe: one read per chunk instead of sixteen (best effort, Linux only).
            import fcntl
            fcntl.fcntl(self._process.stdout.fileno(), F_SETPIPE_SZ, chunk_size)
        except (ImportError, OSError):
            pass

    def __iter__(self):
        fd = self._process.stdout.fileno()
        size = self._chunk_size
        try:
            while True:
                buffer = bytearray(size)
                view = memoryview(buffer)
                filled = 0
                while filled < size:
                    count = os.readv(fd, [view[filled:]])
                    if not count:
                        break
                    filled += count
                if not filled:
                    break
                # A fresh bytearray per chunk, handed on without a copy (bytes() of it cost
                # 0.25 s per GB here); nothing writes to it after this.
                yield buffer if filled == size else bytes(view[:filled])
                if filled < size:
                    break
            self._finish()
        finally:
            self.close()

    def _stderr_lines(self):
        self._stderr.seek(0)
        text = self._stderr.read(8192).decode("utf-8", "replace")
        return [line for line in text.splitlines() if line.strip()][:10]

    def _finish(self):
        code = self._process.wait()
        if code == 1:
            lines = self._stderr_lines()
            shrank = [line for line in lines if "shrank" in line]
            if shrank:
                # tar keeps the size it announced and pads with zeros: bytes that were never in the
                # volume, under a valid checksum. The Engine API's stream breaks there instead.
                raise HostTarError("a file shrank while GNU tar read it, so its copy would end in zeros that "
                                   "were never in the volume: %s. Stop or pause its writers (consistency stop "
                                   "or pause) or use method api" % "; ".join(shrank[:3]))
            self.warnings = lines or ["tar exited 1 (a file changed while it was read)"]
        elif code != 0:
            lines = self._stderr_lines()
            raise HostTarError("GNU tar failed (%s): %s" % (
                "exit %d" % code if code > 0 else "signal %d" % -code, "; ".join(lines) or "no message"))

    def close(self):
        process = self._process
        if process.poll() is None:
            try:
                process.kill()
            except OSError as exc:
                if exc.errno != errno.ESRCH:
                    raise
            process.wait()
        process.stdout.close()
        self._stderr.close()
