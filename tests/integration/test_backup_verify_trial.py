"""backup_verify with trial_restore: every archive restored into a scratch volume, counted, removed.

Against the real engine. The scratch volumes carry only the trial label (no Compose labels), and none
is left afterwards, whether the trial passed or failed.
"""
import os
import subprocess

import pytest

from helpers import run_module
from restore_fixtures import make_backup, member, tar_bytes

pytestmark = pytest.mark.integration

ROOT = member(".", "dir", mode=0o755)
TRIAL_LABEL = "homeiq.phase0.trial-restore-of"


def scratch_volumes():
    return subprocess.run(["docker", "volume", "ls", "-q", "--filter", "label=" + TRIAL_LABEL],
                          capture_output=True, text=True, check=True).stdout.split()


def backup_of_two(tmp_path):
    return make_backup(tmp_path, {
        "p0trial_src_db": tar_bytes([ROOT, member("./db", "dir", mode=0o700, uid=70, gid=70),
                                     member("./db/data.bin", data=os.urandom(3 << 20), uid=70, gid=70)]),
        "p0trial_src_conf": tar_bytes([ROOT, member("./app.conf", data=b"port=8086\n")]),
    })


def test_trial_restore_proves_every_archive_and_leaves_no_volume(tmp_path):
    before = scratch_volumes()
    backup = backup_of_two(tmp_path)
    result, _proc = run_module("homeiq.phase0.backup_verify", {"backup_dir": backup, "trial_restore": True})
    assert result["ok"] and not result.get("failed"), result
    rows = {row["name"]: row for row in result["trial_restore"]}
    assert set(rows) == {"p0trial_src_db", "p0trial_src_conf"}
    assert all(row["ok"] and row["removed"] and row["problem"] is None for row in rows.values()), rows
    assert rows["p0trial_src_db"]["file_bytes"] == 3 << 20
    assert rows["p0trial_src_conf"]["file_bytes"] == len(b"port=8086\n")
    assert scratch_volumes() == before

    # Check mode creates nothing and says the trial did not run.
    result, _proc = run_module("homeiq.phase0.backup_verify", {"backup_dir": backup, "trial_restore": True},
                               check=True)
    assert result["ok"] and result["trial_restore"] == [], result
    assert any("trial restore was not run" in w for w in result.get("warnings", [])), result
    assert scratch_volumes() == before


def test_trial_restore_that_breaks_names_the_archive_and_cleans_up(tmp_path):
    before = scratch_volumes()
    backup = backup_of_two(tmp_path)
    # The stream into the scratch volume breaks after 1 MiB: only the 3 MiB archive can fail.
    result, _proc = run_module("homeiq.phase0.backup_verify", {"backup_dir": backup, "trial_restore": True},
                               env={"PHASE0_TEST_RESTORE_ABORT_AFTER_BYTES": str(1 << 20)})
    assert result.get("failed") and result["ok"] is False, result
    assert result["bad_files"] == ["volumes/p0trial_src_db.tar.zst"], result["bad_files"]
    assert any("trial restore failed" in p for p in result["problems"]), result["problems"]
    rows = {row["name"]: row for row in result["trial_restore"]}
    assert rows["p0trial_src_conf"]["ok"] and not rows["p0trial_src_db"]["ok"]
    assert all(row["removed"] for row in rows.values())
    assert scratch_volumes() == before
