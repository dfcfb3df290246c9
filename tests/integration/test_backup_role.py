"""The backup role on a copy of the demo stack: layout, modes, manifest, and secrets (TARGETS 24, 25)."""
import glob
import io
import json
import os
import shutil
import stat
import subprocess

import pytest

from helpers import DEMO_SRC, ROOT, compose, run_playbook
from test_rollback import backup_playbook

pytestmark = pytest.mark.skipif(
    not os.path.exists(os.path.join(ROOT, "plugins", "modules", "volume_backup.py")),
    reason="needs homeiq.phase0.volume_backup (backup data core)")

SECRET = "demo-secret-token-do-not-leak"


@pytest.fixture(scope="module")
def backed_up(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("backup_role")
    work = tmp / "demo"
    shutil.copytree(DEMO_SRC, work, ignore=shutil.ignore_patterns("backups", "diagnostics", "logs", "reports"))
    (work / "infrastructure").mkdir()
    (work / "infrastructure" / "nginx.conf").write_text("server {}\n")
    name = "p0bk" + os.urandom(3).hex()
    compose(work, "up", "-d", project_name=name)
    out = tmp / "out"
    try:
        proc = run_playbook(backup_playbook(tmp), {"phase0_project_dir": str(work), "phase0_project_name": name,
                                                   "phase0_output_dir": str(out), "backup_save_images": True,
                                                   "backup_trial_restore": True},
                            verbosity=3)
        yield {"proc": proc, "out": str(out), "name": name}
    finally:
        compose(work, "down", "-v", "-t", "2", project_name=name, check=False)


def _backup_dir(out):
    dirs = glob.glob(os.path.join(out, "backups", "phase0_*"))
    assert len(dirs) == 1
    return dirs[0]


def test_backup_set_is_complete_and_private(backed_up):
    assert backed_up["proc"].returncode == 0, backed_up["proc"].stdout[-4000:]
    backup = _backup_dir(backed_up["out"])
    manifest = json.load(open(os.path.join(backup, "manifest.json")))
    assert manifest["complete"] is True and len(manifest["volumes"]) == 7
    sources = {c["source"]: c for c in manifest["configs"]}
    env = [c for s, c in sources.items() if s.endswith("/.env")]
    assert env and env[0]["sensitive"] is True
    assert any(s.endswith("domains/ml/compose.yml") for s in sources)
    assert any(s.endswith("infrastructure/nginx.conf") for s in sources)
    assert manifest["images"] and all(i["snapshot_tag"].endswith(":pre-rebuild") for i in manifest["images"])
    for root, dirs, files in os.walk(backup):
        for d in dirs:
            assert stat.S_IMODE(os.stat(os.path.join(root, d)).st_mode) == 0o700, d
        for f in files:
            assert stat.S_IMODE(os.stat(os.path.join(root, f)).st_mode) == 0o600, f
    check = subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=backup, capture_output=True, check=False, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    # backup.log keeps volume_backup's progress lines (one per volume, with MB/s) before the role's summary.
    with open(os.path.join(backup, "backup.log")) as handle:
        log = handle.read()
    for volume in manifest["volumes"]:
        assert "volume=%s done" % volume["name"] in log, volume["name"]
        # backup_method auto, as root next to the engine: every demo volume is a plain local one.
        assert volume["method"] == "host" and volume["method_reason"] == "running as root on the engine host", volume
        assert "volume=%s method=host (" % volume["name"] in log
    assert log.index("mb_s=") < log.index("# homeiq.phase0 backup ")
    # backup_trial_restore: every volume archive was restored into a scratch volume, counted, and removed.
    verify = json.load(open(os.path.join(backup, "verify.json")))
    assert verify["ok"] is True
    trial = {row["name"]: row for row in verify["trial_restore"]}
    assert set(trial) == {v["name"] for v in manifest["volumes"]}
    assert all(row["ok"] and row["removed"] for row in trial.values()), trial
    left = subprocess.run(["docker", "volume", "ls", "-q", "--filter", "label=homeiq.phase0.trial-restore-of"],
                          capture_output=True, text=True, check=True).stdout.split()
    assert not [v for v in left if any(row["scratch_volume"] == v for row in trial.values())]


def test_secret_only_in_the_private_config_copy(backed_up):
    import zstandard

    backup = _backup_dir(backed_up["out"])
    hits = []
    for root, _dirs, files in os.walk(backed_up["out"]):
        for name in files:
            path = os.path.join(root, name)
            data = open(path, "rb").read()
            if data[:4] == b"\x28\xb5\x2f\xfd":
                data = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
            if SECRET.encode() in data:
                hits.append(os.path.relpath(path, backup))
    assert hits == ["configs/project/.env"]
    assert SECRET not in backed_up["proc"].stdout and SECRET not in backed_up["proc"].stderr
