"""image_snapshot against the real engine: snapshot tags, idempotence, check mode, save and load back."""
import json
import os
import subprocess

import pytest

from helpers import compose, run_module
from restore_fixtures import sha256_file

BUSYBOX = "phase0-fixture/busybox:latest"


def docker(*args, check=True):
    return subprocess.run(["docker"] + list(args), capture_output=True, text=True, check=check, timeout=300)


def image_id(ref):
    out = docker("image", "inspect", "--format", "{{.Id}}", ref, check=False)
    return out.stdout.strip() if out.returncode == 0 else None


@pytest.fixture
def stack(tmp_path, prefix):
    """A one-service compose project running an image only this test has (committed, never pulled)."""
    repo = "%s/app" % prefix
    ctr = docker("create", "--network", "none", BUSYBOX, "true").stdout.strip()
    docker("commit", "--change", "LABEL phase0.test=%s" % prefix, ctr, repo + ":latest")
    docker("rm", ctr)
    (tmp_path / "compose.yml").write_text(
        "services:\n  app:\n    image: %s:latest\n    pull_policy: never\n    network_mode: none\n"
        "    command: [sleep, '3600']\n" % repo)
    compose(tmp_path, "up", "-d", project_name=prefix)
    yield {"dir": tmp_path, "name": prefix, "repo": repo, "id": image_id(repo + ":latest")}
    compose(tmp_path, "down", "-t", "1", project_name=prefix, check=False)
    for tag in ("latest", "pre-rebuild", "other"):
        docker("rmi", "-f", "%s:%s" % (repo, tag), check=False)


def test_check_mode_quartet_tags_the_running_image(stack):
    args = {"project_name": stack["name"]}
    outcomes = []
    for check in (True, False, True, False):
        result, _proc = run_module("homeiq.phase0.image_snapshot", args, check=check)
        assert not result.get("failed"), result
        outcomes.append(result["changed"])
        if outcomes == [True]:
            assert image_id(stack["repo"] + ":pre-rebuild") is None  # check mode tagged nothing
    assert outcomes == [True, True, False, False]
    record = result["images"][0]
    assert (record["repository"], record["tag"], record["id"], record["snapshot_tag"], record["services"]) == \
        (stack["repo"], "latest", stack["id"], stack["repo"] + ":pre-rebuild", ["app"])
    assert image_id(stack["repo"] + ":pre-rebuild") == stack["id"]


def test_save_survives_prune_and_restored_loads_it_back(stack, tmp_path):
    backup = tmp_path / "backup"
    backup.mkdir(mode=0o700)
    result, _proc = run_module("homeiq.phase0.image_snapshot", {"project_name": stack["name"], "save": True,
                                                                "backup_dir": str(backup)})
    assert result["changed"], result
    record = result["images"][0]
    archive = backup / record["archive"]
    assert os.stat(archive).st_mode & 0o777 == 0o600
    assert os.stat(archive).st_size == record["bytes"] and len(record["sha256"]) == 64
    assert record["save_action"] == "save" and sha256_file(archive) == record["sha256"]
    before = os.stat(archive)
    # A second run (check mode and real) writes nothing and reports the archive as the first run did:
    # backup_manifest needs sha256 and bytes in every record that names an archive.
    for check in (True, False):
        again, _proc = run_module("homeiq.phase0.image_snapshot", {"project_name": stack["name"], "save": True,
                                                                   "backup_dir": str(backup)}, check=check)
        assert not again.get("failed") and not again["changed"], again
        second = again["images"][0]
        assert (second["archive"], second["save_action"]) == (record["archive"], "unchanged")
        assert (second["sha256"], second["bytes"]) == (record["sha256"], record["bytes"])
        after = os.stat(archive)
        assert (after.st_ino, after.st_mtime_ns, after.st_size) == (before.st_ino, before.st_mtime_ns, before.st_size)
        assert sha256_file(archive) == record["sha256"]
        assert os.listdir(archive.parent) == [archive.name]

    # The rebuild goes wrong and a prune removes the old image entirely.
    compose(stack["dir"], "down", "-t", "1", project_name=stack["name"])
    docker("rmi", "-f", stack["repo"] + ":latest", stack["repo"] + ":pre-rebuild")
    assert image_id(stack["id"]) is None
    images = [dict(record)]
    check, _proc = run_module("homeiq.phase0.image_snapshot", {"state": "restored", "images": images,
                                                               "backup_dir": str(backup)}, check=True)
    assert check["changed"] and check["images"][0]["action"] == "load" and image_id(stack["id"]) is None
    restored, _proc = run_module("homeiq.phase0.image_snapshot", {"state": "restored", "images": images,
                                                                  "backup_dir": str(backup)})
    assert restored["changed"], restored
    assert image_id(stack["repo"] + ":latest") == stack["id"]
    assert image_id(stack["repo"] + ":pre-rebuild") == stack["id"]
    again, _proc = run_module("homeiq.phase0.image_snapshot", {"state": "restored", "images": images,
                                                               "backup_dir": str(backup)})
    assert not again["changed"]


@pytest.mark.parametrize("squatter", ["symlink", "directory"])
def test_save_refuses_what_is_not_an_archive_in_its_place(stack, tmp_path, squatter):
    backup = tmp_path / "backup"
    backup.mkdir(mode=0o700)
    args = {"project_name": stack["name"], "save": True, "backup_dir": str(backup)}
    plan, _proc = run_module("homeiq.phase0.image_snapshot", args, check=True)
    assert plan["changed"] and plan["images"][0]["save_action"] == "save" and "sha256" not in plan["images"][0]
    path = backup / plan["images"][0]["archive"]
    path.parent.mkdir(mode=0o700)
    if squatter == "symlink":
        target = tmp_path / "elsewhere.tar.zst"
        target.write_bytes(b"not an image")
        path.symlink_to(target)
    else:
        path.mkdir()
    result, _proc = run_module("homeiq.phase0.image_snapshot", args)
    assert result.get("failed") and str(path) in result["msg"], result
    assert ("a symlink" if squatter == "symlink" else "not a regular file") in result["msg"]
    # Decided before acting: the failure moved no tag and wrote nothing.
    assert image_id(stack["repo"] + ":pre-rebuild") is None
    assert os.listdir(path.parent) == [path.name]


def test_restored_moves_a_rebuilt_tag_back(stack):
    snap, _proc = run_module("homeiq.phase0.image_snapshot", {"project_name": stack["name"]})
    # "Rebuild": latest now names another image.
    docker("tag", BUSYBOX, stack["repo"] + ":latest")
    assert image_id(stack["repo"] + ":latest") != stack["id"]
    result, _proc = run_module("homeiq.phase0.image_snapshot", {"state": "restored", "images": snap["images"]})
    assert result["changed"] and result["images"][0]["action"] == "retag"
    assert image_id(stack["repo"] + ":latest") == stack["id"]


def test_restored_fails_for_an_image_that_is_gone_and_not_saved(stack):
    record = {"repository": stack["repo"], "tag": "latest", "id": "sha256:" + "0" * 64,
              "snapshot_tag": stack["repo"] + ":pre-rebuild"}
    result, _proc = run_module("homeiq.phase0.image_snapshot", {"state": "restored", "images": [record]})
    assert result.get("failed") and "neither on the engine nor saved" in result["msg"]
    assert json.dumps(result)  # the result stays serialisable
