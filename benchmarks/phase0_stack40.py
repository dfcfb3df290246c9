#!/usr/bin/env python
"""Benchmark: the whole phase 0 (playbooks/phase0.yml) on a generated 40-service stack.

Issue 7, last test: total phase0 time split by step, and the orchestration overhead (everything
but data transfer and waiting for containers) under 30 s.

The script generates, in a temporary directory, a compose project of N services from the fixture
images (`make images`; nothing is pulled):

  * about half of the services are writers: each owns a named volume (default 20 volumes), seeds it
    once with a little data (random bytes, 256 KiB to 1.25 MiB, plus 50 small files) and appends a
    log line every 3 s; its healthcheck says whether the seed file is there;
  * the others are idle services: busybox `sleep`, and some debian-python, debian-python-old and node
    ones running their runtime, so the runtime audit has work;
  * every service has a healthcheck, `init: true` (so SIGTERM stops it at once, as a well-behaved
    service does), `network_mode: none`, no host ports; the project reads a `.env`.

It starts the stack (`up -d`), waits until no container is `starting`, then runs
`ansible-playbook playbooks/phase0.yml` with the `ansible.posix.json` stdout callback (every task's
start/end and result), with `-e @tests/fixtures/demo-vars.yml` like `make demo`, and reads the run
report (reports/phase0_*.json: per-step durations), the backup's verify.json and the volume_backup
result (per-volume duration_s, every container stop/start, every health wait). It computes:

  total            wall time of the ansible-playbook process (controller start-up included);
  per step         the run report's step durations (infra, backup, healthcheck, audit, monitoring),
                   plus "report" and "outside the steps" (start-up, project_info, report, end);
  data transfer    sum of the volume archive durations (get_archive -> hash -> zstd -> file) plus
                   the verification's hashing (verify.json duration_s) plus image save if enabled;
  container waits  in volume_backup: per group of volumes the slowest stop and the slowest start
                   (they run concurrently within a group), plus the health wait after the last
                   restart; in the healthcheck role: the recreate-and-wait/watch tasks of a fix;
                   and the monitoring role's wait for the new agent's first sample (monitor_status
                   polls in one module run and returns waited_s);
  overhead         total - transfer - waits. Target: < 30 s.

Then it prints a table, the 10 slowest tasks and one JSON line (prefixed `RESULT `), stops the
monitoring agent the run started (playbooks/monitoring.yml with monitoring_state=absent) and,
unless --keep, removes the stack, its volumes and the temporary directory.

Usage: .venv/bin/python benchmarks/phase0_stack40.py [--services 40] [--volumes 20] [--keep]
       [--skip-tags healthcheck] [--json-out FILE]
"""
import argparse
import datetime
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)

BUSYBOX = "phase0-fixture/busybox:latest"
PYTHON = "phase0-fixture/debian-python:latest"
PYTHON_OLD = "phase0-fixture/debian-python-old:latest"
NODE = "phase0-fixture/node:latest"

# Tasks whose time is waiting for containers (stop, start, health), not orchestration.
HEALTH_WAIT_TASK_PREFIXES = (
    "Recreate only this service and wait until it is healthy",
    "Watch the recreated service",
    "Recreate the service from the original file",
)


def image_for(index, count):
    """Mostly busybox; every 8th a python service, every 8th (offset) a node one, one old python."""
    if index == count - 1:
        return PYTHON_OLD
    if index % 8 == 3:
        return PYTHON
    if index % 8 == 7:
        return NODE
    return BUSYBOX


def idle_command(image):
    if image in (PYTHON, PYTHON_OLD):
        return ["python3", "-c", "import time\nwhile True: time.sleep(3600)"]
    if image == NODE:
        return ["node", "-e", "setInterval(function () {}, 3600000)"]
    return ["sleep", "infinity"]


def writer_command(index):
    size_kib = 256 * (index % 5 + 1)
    script = (
        "mkdir -p /data/files; "
        "if [ ! -f /data/seed.bin ]; then "
        "head -c %dk /dev/urandom > /data/seed.tmp && mv /data/seed.tmp /data/seed.bin; "
        "for j in $(seq 1 50); do echo \"record $j of svc-%02d\" > /data/files/f$j.txt; done; fi; "
        "i=0; while :; do i=$((i+1)); echo \"$(date) svc-%02d line $i level=$LOG_LEVEL\" >> /data/app.log; "
        "sleep 3; done" % (size_kib, index, index))
    return ["sh", "-c", script]


def compose_yaml(count, volumes):
    """The compose file as JSON (valid YAML): N services, `volumes` of them writers with a named volume."""
    services = {}
    for index in range(count):
        image = image_for(index, count)
        name = "svc-%02d" % index
        service = {
            "image": image,
            "pull_policy": "never",
            "init": True,
            # No network: 40 concurrent endpoint removals can leave a stale bridge endpoint on engine
            # 20.10, and nothing here needs one.
            "network_mode": "none",
            "restart": "unless-stopped",
            "stop_grace_period": "5s",
            "logging": {"driver": "json-file", "options": {"max-size": "1m", "max-file": "2"}},
            "environment": {"LOG_LEVEL": "${LOG_LEVEL}", "APP_TOKEN": "${APP_TOKEN}", "SERVICE_NAME": name},
        }
        if index < volumes:
            service["command"] = writer_command(index)
            service["volumes"] = ["data_%02d:/data" % index]
            service["healthcheck"] = {"test": ["CMD-SHELL", "test -f /data/seed.bin"],
                                      "interval": "3s", "timeout": "3s", "retries": 3}
        else:
            service["command"] = idle_command(image)
            service["healthcheck"] = {"test": ["CMD-SHELL", "test -e /proc/1/stat"],
                                      "interval": "10s", "timeout": "3s", "retries": 3}
        services[name] = service
    return {"services": services, "volumes": dict(("data_%02d" % index, {}) for index in range(volumes))}


def compose(directory, project, *args, check=True):
    return subprocess.run(["docker", "compose", "--project-directory", directory, "-p", project] + list(args),
                          check=check, capture_output=True, text=True)


def wait_settled(directory, project, timeout=180):
    """Until no container of the project is `starting` (and the writers have seeded their volumes)."""
    deadline = time.monotonic() + timeout
    while True:
        out = compose(directory, project, "ps", "--format", "{{.Service}} {{.State}} {{.Health}}").stdout
        rows = [line.split() for line in out.splitlines() if line.strip()]
        starting = [row[0] for row in rows if len(row) > 2 and row[2] == "starting"]
        if not starting:
            return rows
        if time.monotonic() > deadline:
            print("still starting after %ds: %s" % (timeout, " ".join(starting)), file=sys.stderr)
            return rows
        time.sleep(2)


def ansible_env():
    return dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
                ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_JSON_INDENT="0",
                ANSIBLE_NOCOLOR="1", PATH=BIN + os.pathsep + os.environ.get("PATH", ""))


def phase0_args(directory, project, output_dir):
    return ["-e", "@" + os.path.join(ROOT, "tests", "fixtures", "demo-vars.yml"),
            "-e", "phase0_project_dir=%s" % directory, "-e", "phase0_project_name=%s" % project,
            "-e", "phase0_output_dir=%s" % output_dir]


def run_phase0(directory, project, output_dir, skip_tags=None):
    command = [os.path.join(BIN, "ansible-playbook"), os.path.join(ROOT, "playbooks", "phase0.yml")]
    command += phase0_args(directory, project, output_dir)
    if skip_tags:
        command += ["--skip-tags", skip_tags]
    started = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(command, cwd=ROOT, env=ansible_env(), capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU of ansible-playbook and every module process it ran (not dockerd's): what the orchestration
    # costs independently of other load on the machine.
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with open(os.path.join(output_dir, "phase0_callback.json"), "w") as handle:
        handle.write(proc.stdout)
    text = proc.stdout
    try:
        data = json.loads(text[text.index("{"):])
    except ValueError:
        print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
        raise
    return proc.returncode, wall, cpu, data, proc.stderr


def stop_monitoring(directory, project, output_dir):
    command = [os.path.join(BIN, "ansible-playbook"), os.path.join(ROOT, "playbooks", "monitoring.yml"),
               "-e", "monitoring_state=absent"] + phase0_args(directory, project, output_dir)
    proc = subprocess.run(command, cwd=ROOT, env=dict(ansible_env(), ANSIBLE_STDOUT_CALLBACK="default"),
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print("stopping the monitoring agent failed:\n" + proc.stdout[-2000:] + proc.stderr[-2000:], file=sys.stderr)
    return proc.returncode


def parse_time(text):
    return datetime.datetime.fromisoformat(text.rstrip("Z"))


def tasks_of(data):
    """[(name, action, seconds, result-of-localhost)] in run order, plus the gaps between tasks."""
    tasks = []
    for play in data["plays"]:
        for entry in play["tasks"]:
            task = entry["task"]
            duration = task.get("duration", {})
            start = parse_time(duration["start"])
            end = parse_time(duration["end"]) if duration.get("end") else start
            result = next(iter(entry["hosts"].values()), {}) if entry["hosts"] else {}
            tasks.append({"name": task["name"], "action": result.get("action", ""), "start": start, "end": end,
                          "seconds": (end - start).total_seconds(), "result": result,
                          "skipped": bool(result.get("skipped")), "failed": bool(result.get("failed"))})
    return tasks


# Actions that run on the controller only (no module process on the target).
CONTROLLER_ONLY = {"set_fact", "debug", "assert", "include_tasks", "import_tasks", "validate_argument_spec",
                   "set_stats", "meta", "fail"}


def module_runs(task):
    """Module processes a task started on the target: one per loop item (per retry for until/retries);
    copy and template run two (a stat for the checksum, then copy or file)."""
    short = task["action"].split(".")[-1]
    if task["skipped"] or short in CONTROLLER_ONLY or not task["action"]:
        return 0
    result = task["result"]
    items = len([r for r in result["results"] if not r.get("skipped")]) if "results" in result else 1
    if "attempts" in result:
        items = int(result["attempts"])
    return items * (2 if short in ("copy", "template") else 1)


def backup_waits(result):
    """Container waits inside volume_backup: per group the slowest stop + slowest start, then the health
    wait that was still running after the last restart (its containers' own seconds)."""
    events = result.get("containers") or []
    health = result.get("health") or []
    groups = (result.get("plan") or {}).get("groups") or []
    plan_containers = (result.get("plan") or {}).get("containers") or {}
    stop_start = 0.0
    if groups:
        by_name = {}
        for event in events:
            by_name.setdefault(event["name"], []).append(event)

        def names(ids):
            out = []
            for cid in ids:
                info = plan_containers.get(cid) if isinstance(plan_containers, dict) else None
                out.append((info or {}).get("name", cid) if isinstance(cid, str) else cid.get("name"))
            return out
        last_group_names = []
        for group in groups:
            members = names(group.get("stop", []) + group.get("pause", []))
            for action in ("stop", "pause", "start", "unpause"):
                secs = [e["seconds"] for n in members for e in by_name.get(n, []) if e["action"] == action]
                stop_start += max(secs) if secs else 0.0
            if members:
                last_group_names = members
        tail = max([h["seconds"] for h in health if h.get("name") in last_group_names] or [0.0])
    else:
        # No plan in the result: count every stop/start as serial (an upper bound).
        stop_start = sum(e["seconds"] for e in events if e["action"] in ("stop", "start", "pause", "unpause"))
        tail = max([h["seconds"] for h in health] or [0.0])
    return round(stop_start, 2), round(tail, 2), len([e for e in events if e["action"] == "stop"])


def newest(path, suffix):
    names = sorted(name for name in os.listdir(path) if name.endswith(suffix)) if os.path.isdir(path) else []
    return os.path.join(path, names[-1]) if names else None


def analyse(wall, data, output_dir):
    tasks = tasks_of(data)
    report_path = newest(os.path.join(output_dir, "reports"), ".json")
    report = json.load(open(report_path)) if report_path else {}
    steps = [(step["name"], step.get("status"), float(step.get("duration_s") or 0)) for step in report.get("steps", [])]

    volume_task = next((t for t in tasks if t["action"].endswith("volume_backup") and not t["skipped"]), None)
    volume_result = volume_task["result"] if volume_task else {}
    volumes = volume_result.get("volumes") or []
    archive_s = sum(float(v.get("duration_s") or 0) for v in volumes)
    raw_bytes = sum(int(v.get("raw_bytes") or 0) for v in volumes)
    stop_start_s, health_tail_s, stopped = backup_waits(volume_result)

    verify_s = 0.0
    backup_dir = newest(os.path.join(output_dir, "backups"), "")
    if backup_dir and os.path.exists(os.path.join(backup_dir, "verify.json")):
        verify_s = float(json.load(open(os.path.join(backup_dir, "verify.json"))).get("duration_s") or 0)
    image_task = next((t for t in tasks if t["action"].endswith("image_snapshot") and not t["skipped"]), None)
    image_save_s = sum(float(i.get("duration_s") or 0) for i in (image_task["result"].get("images") or [])
                       if i.get("archive")) if image_task else 0.0

    fix_wait_s = sum(t["seconds"] for t in tasks if t["name"].startswith(HEALTH_WAIT_TASK_PREFIXES))
    # monitor_status polls in one module run until the new agent's first sample (waited_s): time spent
    # waiting for the agent to sample every container, reported on its own line.
    agent_wait_s = sum(float(t["result"].get("waited_s") or 0) for t in tasks
                       if t["action"].endswith("monitor_status") and not t["skipped"])
    transfer_s = archive_s + verify_s + image_save_s
    waits_s = stop_start_s + health_tail_s + fix_wait_s + agent_wait_s
    overhead_s = wall - transfer_s - waits_s

    in_tasks = sum(t["seconds"] for t in tasks)
    first = min(t["start"] for t in tasks) if tasks else None
    last = max(t["end"] for t in tasks) if tasks else None
    span = (last - first).total_seconds() if tasks else 0.0
    slowest = sorted(tasks, key=lambda t: -t["seconds"])[:10]
    runs_by_role = {}
    for task in tasks:
        role = task["name"].split(" : ")[0] if " : " in task["name"] else "play"
        runs_by_role[role.replace("homeiq.phase0.", "")] = runs_by_role.get(role.replace("homeiq.phase0.", ""), 0) + \
            module_runs(task)
    runs = sum(runs_by_role.values())
    counted = [t for t in tasks if not t["skipped"]]
    return {
        "total_s": round(wall, 2),
        "report_duration_s": report.get("duration_s"),
        "verdict": report.get("verdict"),
        "steps": [{"name": n, "status": s, "seconds": d} for n, s, d in steps],
        "transfer_s": round(transfer_s, 2),
        "transfer": {"volume_archives_s": round(archive_s, 3), "verify_hashing_s": round(verify_s, 3),
                     "image_save_s": round(image_save_s, 3), "volumes": len(volumes), "raw_bytes": raw_bytes},
        "waits_s": round(waits_s, 2),
        "waits": {"backup_stop_start_s": stop_start_s, "backup_health_tail_s": health_tail_s,
                  "containers_stopped": stopped, "healthcheck_fix_waits_s": round(fix_wait_s, 2),
                  "agent_first_sample_s": round(agent_wait_s, 2)},
        "overhead_s": round(overhead_s, 2),
        "meets_target": overhead_s < 30,
        "tasks": len(tasks), "tasks_run": len(counted),
        "module_runs": runs, "module_runs_by_role": runs_by_role,
        "overhead_per_module_run_s": round(overhead_s / runs, 2) if runs else None,
        "task_seconds_sum": round(in_tasks, 2),
        "first_to_last_task_s": round(span, 2),
        "startup_and_exit_s": round(wall - span, 2),
        "slowest_tasks": [{"name": t["name"], "action": t["action"], "seconds": round(t["seconds"], 2)}
                          for t in slowest],
        "report": report_path,
    }


def print_table(summary):
    print("\nphase0 on %s services / %s volumes: total %.1f s (report says %s s), verdict %s" % (
        summary["services"], summary["volumes"], summary["total_s"], summary["report_duration_s"], summary["verdict"]))
    print("%-34s %9s" % ("step", "seconds"))
    stepped = 0.0
    for step in summary["steps"]:
        stepped += step["seconds"]
        print("%-34s %9.1f  %s" % (step["name"], step["seconds"], step["status"]))
    print("%-34s %9.1f" % ("outside the steps (start, report, end)", summary["total_s"] - stepped))
    print("%-34s %9.1f  (archives %.2f, verify hashing %.2f, image save %.2f; %.1f MB raw)" % (
        "data transfer", summary["transfer_s"], summary["transfer"]["volume_archives_s"],
        summary["transfer"]["verify_hashing_s"], summary["transfer"]["image_save_s"],
        summary["transfer"]["raw_bytes"] / 1e6))
    print("%-34s %9.1f  (backup stop/start %.2f, health after restart %.2f, fix waits %.2f, "
          "agent's first sample %.2f)" % (
              "waits", summary["waits_s"], summary["waits"]["backup_stop_start_s"],
              summary["waits"]["backup_health_tail_s"], summary["waits"]["healthcheck_fix_waits_s"],
              summary["waits"]["agent_first_sample_s"]))
    print("%-34s %9.1f  target < 30 s: %s" % ("orchestration overhead", summary["overhead_s"],
                                              "met" if summary["meets_target"] else "NOT met"))
    print("tasks: %d (%d run), module processes on the target: %d (%s), overhead per module run %.2f s" % (
        summary["tasks"], summary["tasks_run"], summary["module_runs"],
        ", ".join("%s %d" % kv for kv in sorted(summary["module_runs_by_role"].items())),
        summary["overhead_per_module_run_s"] or 0))
    print("controller start-up + exit: %.1f s; CPU of ansible-playbook and its module processes: %.1f s" % (
        summary["startup_and_exit_s"], summary.get("ansible_cpu_s", 0)))
    print("\nslowest tasks:")
    for task in summary["slowest_tasks"]:
        print("  %7.2f s  %s  [%s]" % (task["seconds"], task["name"], task["action"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--services", type=int, default=40)
    parser.add_argument("--volumes", type=int, default=None, help="named volumes (default: services // 2)")
    parser.add_argument("--keep", action="store_true", help="leave the stack and the temp dir")
    parser.add_argument("--skip-tags", default=None, help="passed to ansible-playbook (e.g. healthcheck)")
    parser.add_argument("--json-out", default=None, help="also write the result JSON to this file")
    args = parser.parse_args()
    volumes = args.volumes if args.volumes is not None else args.services // 2

    load = os.getloadavg()
    directory = tempfile.mkdtemp(prefix="phase0-stack%d-" % args.services, dir="/var/tmp")
    project = "p0s%d-%s" % (args.services, uuid.uuid4().hex[:8])
    output_dir = os.path.join(directory, "out")
    os.makedirs(output_dir)
    with open(os.path.join(directory, "compose.yml"), "w") as handle:
        json.dump(compose_yaml(args.services, volumes), handle, indent=1)
    with open(os.path.join(directory, ".env"), "w") as handle:
        handle.write("LOG_LEVEL=INFO\nAPP_TOKEN=bench-token-%s\n" % uuid.uuid4().hex)
    os.chmod(os.path.join(directory, ".env"), 0o600)
    print("project %s in %s (load average %.2f %.2f %.2f)" % ((project, directory) + load), flush=True)

    rc = None
    try:
        started = time.monotonic()
        compose(directory, project, "up", "-d", "--quiet-pull")
        rows = wait_settled(directory, project)
        print("stack up and settled in %.1f s: %d containers, %s" % (
            time.monotonic() - started, len(rows),
            ", ".join("%s %s" % (h, sum(1 for r in rows if r[-1] == h)) for h in sorted(set(r[-1] for r in rows)))),
            flush=True)
        load_before_run = os.getloadavg()
        rc, wall, cpu, data, stderr = run_phase0(directory, project, output_dir, args.skip_tags)
        summary = analyse(wall, data, output_dir)
        summary.update(ansible_cpu_s=round(cpu, 2), services=args.services, volumes=volumes, project=project, rc=rc,
                       load_at_start=[round(x, 2) for x in load], load_before_run=[round(x, 2) for x in load_before_run],
                       load_after_run=[round(x, 2) for x in os.getloadavg()], skip_tags=args.skip_tags,
                       callback_json=os.path.join(output_dir, "phase0_callback.json"))
        print_table(summary)
        if rc != 0:
            print("ansible-playbook exited %d; failed tasks: %s" % (rc, [
                (t["name"], t["result"].get("msg")) for t in tasks_of(data) if t["failed"]]), file=sys.stderr)
            print(stderr[-2000:], file=sys.stderr)
        print("RESULT " + json.dumps(summary, sort_keys=True), flush=True)
        if args.json_out:
            with open(args.json_out, "w") as handle:
                json.dump(summary, handle, indent=2, sort_keys=True)
    finally:
        stop_monitoring(directory, project, output_dir)
        if not args.keep:
            compose(directory, project, "down", "-v", "-t", "5", "--remove-orphans", check=False)
            shutil.rmtree(directory, ignore_errors=True)
        else:
            print("kept: %s (docker compose --project-directory %s -p %s down -v)" % (directory, directory, project))
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
