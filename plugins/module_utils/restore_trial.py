# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Trial restore: prove that each volume archive of a backup restores, without touching live volumes.

Every archive goes, through the same validated stream a rollback uses (every member judged before it
is written, SHA-256 and sizes compared at the end), into a scratch volume created for it through
`put_archive`; the restored tree is counted against the manifest, then the scratch volume is removed
on every path. Scratch volumes carry only TRIAL_LABEL, never Compose's labels, so no project adopts
them.

Interface:
    TRIAL_LABEL
    trial_restore(api, backup_dir, manifest, helper_image, validator_options=None, names=None) -> list of rows
        row: name, archive, scratch_volume, ok, problem, members, file_bytes, seconds, removed
"""
from __future__ import annotations

import os
import time
import uuid

from ansible_collections.homeiq.phase0.plugins.module_utils.restore_engine import create_volume
from ansible_collections.homeiq.phase0.plugins.module_utils.restore_source import expected_from_entry
from ansible_collections.homeiq.phase0.plugins.module_utils.restore_volume import put_into_volume, remove_volume

TRIAL_LABEL = "homeiq.phase0.trial-restore-of"


def trial_restore(api, backup_dir, manifest, helper_image, validator_options=None, names=None):
    run_id = uuid.uuid4().hex[:8]
    rows = []
    for index, entry in enumerate(manifest.get("volumes") or ()):
        if names and entry["name"] not in names:
            continue
        scratch = "p0trial_%s_%02d" % (run_id, index)
        expected = expected_from_entry(entry)
        row = {"name": entry["name"], "archive": entry["archive"], "scratch_volume": scratch, "ok": False, "problem": None,
               "members": None, "file_bytes": None, "seconds": None, "removed": False}
        started = time.monotonic()
        created = False
        try:
            create_volume(api, scratch, "local", {TRIAL_LABEL: entry["name"]})
            created = True
            counted = put_into_volume(api, helper_image, scratch, os.path.join(backup_dir, entry["archive"]),
                                      expected, validator_options or {})
            row.update(ok=True, members=counted.get("members"), file_bytes=counted.get("file_bytes"))
        # any failure of one archive is that archive's verdict; the others are still tried
        except Exception as exc:  # pylint: disable=broad-except
            row["problem"] = " ".join(str(exc).split())[:2000]
        finally:
            row["seconds"] = round(time.monotonic() - started, 3)
            row["removed"] = remove_volume(api, scratch) if created else True
        rows.append(row)
    return rows
