# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files of the build monitor: the log tree, retention, size rotation, JSON lines (stdlib only).

Used by the monitor agent on the target (copied next to it) and by the monitor_* modules.
"""
from __future__ import annotations

import datetime
import json
import os
import re
import tempfile

PHASES = ("phase0", "phase1", "phase2", "phase3", "phase4", "deployment")
KINDS = ("build", "test", "health", "errors")
DEPLOYMENT_EXTRA = ("staging", "production", "rollback")
TREE_PREFIX = "rebuild_"
CURRENT_LINK = "current_rebuild"
_TREE_NAME = re.compile(r"^rebuild_(\d{8})$")

README_TEXT = """# Rebuild logs ({name})

Written by the homeiq.phase0 monitoring role; one tree per rebuild day.

- `<phase>/build/`   build output of that phase (BuildKit plain progress)
- `<phase>/test/`    test runs of that phase
- `<phase>/health/`  `health.jsonl` and `resources.jsonl`, one JSON object per container and sample,
                     `status.json` / `status.html` (latest state, auto-refreshing page)
- `<phase>/errors/`  `errors.jsonl` (error lines found in container logs, each reported once),
                     `summary_<ts>.md` (from aggregate_errors)
- `deployment/{{staging,production,rollback}}/`  deployment logs

`../current_rebuild` points at the tree in use. Trees older than the retention period are removed
by the role, never the current one. Files rotate by size to `<name>.1`, `<name>.2`, ...
"""


def tree_name(day):
    """date -> 'rebuild_YYYYmmdd'."""
    return TREE_PREFIX + day.strftime("%Y%m%d")


def tree_dirs(tree):
    """Every directory of one rebuild tree, relative to the tree root, parents first."""
    dirs = []
    for phase in PHASES:
        dirs.append(phase)
        dirs += [phase + "/" + kind for kind in KINDS]
    dirs += ["deployment/" + extra for extra in DEPLOYMENT_EXTRA]
    return [tree + "/" + d for d in dirs]


def tree_day(name):
    """'rebuild_20260204' -> date(2026, 2, 4); anything else -> None."""
    match = _TREE_NAME.match(name or "")
    if not match:
        return None
    try:
        return datetime.datetime.strptime(match.group(1), "%Y%m%d").date()
    except ValueError:
        return None


def expired_trees(names, today, retention_days, current=None):
    """The rebuild tree names older than retention_days before today, never `current`.

    A tree of day D is expired when (today - D).days > retention_days. retention_days <= 0
    disables retention (nothing is removed).
    """
    if retention_days is None or retention_days <= 0:
        return []
    out = []
    for name in sorted(names):
        day = tree_day(name)
        if day is None or name == current:
            continue
        if (today - day).days > retention_days:
            out.append(name)
    return out


def rotation_plan(path, backups):
    """The renames that rotate `path`: [(path.N-1, path.N), ..., (path, path.1)].

    The oldest backup (path.<backups>) is overwritten by the rename before it. backups < 1
    means the file is truncated instead (empty plan).
    """
    if backups < 1:
        return []
    plan = [("%s.%d" % (path, i - 1), "%s.%d" % (path, i)) for i in range(backups, 1, -1)]
    plan.append((path, path + ".1"))
    return plan


def rotate_if_needed(path, max_bytes, backups, incoming=0):
    """Rotate `path` when appending `incoming` bytes would take it past max_bytes. True if rotated."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return False
    if max_bytes <= 0 or size == 0 or size + incoming <= max_bytes:
        return False
    plan = rotation_plan(path, backups)
    if not plan:
        with open(path, "w"):
            pass
        return True
    for src, dst in plan:
        if os.path.exists(src):
            os.replace(src, dst)
    return True


def append_jsonl(path, records, max_bytes=10 * 1024 * 1024, backups=5):
    """Append records as JSON lines (one write), rotating by size first. Returns lines written."""
    if not records:
        return 0
    data = "".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in records)
    data = data.encode("utf-8")
    rotate_if_needed(path, max_bytes, backups, len(data))
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    return len(records)


def atomic_write(path, text, mode=0o644):
    """Write text to path through a temp file and rename: readers never see half a file."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_jsonl(path, max_bytes=None):
    """Records of a JSON lines file (the last max_bytes only, when given); bad lines skipped."""
    try:
        with open(path, "rb") as handle:
            if max_bytes:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                handle.seek(max(0, size - max_bytes))
                data = handle.read()
                if size > max_bytes:
                    data = data.split(b"\n", 1)[-1]  # drop the partial first line
            else:
                data = handle.read()
    except OSError:
        return []
    out = []
    for line in data.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out
