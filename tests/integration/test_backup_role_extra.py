"""The backup role on a small compose stack: git capture, non-git projects, full verify, volume selection.

One real compose stack (three busybox services, three volumes, one of them in an include:d compose file)
is backed up twice by the role through a playbook:

1. before it is a git checkout, with an explicit volume list (backup_volumes) and the default quick verify;
2. after `git init` + commit + local changes (a tracked file modified, .env and a *.key file tracked and
   changed to new secret values, an untracked file added), with backup_verify=full and backup_exclude.
"""
import glob
import hashlib
import json
import os
import shutil
import stat
import subprocess

import pytest

from helpers import ROOT, compose, run_playbook
from test_rollback import backup_playbook

from ansible_collections.homeiq.phase0.plugins.module_utils.archive_verify import verify_backup

pytestmark = pytest.mark.skipif(
    not os.path.exists(os.path.join(ROOT, "plugins", "modules", "volume_backup.py")),
    reason="needs homeiq.phase0.volume_backup (backup data core)")

IMAGE = "phase0-fixture/busybox:latest"
LOOP = "trap 'exit 0' TERM; while :; do sleep 0.2; done"
TOKEN = os.urandom(4).hex()
OLD_SECRET = "p0x-old-env-secret-" + TOKEN
NEW_SECRET = "p0x-new-env-secret-" + TOKEN
NEW_PASSWORD = "p0x-new-env-password-" + TOKEN
OLD_KEY = "p0x-old-key-material-" + TOKEN
NEW_KEY = "p0x-new-key-material-" + TOKEN
SECRETS = (OLD_SECRET, NEW_SECRET, NEW_PASSWORD, OLD_KEY, NEW_KEY)
SUBJECT = "Stack baseline " + TOKEN


def _service(volume):
    return ("    image: %s\n    pull_policy: never\n    network_mode: none\n"
            "    command: [\"sh\", \"-c\", \"%s\"]\n    environment:\n      DB_TOKEN: ${DB_TOKEN}\n"
            "    volumes:\n      - %s:/data\n" % (IMAGE, LOOP, volume))


def _write_stack(work):
    (work / "extra").mkdir(parents=True)
    (work / "infrastructure").mkdir()
    (work / "docker-compose.yml").write_text(
        "include:\n  - path: extra/compose.yml\n\nservices:\n  db:\n" + _service("db_data")
        + "  cache:\n" + _service("cache_data") + "\nvolumes:\n  db_data:\n  cache_data:\n")
    (work / "extra" / "compose.yml").write_text(
        "services:\n  scratch:\n" + _service("scratch_data") + "\nvolumes:\n  scratch_data:\n")
    (work / ".env").write_text("DB_TOKEN=%s\n" % OLD_SECRET)
    (work / "infrastructure" / "nginx.conf").write_text("worker_processes 1;\nevents {}\n")
    (work / "infrastructure" / "api.key").write_text(OLD_KEY + "\n")
    (work / "README.md").write_text("mini stack\n")


def _git(work, *args):
    return subprocess.run(["git", "-C", str(work), "-c", "user.name=Phase0 Test", "-c", "user.email=p0@example.invalid",
                           "-c", "commit.gpgsign=false"] + list(args),
                          capture_output=True, text=True, check=True).stdout


def _volume_entries(volume):
    """Entries of a volume as an independent reader sees them (the volume root included)."""
    out = subprocess.run(["docker", "run", "--rm", "--network", "none", "-v", "%s:/data:ro" % volume, IMAGE,
                          "find", "/data"], capture_output=True, text=True, check=True).stdout
    return len(out.splitlines())


def _started_at(container):
    return subprocess.run(["docker", "inspect", "-f", "{{.State.StartedAt}}", container],
                          capture_output=True, text=True, check=True).stdout.strip()


def _backup_dir(out):
    dirs = glob.glob(os.path.join(str(out), "backups", "phase0_*"))
    assert len(dirs) == 1, dirs
    return dirs[0]


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("backup_role_extra")
    work = tmp / "stack"
    _write_stack(work)
    name = "p0bkx" + TOKEN
    vols = dict((short, "%s_%s_data" % (name, short)) for short in ("db", "cache", "scratch"))
    up = compose(work, "up", "-d", project_name=name, check=False)
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        for short, fill in (("db", "mkdir -p /data/sub && seq 1 5000 > /data/rows.txt && echo a > /data/sub/a"),
                            ("cache", "seq 1 300 > /data/cache.txt"),
                            ("scratch", "dd if=/dev/urandom of=/data/big.bin bs=65536 count=4 2>/dev/null")):
            compose(work, "exec", "-T", short, "sh", "-c", fill, project_name=name)
        playbook = backup_playbook(tmp)
        common = {"phase0_project_dir": str(work), "phase0_project_name": name, "backup_images": False}

        # 1. Not a git checkout (GIT_CEILING_DIRECTORIES: no repository above the temp dir can count),
        #    only the db volume, quick verify, no config copies (run 2 checks those; this saves time).
        out1 = tmp / "out_nogit"
        nogit = run_playbook(playbook, dict(common, phase0_output_dir=str(out1), backup_volumes=[vols["db"]],
                                            backup_configs=False),
                             verbosity=1, env={"GIT_CEILING_DIRECTORIES": str(tmp)})

        # 2. A git checkout with local changes; full verify; the scratch volume excluded by its compose short name.
        _git(work, "init", "-q")
        _git(work, "add", "-A")
        _git(work, "commit", "-q", "-m", SUBJECT, "-m", "body line that log -10 --format=%s does not show")
        (work / "infrastructure" / "nginx.conf").write_text("worker_processes 4;\nevents {}\n")
        (work / ".env").write_text("DB_TOKEN=%s\nDB_PASSWORD=%s\n" % (NEW_SECRET, NEW_PASSWORD))
        (work / "infrastructure" / "api.key").write_text(NEW_KEY + "\n")
        (work / "notes-untracked.txt").write_text("todo\n")
        scratch_started = _started_at("%s-scratch-1" % name)
        out2 = tmp / "out_git"
        git = run_playbook(playbook, dict(common, phase0_output_dir=str(out2), backup_verify="full",
                                          backup_exclude=["scratch_*"]),
                           verbosity=3, env={"GIT_CEILING_DIRECTORIES": str(tmp)})
        yield {"work": str(work), "name": name, "vols": vols, "nogit": nogit, "out_nogit": out1, "git": git,
               "out_git": out2, "scratch_started": scratch_started, "scratch_started_after":
               _started_at("%s-scratch-1" % name),
               "entries": dict((short, _volume_entries(vol)) for short, vol in vols.items()),
               "head": _git(work, "rev-parse", "HEAD").strip()}
    finally:
        compose(work, "down", "-v", "-t", "2", "--remove-orphans", project_name=name, check=False)


def _ok(proc):
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]


def _manifest(backup):
    with open(os.path.join(backup, "manifest.json")) as handle:
        return json.load(handle)


def test_git_checkout_is_captured(runs, tmp_path):
    _ok(runs["git"])
    backup = _backup_dir(runs["out_git"])
    gitdir = os.path.join(backup, "git")
    assert _mode(gitdir) == 0o700
    assert sorted(os.listdir(gitdir)) == ["diff.txt", "head.txt", "log.txt", "status.txt"]
    texts = {}
    for name in os.listdir(gitdir):
        assert _mode(os.path.join(gitdir, name)) == 0o600, name
        with open(os.path.join(gitdir, name)) as handle:
            texts[name] = handle.read()

    status = texts["status.txt"].splitlines()
    assert status[0].startswith("## "), status
    assert " M infrastructure/nginx.conf" in status, status
    assert " M .env" in status, status
    assert "?? notes-untracked.txt" in status, status

    log = texts["log.txt"].splitlines()
    assert len(log) == 1 and log[0].startswith(runs["head"] + " ") and log[0].endswith(" " + SUBJECT), log
    assert texts["head.txt"] == runs["head"] + "\n"

    diff = texts["diff.txt"]
    assert "diff --git a/infrastructure/nginx.conf b/infrastructure/nginx.conf" in diff, diff
    assert "\n-worker_processes 1;\n+worker_processes 4;\n" in diff, diff
    assert "notes-untracked" not in diff

    manifest = _manifest(backup)
    git = manifest["git"]
    assert git["checkout"] is True and git["dirty"] is True, git
    assert git["commit"] == runs["head"], git
    assert os.path.realpath(git["toplevel"]) == os.path.realpath(runs["work"]), git
    assert sorted(entry["path"] for entry in git["files"]) == [
        "git/diff.txt", "git/head.txt", "git/log.txt", "git/status.txt"], git
    assert git["errors"] == [], git
    # The captures are covered like every other file: hashed in the manifest and in SHA256SUMS ...
    with open(os.path.join(backup, "SHA256SUMS")) as handle:
        sums = handle.read()
    for entry in git["files"]:
        with open(os.path.join(backup, entry["path"]), "rb") as handle:
            data = handle.read()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data), entry
        assert "%s  %s\n" % (entry["sha256"], entry["path"]) in sums
    # ... so a changed capture is named by verify (on a copy: the other tests read this backup).
    copy = str(tmp_path / os.path.basename(backup))
    shutil.copytree(backup, copy, symlinks=True)
    with open(os.path.join(copy, "git", "diff.txt"), "a") as handle:
        handle.write("+an edit after the backup\n")
    report = verify_backup(copy, "quick")
    assert not report["ok"] and report["bad_files"] == ["git/diff.txt"], report["problems"]
    with open(os.path.join(backup, "backup.log")) as handle:
        assert "commit %s (uncommitted changes, see git/diff.txt)" % runs["head"] in handle.read()


def test_git_diff_and_output_never_hold_sensitive_files(runs):
    """.env and api.key are tracked and changed: git status names them, but no secret reaches git/ or the output."""
    _ok(runs["git"])
    backup = _backup_dir(runs["out_git"])
    with open(os.path.join(backup, "git", "diff.txt")) as handle:
        diff = handle.read()
    assert ".env" not in diff and "api.key" not in diff, diff
    for root, _dirs, files in os.walk(os.path.join(backup, "git")):
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                data = handle.read()
            for secret in SECRETS:
                assert secret.encode() not in data, (name, secret)
    for secret in SECRETS:
        assert secret not in runs["git"].stdout and secret not in runs["git"].stderr, secret
    # The current .env is kept, private and flagged, in the config copy (and only there).
    manifest = _manifest(backup)
    env = [c for c in manifest["configs"] if c["path"] == "configs/project/.env"]
    assert env and env[0]["sensitive"] is True, manifest["configs"]
    key = [c for c in manifest["configs"] if c["path"] == "configs/project/infrastructure/api.key"]
    assert key and key[0]["sensitive"] is True, manifest["configs"]
    with open(os.path.join(backup, "configs", "project", ".env")) as handle:
        assert NEW_SECRET in handle.read()
    assert _mode(os.path.join(backup, "configs", "project", ".env")) == 0o600
    assert any(c["path"] == "configs/project/extra/compose.yml" for c in manifest["configs"]), manifest["configs"]


def test_non_git_project_says_so(runs):
    _ok(runs["nogit"])
    backup = _backup_dir(runs["out_nogit"])
    assert not os.path.exists(os.path.join(backup, "git"))
    git = _manifest(backup)["git"]
    assert git["checkout"] is False, git
    assert "not a git repository" in git["reason"], git
    with open(os.path.join(backup, "backup.log")) as handle:
        assert "\nnot a git checkout (fatal: not a git repository" in handle.read()


def test_explicit_volume_list_backs_up_only_those(runs):
    _ok(runs["nogit"])
    backup = _backup_dir(runs["out_nogit"])
    manifest = _manifest(backup)
    assert [v["name"] for v in manifest["volumes"]] == [runs["vols"]["db"]]
    assert os.listdir(os.path.join(backup, "volumes")) == [runs["vols"]["db"] + ".tar.zst"]
    verify = json.load(open(os.path.join(backup, "verify.json")))
    assert verify["mode"] == "quick" and verify["ok"] is True, verify
    # quick mode: sizes and hashes only, no member walk.
    assert all(row.get("members") is None for row in verify["files"]), verify["files"]


def test_full_verify_through_the_role(runs):
    _ok(runs["git"])
    backup = _backup_dir(runs["out_git"])
    manifest = _manifest(backup)
    verify = json.load(open(os.path.join(backup, "verify.json")))
    assert _mode(os.path.join(backup, "verify.json")) == 0o600
    assert verify["mode"] == "full" and verify["ok"] is True, verify
    assert verify["bad_files"] == [] and verify["problems"] == [], verify
    assert verify["backup_id"] == os.path.basename(backup)
    rows = dict((row["path"], row) for row in verify["files"])
    # Every file the manifest covers was verified, volume archives by a walk of every tar member.
    expected = set(v["archive"] for v in manifest["volumes"]) | set(c["path"] for c in manifest["configs"]) \
        | set(g["path"] for g in manifest["git"]["files"])
    assert set(rows) == expected, (sorted(rows), sorted(expected))
    by_short = {"db": runs["vols"]["db"], "cache": runs["vols"]["cache"]}
    volumes = dict((v["name"], v) for v in manifest["volumes"])
    for short, name in by_short.items():
        row = rows[volumes[name]["archive"]]
        assert row["kind"] == "volume" and row["ok"] is True, row
        # The member count matches the manifest and an independent `find` in the live volume.
        assert row["members"] == volumes[name]["members"] == runs["entries"][short], (short, row, runs["entries"])
        assert row["raw_bytes"] == volumes[name]["raw_bytes"] and row["raw_bytes"] % 512 == 0, row
        assert row["sha256"] == volumes[name]["sha256"], row
    assert all(row["ok"] and row.get("members") is None for row in rows.values() if row["kind"] == "file")


def test_excluded_volume_is_skipped(runs):
    _ok(runs["git"])
    backup = _backup_dir(runs["out_git"])
    manifest = _manifest(backup)
    vols = runs["vols"]
    assert sorted(v["name"] for v in manifest["volumes"]) == sorted([vols["db"], vols["cache"]])
    archives = sorted(os.listdir(os.path.join(backup, "volumes")))
    assert archives == sorted([vols["db"] + ".tar.zst", vols["cache"] + ".tar.zst"]), archives
    with open(os.path.join(backup, "SHA256SUMS")) as handle:
        sums = handle.read()
    assert vols["db"] in sums and vols["scratch"] not in sums
    with open(os.path.join(backup, "backup.log")) as handle:
        log = handle.read()
    assert "%s  excluded (backup_exclude)" % vols["scratch"] in log
    assert "volume=%s done" % vols["db"] in log and "volume=%s " % vols["scratch"] not in log
    # The excluded volume's only writer was not stopped for the backup.
    assert runs["scratch_started_after"] == runs["scratch_started"]
