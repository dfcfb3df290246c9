"""The restore role (rollback.yml) on a small RUNNING stack, without `compose down -v` first.

One stack for the module (busybox services, network none): `app` (volume data, healthy while
/data/seed.bin is not empty, reads APP_SECRET from .env), `worker` (from an `include:`d compose
file, volume cache, healthy only ~3 s after each start) and `plain` (no healthcheck). It is backed
up once with the backup role. Then .env and the included compose file are changed (plus a stray
line) and made live with `compose up -d`, and seed.bin is changed and a marker file added in the
data volume. On that stack, rollback.yml runs three times:

1. without restore_replace_volumes: fails at the plan, naming restore_replace_volumes and the data
   volume; every container keeps its id, start time and runs; volume and config files unchanged.
2. with restore_replace_volumes=true but a config copy in the backup damaged: refused before
   anything stops, the same way (before the fix the role stopped the stack and replaced the volume
   before it checked the config copies).
3. with restore_replace_volumes=true (and --diff): the config files have their backed-up bytes and
   modes, the changed ones are kept aside under restores/<backup id>_<run>/configs_before/ (0600
   files, 0700 directories), the services run with the backed-up config; the marker is gone,
   seed.bin has its backed-up bytes, the untouched cache volume is left alone; the stack was
   stopped and runs again; restore_result.services_healthy / services_running_without_healthcheck equal what
   `docker inspect` says right after the play. No run's output (JSON callback: every task result)
   holds either .env secret.
"""
import glob
import json
import os
import re
import stat
import subprocess
import time
import uuid

import pytest

from helpers import ROOT, compose, run_playbook
from test_rollback import backup_playbook

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.path.exists(os.path.join(ROOT, "plugins", "modules", "volume_backup.py")),
                       reason="needs homeiq.phase0.volume_backup (backup data core)"),
]

ROLLBACK = os.path.join(ROOT, "playbooks", "rollback.yml")
BUSYBOX = "phase0-fixture/busybox:latest"
JSON_OUTPUT = {"ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "json"}

# The lines every service of the stack shares (a local image, no network, a quick stop).
BUSYBOX_BASE = """\
    image: phase0-fixture/busybox:latest
    pull_policy: never
    network_mode: none
    stop_grace_period: 1s
"""
BUSYBOX_IDLE = BUSYBOX_BASE + """\
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"]
"""

COMPOSE = """\
include:
  - path: sub/worker.yml
services:
  app:
    BUSYBOX_IDLE
    environment:
      APP_SECRET: ${APP_SECRET}
    volumes:
      - data:/data
    healthcheck:
      test: ["CMD", "test", "-s", "/data/seed.bin"]
      interval: 1s
      timeout: 2s
      retries: 2
  plain:
    BUSYBOX_IDLE
volumes:
  data: {}
""".replace("    BUSYBOX_IDLE\n", BUSYBOX_IDLE)

WORKER = """\
services:
  worker:
    BUSYBOX_BASE
    # healthy only a few seconds after each start: a report taken without waiting would miss it
    command: ["sh", "-c", "trap 'exit 0' TERM; rm -f /tmp/ready; sleep 3; touch /tmp/ready; while :; do sleep 0.2; done"]
    environment:
      MODE: before
    volumes:
      - cache:/cache
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      timeout: 2s
      retries: 2
volumes:
  cache: {}
""".replace("    BUSYBOX_BASE\n", BUSYBOX_BASE)

HEALTHCHECKED = {"app", "worker"}
SERVICES = {"app", "worker", "plain"}


# --- engine helpers ------------------------------------------------------------------------------------

def containers(name):
    """{service: docker inspect of its container} for the project."""
    ids = subprocess.run(["docker", "ps", "-aq", "--filter", "label=com.docker.compose.project=%s" % name],
                         capture_output=True, text=True, check=True).stdout.split()
    if not ids:
        return {}
    found = json.loads(subprocess.run(["docker", "inspect"] + ids, capture_output=True, text=True,
                                      check=True).stdout)
    return {c["Config"]["Labels"]["com.docker.compose.service"]: c for c in found}


def health(container):
    return (container["State"].get("Health") or {}).get("Status")


def env_of(container):
    return dict(item.split("=", 1) for item in container["Config"]["Env"])


def wait_healthy(name, services=None, timeout=90):
    services = HEALTHCHECKED if services is None else services
    deadline = time.monotonic() + timeout
    while True:
        found = containers(name)
        if all(s in found and health(found[s]) == "healthy" for s in services) \
                and all(c["State"]["Running"] for c in found.values()):
            return found
        if time.monotonic() > deadline:
            raise AssertionError("not healthy after %ss: %s" % (
                timeout, {s: (c["State"]["Status"], health(c)) for s, c in found.items()}))
        time.sleep(0.5)


def volume_cmd(volume, script, data=None, readonly=False):
    return subprocess.run(["docker", "run", "--rm", "-i", "--network", "none",
                           "-v", "%s:/d%s" % (volume, ":ro" if readonly else ""), BUSYBOX, "sh", "-c", script],
                          input=data, capture_output=True, check=False, timeout=120)


def volume_write(volume, path, data):
    proc = volume_cmd(volume, "mkdir -p \"$(dirname /d/%s)\" && cat > /d/%s" % (path, path), data)
    assert proc.returncode == 0, proc.stderr


def volume_read(volume, path):
    """The file's exact bytes, or None when it does not exist."""
    proc = volume_cmd(volume, "test -f /d/%s && cat /d/%s" % (path, path), readonly=True)
    return proc.stdout if proc.returncode == 0 else None


def volume_listing(volume):
    proc = volume_cmd(volume, "cd /d && find . | sort", readonly=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode().split()


# --- playbook helpers ----------------------------------------------------------------------------------

def rollback(stack, diff=False, **extra):
    """Run rollback.yml with the JSON callback: (process, [(task name, localhost result)])."""
    extra_vars = dict(stack["vars"], rollback_confirm=True, **extra)
    proc = run_playbook(ROLLBACK, extra_vars, diff=diff, env=JSON_OUTPUT, timeout=900)
    try:
        data = json.loads(proc.stdout[proc.stdout.index("{"):])
    except ValueError as exc:
        raise AssertionError("no JSON from ansible-playbook (%s):\nSTDOUT:\n%s\nSTDERR:\n%s"
                             % (exc, proc.stdout[-4000:], proc.stderr[-4000:]))
    tasks = [(task["task"]["name"], task["hosts"].get("localhost", {}))
             for play in data["plays"] for task in play["tasks"]]
    return proc, tasks


def task_result(tasks, name):
    found = [result for task, result in tasks if task.split(" : ")[-1] == name]
    assert found, "task %r did not run; tasks: %s" % (name, [t for t, _r in tasks])
    return found[-1]


def failed_tasks(tasks):
    return [task for task, result in tasks if result.get("failed")]


def show(proc):
    return "rc=%s\nSTDOUT (tail):\n%s\nSTDERR (tail):\n%s" % (
        proc.returncode, proc.stdout[-5000:], proc.stderr[-3000:])


# --- the stack ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rollback_role")
    work = tmp / "stack"
    (work / "sub").mkdir(parents=True)
    name = "p0rr" + uuid.uuid4().hex[:8]
    secret = "rr-secret-" + uuid.uuid4().hex
    files = {
        "compose.yml": (COMPOSE.encode(), 0o644),
        "sub/worker.yml": (WORKER.encode(), 0o640),
        ".env": (("# app settings\nAPP_SECRET=%s\n" % secret).encode(), 0o600),
    }
    for rel, (data, mode) in files.items():
        (work / rel).write_bytes(data)
        os.chmod(work / rel, mode)
    out = tmp / "out"
    seed = os.urandom(64 * 1024)
    keep = b"kept across the rollback\n" * 10
    stack = {"dir": str(work), "name": name, "out": str(out), "secret": secret, "files": files,
             "seed": seed, "keep": keep, "data": "%s_data" % name, "cache": "%s_cache" % name,
             "vars": {"phase0_project_dir": str(work), "phase0_project_name": name,
                      "phase0_output_dir": str(out)}}
    try:
        compose(work, "create", project_name=name)
        volume_write(stack["data"], "seed.bin", seed)
        volume_write(stack["data"], "sub/keep.txt", keep)
        volume_write(stack["cache"], "cache.txt", b"cache content\n")
        compose(work, "up", "-d", project_name=name)
        wait_healthy(name)
        proc = run_playbook(backup_playbook(tmp), stack["vars"])
        assert proc.returncode == 0, show(proc)
        backups = glob.glob(os.path.join(str(out), "backups", "phase0_*"))
        assert len(backups) == 1, backups
        stack["backup_dir"] = backups[0]
        with open(os.path.join(backups[0], "manifest.json")) as handle:
            stack["manifest"] = json.load(handle)
        wait_healthy(name)
        yield stack
    finally:
        compose(work, "down", "-v", "-t", "1", "--remove-orphans", project_name=name, check=False)


# --- the rollback runs: one sequence on the changed, running stack -------------------------------------

WORKER_COPY = "configs/project/sub/worker.yml"
PLAN_TASK = "Verify the backup and decide per volume, before anything stops"


def snapshot(stack):
    """What a refused rollback must leave as it was: containers, the data volume, the config files."""
    files = {}
    for rel in stack["files"]:
        with open(os.path.join(stack["dir"], rel), "rb") as handle:
            files[rel] = handle.read()
    return {"containers": containers(stack["name"]), "seed": volume_read(stack["data"], "seed.bin"),
            "marker": volume_read(stack["data"], "marker-after-backup.txt"),
            "listing": volume_listing(stack["data"]), "files": files,
            "restores": sorted(glob.glob(os.path.join(stack["out"], "restores", "*")))}


@pytest.fixture(scope="module")
def runs(stack):
    """Change configs and volumes after the backup, then roll back three times:
    refused (no restore_replace_volumes), refused (a config copy in the backup is damaged), done."""
    name, work = stack["name"], stack["dir"]
    sources = {os.path.realpath(c["source"]) for c in stack["manifest"]["configs"]}
    for rel in stack["files"]:
        assert os.path.realpath(os.path.join(work, rel)) in sources, (rel, sources)
    assert any(c["path"] == WORKER_COPY for c in stack["manifest"]["configs"]), stack["manifest"]["configs"]

    # 1. config files changed (and a stray line added) and made live: both services are recreated.
    changed_secret = "rr-changed-" + uuid.uuid4().hex
    changed = {
        ".env": ("# app settings\nAPP_SECRET=%s\nSTRAY_LINE=added-after-backup\n" % changed_secret).encode(),
        "sub/worker.yml": WORKER.replace("MODE: before", "MODE: after").encode()
        + b"# stray line added after the backup\n",
    }
    for rel, data in changed.items():
        with open(os.path.join(work, rel), "wb") as handle:
            handle.write(data)
    compose(work, "up", "-d", project_name=name)
    live = wait_healthy(name)
    assert env_of(live["worker"])["MODE"] == "after"
    assert env_of(live["app"])["APP_SECRET"] == changed_secret
    # 2. the data volume changed under the running stack; the cache volume is left as backed up.
    changed_seed = os.urandom(32 * 1024)
    volume_write(stack["data"], "seed.bin", changed_seed)
    volume_write(stack["data"], "marker-after-backup.txt", b"written after the backup\n")
    cache_listing = volume_listing(stack["cache"])
    wait_healthy(name)
    before = snapshot(stack)
    assert set(before["containers"]) == SERVICES
    assert all(c["State"]["Running"] for c in before["containers"].values())

    refused = rollback(stack)
    after_refused = snapshot(stack)

    copy = os.path.join(stack["backup_dir"], WORKER_COPY)
    with open(copy, "rb") as handle:
        good = handle.read()
    try:
        with open(copy, "ab") as handle:
            handle.write(b"# damaged in the backup\n")
        damaged = rollback(stack, restore_replace_volumes=True)
    finally:
        with open(copy, "wb") as handle:
            handle.write(good)
    after_damaged = snapshot(stack)

    done = rollback(stack, diff=True, restore_replace_volumes=True)
    after = containers(name)  # at once: what the play left behind
    return {"changed": changed, "changed_secret": changed_secret, "changed_seed": changed_seed,
            "cache_listing": cache_listing, "before": before,
            "refused": refused, "after_refused": after_refused,
            "damaged": damaged, "after_damaged": after_damaged,
            "done": done, "after": after}


def assert_untouched(before, now):
    """Nothing stopped, restarted or recreated; the volume and the config files as they were."""
    for service, container in before["containers"].items():
        current = now["containers"][service]
        assert current["Id"] == container["Id"], service
        assert current["State"]["Running"] is True, (service, current["State"])
        assert current["State"]["StartedAt"] == container["State"]["StartedAt"], service
    for key in ("seed", "marker", "listing", "files", "restores"):
        assert now[key] == before[key], key


def ran(tasks):
    return [task.split(" : ")[-1] for task, _result in tasks]


# --- refusals before anything stops ------------------------------------------------------------------

def test_non_empty_volumes_refused_before_anything_stops(stack, runs):
    proc, tasks = runs["refused"]
    assert proc.returncode != 0, show(proc)
    failed = [t.split(" : ")[-1] for t in failed_tasks(tasks)]
    assert failed == [PLAN_TASK], failed
    msg = task_result(tasks, PLAN_TASK)["msg"]
    assert "restore_replace_volumes" in msg and stack["data"] in msg, msg
    assert stack["cache"] not in msg, msg  # unchanged since the backup: nothing to refuse
    assert "Stop the stack" not in ran(tasks) and "Restore the volumes" not in ran(tasks), ran(tasks)
    assert runs["before"]["seed"] == runs["changed_seed"]
    assert runs["before"]["marker"] == b"written after the backup\n"
    assert_untouched(runs["before"], runs["after_refused"])


def test_damaged_config_copy_refused_before_anything_stops(stack, runs):
    proc, tasks = runs["damaged"]
    assert proc.returncode != 0, show(proc)
    assert "Stop the stack" not in ran(tasks) and "Restore the volumes" not in ran(tasks), ran(tasks)
    failed = [result for _task, result in tasks if result.get("failed")]
    assert len(failed) == 1 and WORKER_COPY in json.dumps(failed[0]), failed
    assert_untouched(runs["before"], runs["after_damaged"])


# --- the rollback ------------------------------------------------------------------------------------

def test_configs_restored_and_current_ones_kept_aside(stack, runs):
    proc, tasks = runs["done"]
    assert proc.returncode == 0, show(proc)
    work = stack["dir"]

    # The backed-up bytes and modes are back.
    for rel, (data, mode) in stack["files"].items():
        path = os.path.join(work, rel)
        with open(path, "rb") as handle:
            assert handle.read() == data, rel
        assert stat.S_IMODE(os.stat(path).st_mode) == mode, (rel, oct(os.stat(path).st_mode))

    result = task_result(tasks, "Report which services came back")["restore_result"]
    assert result["configs"] == {
        os.path.join(work, ".env"): True,
        os.path.join(work, "sub/worker.yml"): True,
        os.path.join(work, "compose.yml"): False,
    }, result["configs"]

    # The current files were kept aside, under restores/<backup id>_<run>/configs_before/.
    aside = result["configs_aside_dir"]
    backup_id = os.path.basename(stack["backup_dir"])
    restores = os.path.join(stack["out"], "restores")
    assert re.fullmatch(re.escape(os.path.join(restores, backup_id)) + r"_\d{8}_\d{6}/configs_before", aside), aside
    assert glob.glob(os.path.join(restores, "*", "configs_before")) == [aside]
    kept = {}
    for base, _dirs, names in os.walk(aside):
        for name in names:
            path = os.path.join(base, name)
            with open(path, "rb") as handle:
                kept[os.path.relpath(path, aside)] = handle.read()
            assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600, (path, oct(os.lstat(path).st_mode))
    assert kept == {
        "project/.env": runs["changed"][".env"],
        "project/sub/worker.yml": runs["changed"]["sub/worker.yml"],
        "project/compose.yml": stack["files"]["compose.yml"][0],
    }
    for base, dirs, _names in os.walk(restores):
        for directory in [base] + [os.path.join(base, d) for d in dirs]:
            assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700, (directory, oct(os.stat(directory).st_mode))

    # The services were recreated with the backed-up config.
    after = runs["after"]
    assert env_of(after["worker"])["MODE"] == "before"
    assert env_of(after["app"])["APP_SECRET"] == stack["secret"]


def test_no_secret_in_the_rollback_output(stack, runs):
    # Every task result of every run (JSON callback; the last one with --diff): neither the backed-up
    # nor the replaced secret of .env.
    for key in ("refused", "damaged", "done"):
        proc = runs[key][0]
        for secret in (stack["secret"], runs["changed_secret"]):
            assert secret not in proc.stdout and secret not in proc.stderr, key
    # ... while .env was really copied aside and back (the check above is not vacuous).
    proc, tasks = runs["done"]
    assert proc.returncode == 0, show(proc)
    result = task_result(tasks, "Report which services came back")["restore_result"]
    assert result["configs"][os.path.join(stack["dir"], ".env")] is True


def test_replace_volumes_of_the_running_stack(stack, runs):
    proc, tasks = runs["done"]
    assert proc.returncode == 0, show(proc)
    data = stack["data"]
    assert volume_read(data, "marker-after-backup.txt") is None
    assert volume_read(data, "seed.bin") == stack["seed"]
    assert volume_read(data, "sub/keep.txt") == stack["keep"]
    assert "./marker-after-backup.txt" in runs["before"]["listing"]
    assert volume_listing(data) == sorted(set(runs["before"]["listing"]) - {"./marker-after-backup.txt"})
    assert volume_read(stack["cache"], "cache.txt") == b"cache content\n"
    assert volume_listing(stack["cache"]) == runs["cache_listing"]

    result = task_result(tasks, "Report which services came back")["restore_result"]
    assert result["volumes"] == {data: "replace", stack["cache"]: "unchanged"}, result["volumes"]
    assert data in result["verified_volumes"], result["verified_volumes"]

    # The role stopped the stack (the stop task changed it) and every container runs again, started
    # after it was before the rollback.
    assert task_result(tasks, "Stop the stack").get("changed") is True
    for service, container in runs["before"]["containers"].items():
        now = runs["after"][service]
        assert now["State"]["Running"] is True, (service, now["State"])
        assert now["State"]["StartedAt"] > container["State"]["StartedAt"], service


def test_report_names_the_services_that_came_back_healthy(stack, runs):
    proc, tasks = runs["done"]
    assert proc.returncode == 0, show(proc)
    result = task_result(tasks, "Report which services came back")["restore_result"]
    after = runs["after"]  # inspected right after the play ended
    healthy_now = {s for s, c in after.items() if health(c) == "healthy"}
    assert healthy_now == HEALTHCHECKED, {s: (c["State"]["Status"], health(c)) for s, c in after.items()}
    assert health(after["plain"]) is None and after["plain"]["State"]["Running"] is True
    assert sorted(result["services_healthy"]) == sorted(healthy_now), result
    # `plain` has no healthcheck: running, listed on its own, not as a failure.
    assert result["services_running_without_healthcheck"] == ["plain"], result
    assert result["services_not_healthy"] == [], result
    assert result["project"] == stack["name"] and result["backup_id"] == os.path.basename(stack["backup_dir"])
    # The worker turns healthy ~3 s after each start and the role restarted it: listing it as healthy
    # means the role waited for it.
    assert after["worker"]["State"]["StartedAt"] > runs["before"]["containers"]["worker"]["State"]["StartedAt"]
    # The playbook's own proof agrees: every service running (and healthy where it has a healthcheck).
    verification = task_result(tasks, "Prove the rollback - services running and healthy as at backup time")
    statuses = {row["service"]: row["status"] for row in verification["services"]}
    assert set(statuses) == SERVICES and all(s in ("ok", "as_before") for s in statuses.values()), statuses
