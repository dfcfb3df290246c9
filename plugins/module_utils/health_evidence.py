# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write diagnosis evidence: private files (0600) in private directories (0700), redacted first.

Files are created with O_CREAT|O_EXCL|O_NOFOLLOW, so a symlink or file planted at an evidence
path is refused instead of followed or overwritten. Evidence is not a commit point, so it is
not fsynced (40 containers x 7 files would cost more than the diagnosis).
"""
from __future__ import annotations

import json
import os
import re

from ansible_collections.homeiq.phase0.plugins.module_utils.atomic_file import (  # noqa: F401  (re-exported)
    ensure_private_dir,
    refuse_symlink,
)

FILE_MODE = 0o600
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_component(name):
    """A directory name made from a service or container name (no separators, no dot-dirs)."""
    cleaned = _SAFE_NAME.sub("_", name or "").strip(".")
    return cleaned or "unnamed"


def write_private(path, data):
    """Create `path` with mode 0600 (whatever the umask) and write `data`; refuse existing paths."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    refuse_symlink(path)
    fd = os.open(path, _FLAGS, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        view = memoryview(data)
        done = 0
        while done < len(view):
            done += os.write(fd, view[done:])
    finally:
        os.close(fd)
    return path


def to_json(value):
    return json.dumps(value, indent=2, sort_keys=True, default=str) + "\n"


class EvidenceDir:
    """One evidence directory; every file it writes goes through the redactor."""

    def __init__(self, path, redactor):
        self.path = os.path.abspath(path)
        self.redactor = redactor
        self.files = []

    def create(self):
        ensure_private_dir(self.path)
        return self

    def write_json(self, name, value):
        return self._write(name, to_json(self.redactor.obj(value)))

    def write_text(self, name, text):
        return self._write(name, self.redactor.text(text or ""))

    def _write(self, name, data):
        path = os.path.join(self.path, name)
        write_private(path, data)
        self.files.append(path)
        return path
