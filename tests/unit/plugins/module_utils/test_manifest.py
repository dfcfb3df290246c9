"""manifest: schema, SHA256SUMS that `sha256sum -c` accepts, MANIFEST.md from the manifest, and the
manifest as the commit point (TARGET 5: no complete manifest -> the backup does not exist)."""
import hashlib
import json
import os
import shutil
import stat
import subprocess

import shlex

import jinja2
import jinja2.nodes
import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.splitter import parse_kv
from ansible.template import Templar

from ansible_collections.homeiq.phase0.plugins.module_utils.manifest import (
    SCHEMA, IncompleteBackup, ManifestError, build_manifest, check_files, latest_backup, list_backups,
    load_manifest, manifest_files, parse_sha256sums, render_guide, render_sha256sums, resolve_backup_dir,
    rollback_command, write_backup_manifest)

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core < 2.19 trusts every template
    def trust_as_template(value):
        return value

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
ROLLBACK_YML = os.path.join(ROOT, "playbooks", "rollback.yml")


def make_dir(root, backup_id, files=None):
    backup_dir = os.path.join(str(root), backup_id)
    os.makedirs(os.path.join(backup_dir, "volumes"))
    entries = []
    for name, data in (files or {"app_data": b"tar bytes"}).items():
        rel = "volumes/%s.tar.zst" % name
        with open(os.path.join(backup_dir, rel), "wb") as handle:
            handle.write(data)
        entries.append({"name": name, "archive": rel, "sha256": hashlib.sha256(data).hexdigest(),
                        "bytes": len(data), "labels": {"com.docker.compose.project": "p"}, "driver": "local",
                        "consistency": "stop", "compression": "zstd", "raw_bytes": 10240, "members": 3,
                        "helper_image": "busybox:latest"})
    return backup_dir, entries


def test_build_manifest_has_the_contract_fields(tmp_path):
    dummy, volumes = make_dir(tmp_path, "phase0_20260204_111804")
    manifest = build_manifest("phase0_20260204_111804", "homeiq", volumes,
                              configs=[{"path": "configs/.env", "sha256": "0" * 64, "bytes": 3}],
                              images=[{"repository": "r", "tag": "t", "id": "sha256:x", "snapshot_tag": "r:pre"}],
                              git={"commit": "abc"}, host="h")
    for key in ("schema", "backup_id", "created", "host", "project", "volumes", "configs", "images", "git"):
        assert key in manifest
    assert manifest["schema"] == SCHEMA and manifest["complete"] is True
    assert manifest["preserves"]["xattrs"] is False and manifest["preserves"]["sparse"] is False
    assert [item[0] for item in manifest_files(manifest)] == ["volumes/app_data.tar.zst", "configs/.env"]


GIT_ENTRY = {"path": "git/diff.txt", "sha256": "1" * 64, "bytes": 12}


@pytest.mark.parametrize("files, covered, error", [
    # Hashed captures are covered by SHA256SUMS and verify like any other file.
    ([GIT_ENTRY, dict(GIT_ENTRY, path="git/head.txt")], ["git/diff.txt", "git/head.txt"], None),
    # A manifest written before the captures were hashed lists bare paths: valid, not covered.
    (["git/status.txt", "git/diff.txt"], [], None),
    ([dict(GIT_ENTRY, sha256="nothex")], None, "git.files\\[0\\].sha256"),
    ([dict(GIT_ENTRY, path="../x.txt")], None, "git.files\\[0\\].path"),
    (["/etc/passwd"], None, "git.files\\[0\\]"),
    ([dict(GIT_ENTRY, path="configs/.env")], None, "two entries name the same file: configs/.env"),
])
def test_git_capture_entries(files, covered, error):
    args = ("phase0_20260204_111804", "p", [], [{"path": "configs/.env", "sha256": "0" * 64, "bytes": 3}])
    if error:
        with pytest.raises(ManifestError, match=error):
            build_manifest(*args, git={"checkout": True, "files": files})
        return
    manifest = build_manifest(*args, git={"checkout": True, "files": files})
    assert [item[0] for item in manifest_files(manifest)] == ["configs/.env"] + covered
    sums = render_sha256sums(manifest)
    for path in covered:
        assert "%s  %s\n" % ("1" * 64, path) in sums


@pytest.mark.parametrize("mutate,message", [
    (lambda v: v.pop("sha256"), "lacks sha256"),
    (lambda v: v.update(archive="../escape.tar"), "relative"),
    (lambda v: v.update(archive="/abs.tar"), "relative"),
    (lambda v: v.update(sha256="XYZ"), "64 lowercase hex"),
    (lambda v: v.update(bytes=-1), "non-negative"),
    (lambda v: v.update(consistency="maybe"), "consistency"),
])
def test_invalid_volume_entries_are_refused(tmp_path, mutate, message):
    dummy, volumes = make_dir(tmp_path, "phase0_20260204_111804")
    mutate(volumes[0])
    with pytest.raises(ManifestError, match=message):
        build_manifest("phase0_20260204_111804", "p", volumes)


def test_bad_backup_id_and_duplicates_are_refused(tmp_path):
    dummy, volumes = make_dir(tmp_path, "phase0_20260204_111804")
    with pytest.raises(ManifestError, match="backup_id"):
        build_manifest("backup-1", "p", volumes)
    with pytest.raises(ManifestError, match="same file"):
        build_manifest("phase0_20260204_111804", "p", volumes + volumes)


def test_written_backup_verifies_with_sha256sum(tmp_path):
    backup_dir, volumes = make_dir(tmp_path, "phase0_20260204_111804", {"a": b"one", "b": b"two" * 1000})
    manifest = build_manifest("phase0_20260204_111804", "p", volumes)
    written = list(write_backup_manifest(backup_dir, manifest))
    assert [os.path.basename(path) for path in written] == ["SHA256SUMS", "MANIFEST.md", "manifest.json"]
    for path in written:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    proc = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=backup_dir, capture_output=True, check=False, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert load_manifest(backup_dir) == json.loads(json.dumps(manifest))


def test_sha256sums_escapes_odd_names_like_gnu():
    manifest = {"volumes": [], "images": [],
                "configs": [{"path": "configs/we\\ird\nname", "sha256": "a" * 64, "bytes": 1}]}
    text = render_sha256sums(manifest)
    assert text.startswith("\\" + "a" * 64)
    assert parse_sha256sums(text) == [("a" * 64, "configs/we\\ird\nname")]


def test_guide_names_exact_commands(tmp_path):
    backup_dir, volumes = make_dir(tmp_path, "phase0_20260204_111804")
    manifest = build_manifest("phase0_20260204_111804", "homeiq", volumes)
    guide = render_guide(manifest, backup_dir)
    assert "sha256sum -c SHA256SUMS" in guide
    assert "homeiq.phase0.backup_verify" in guide and "mode=full" in guide
    assert "phase0_backup_id=phase0_20260204_111804" in guide
    assert "zstd -dc %s/volumes/app_data.tar.zst | docker run --rm -i --network none -v app_data:/data " \
           "busybox:latest tar -xpf - --numeric-owner -C /data" % backup_dir in guide


def _restore_command(guide):
    """The one command line in the guide's 'Restore everything' block."""
    block = guide.split("## Restore everything", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    lines = block.strip().splitlines()
    assert len(lines) == 1, block
    return lines[0]


def _extra_vars(command):
    """The playbook and extra vars ansible-playbook makes of the command (its -e rules: JSON/YAML or key=value)."""
    argv = shlex.split(command)
    assert argv[0] == "ansible-playbook"
    extra, playbook, args = {}, None, iter(argv[1:])
    for arg in args:
        if arg == "-e":
            value = next(args)
            extra.update(yaml.safe_load(value) if value.startswith(("{", "[")) else parse_kv(value))
        else:
            assert playbook is None, "unexpected argument %r" % arg
            playbook = arg
    return playbook, extra


def _confirm_guards():
    """The conditions of the assert(s) rollback.yml runs before anything else (its pre_tasks)."""
    with open(ROLLBACK_YML, encoding="utf-8") as handle:
        plays = yaml.safe_load(handle)
    conditions = []
    for play in plays:
        for task in play.get("pre_tasks") or []:
            for key in ("ansible.builtin.assert", "assert"):
                if key in task:
                    that = task[key]["that"]
                    conditions += [that] if isinstance(that, str) else list(that)
    assert conditions, "rollback.yml has no confirm assert in its pre_tasks"
    return conditions


def test_guide_restore_command_is_one_rollback_yml_accepts(tmp_path):
    output_dir = tmp_path / "srv"
    backup_dir = str(output_dir / "backups" / "phase0_20260204_111804")
    os.makedirs(backup_dir)
    manifest = build_manifest("phase0_20260204_111804", "homeiq", [])
    command = _restore_command(render_guide(manifest, backup_dir))
    assert command == ("ansible-playbook homeiq.phase0.rollback -e phase0_project_dir=<project dir> "
                       "-e phase0_output_dir=%s -e phase0_backup_id=phase0_20260204_111804 "
                       "-e rollback_confirm=true" % output_dir)
    # The run report offers the same command (one helper), with the project directory filled in.
    assert command == rollback_command(None, str(output_dir), "phase0_20260204_111804")
    playbook, extra = _extra_vars(command.replace("<project dir>", "/srv/stack"))
    assert playbook == "homeiq.phase0.rollback" and os.path.isfile(ROLLBACK_YML)
    assert extra["phase0_output_dir"] == str(output_dir) and extra["phase0_backup_id"] == "phase0_20260204_111804"
    # Every variable the playbook's confirm assert reads is set by the command, and the assert passes with it:
    # a new required switch in rollback.yml fails this test until the guide names it too.
    for condition in _confirm_guards():
        tree = jinja2.Environment().parse("{{ %s }}" % condition)
        needed = {node.name for node in tree.find_all(jinja2.nodes.Name) if node.ctx == "load"}
        assert needed and needed <= set(extra), (condition, needed, extra)
        assert Templar(loader=DataLoader(), variables=extra).evaluate_conditional(trust_as_template(condition)) is True
        assert Templar(loader=DataLoader(), variables={}).evaluate_conditional(trust_as_template(condition)) is False


@pytest.mark.parametrize("output_dir", ["/srv/my stack", "/srv/it's", '/srv/"q"\\x'])
def test_rollback_command_survives_odd_paths(output_dir):
    command = rollback_command(output_dir + "/src", output_dir, "phase0_20260204_111804")
    playbook, extra = _extra_vars(command)
    assert playbook == "homeiq.phase0.rollback"
    assert extra == {"phase0_project_dir": output_dir + "/src", "phase0_output_dir": output_dir,
                     "phase0_backup_id": "phase0_20260204_111804", "rollback_confirm": True}


def test_rollback_command_without_output_dir_leaves_the_default():
    assert rollback_command("/srv/demo", None, "phase0_20260204_111804") == (
        "ansible-playbook homeiq.phase0.rollback -e phase0_project_dir=/srv/demo "
        "-e phase0_backup_id=phase0_20260204_111804 -e rollback_confirm=true")


def test_manifest_is_the_commit_point(tmp_path):
    root = tmp_path / "backups"
    first, volumes = make_dir(root, "phase0_20260101_000000")
    write_backup_manifest(first, build_manifest("phase0_20260101_000000", "p", volumes))
    second, volumes = make_dir(root, "phase0_20260102_000000")
    write_backup_manifest(second, build_manifest("phase0_20260102_000000", "p", volumes))
    third, dummy = make_dir(root, "phase0_20260103_000000")  # crashed run: no manifest
    assert latest_backup(str(root)) == second
    os.remove(os.path.join(second, "manifest.json"))
    assert latest_backup(str(root)) == first
    listed = dict((item["backup_id"], item["complete"]) for item in list_backups(str(root)))
    assert listed == {"phase0_20260101_000000": True, "phase0_20260102_000000": False,
                      "phase0_20260103_000000": False}
    with pytest.raises(IncompleteBackup):
        load_manifest(second)
    assert resolve_backup_dir(backups_root=str(root), backup_id="latest") == first


@pytest.mark.parametrize("content", [
    "", "{not json", json.dumps({"schema": SCHEMA, "complete": False}), json.dumps({"schema": "other", "complete": True}),
])
def test_partial_or_foreign_manifest_is_incomplete(tmp_path, content):
    backup_dir, dummy = make_dir(tmp_path, "phase0_20260101_000000")
    with open(os.path.join(backup_dir, "manifest.json"), "w") as handle:
        handle.write(content)
    with pytest.raises(IncompleteBackup):
        load_manifest(backup_dir)
    with pytest.raises(IncompleteBackup):
        latest_backup(str(tmp_path))


def test_copied_manifest_naming_another_backup_is_incomplete(tmp_path):
    first, volumes = make_dir(tmp_path, "phase0_20260101_000000")
    write_backup_manifest(first, build_manifest("phase0_20260101_000000", "p", volumes))
    shutil.copytree(first, str(tmp_path / "phase0_20260105_000000"))
    assert latest_backup(str(tmp_path)) == first


def test_check_files_names_missing_and_resized(tmp_path):
    backup_dir, volumes = make_dir(tmp_path, "phase0_20260101_000000", {"a": b"1", "b": b"22"})
    manifest = build_manifest("phase0_20260101_000000", "p", volumes)
    os.remove(os.path.join(backup_dir, "volumes/a.tar.zst"))
    with open(os.path.join(backup_dir, "volumes/b.tar.zst"), "ab") as handle:
        handle.write(b"more")
    assert check_files(backup_dir, manifest) == ["volumes/a.tar.zst: missing",
                                                 "volumes/b.tar.zst: 6 bytes on disk, the entry says 2"]


def test_guide_names_a_backup_root_that_is_not_the_default(tmp_path):
    """backup_root set elsewhere (not <output_dir>/backups): the restore must be told where to look."""
    root = tmp_path / "vault"
    backup_dir = str(root / "phase0_20260204_111804")
    os.makedirs(backup_dir)
    command = _restore_command(render_guide(build_manifest("phase0_20260204_111804", "homeiq", []), backup_dir))
    playbook, extra = _extra_vars(command.replace("<project dir>", "/srv/stack"))
    assert extra == {"phase0_project_dir": "/srv/stack", "phase0_backup_id": "phase0_20260204_111804",
                     "restore_backup_root": str(root), "rollback_confirm": "true"}
    assert os.path.isdir(os.path.join(extra["restore_backup_root"], extra["phase0_backup_id"]))
