#!/usr/bin/env python
"""Benchmark: diagnosing N unhealthy containers in one module call vs the first run's way.

The first manual run looked at one container with, per container, `docker inspect`,
`docker logs --tail 500` and a `docker exec` of the probe, one command after the other. This
script brings up a generated compose project of N services (the Debian python fixture image,
nothing pulled) that are all unhealthy, in one of two scenarios (--scenario):

  fast-fail  the probe asks a path the server does not have, so curl -f exits 22 in milliseconds:
             every second goes to exec start-up in the engine (CPU-bound; the worst case for a
             concurrent diagnosis on a small machine);
  slow-dns   the first run's own incident (HomeIQ's websocket-ingestion, the demo's fixture): the
             service answers at once but every name takes --dns-delay seconds to resolve inside the
             container, longer than the probe's timeout; the probe by hand waits for it,

and measures on the same containers:

  baseline   serially per container: `docker inspect`, `docker logs --tail 500`, `docker exec <probe>`
             (the first run's way; it collects less than the module: no DNS timing, no fetch by
             address, no tool check, no stats, no classification, no evidence files);
  cli_io     serially per container: `docker inspect` + `docker logs --tail 500` only (the P15 reference);
  ansible    `ansible localhost -m homeiq.phase0.health_diagnose` - one task, everything included
             (ansible-core start-up, module transfer, measuring, classifying, writing evidence);
  module     the module process alone, run as Ansible runs it on the target (interpreter start,
             imports, connect, diagnose, evidence);
  in-process health_diagnosis.diagnose() alone.

It checks that every container was diagnosed (and classified the same way) before reporting.
Usage: .venv/bin/python benchmarks/health_diagnose_bench.py [--containers 40] [--repeat 3]
       [--scenario fast-fail|slow-dns] [--dns-delay 2] [--keep]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
sys.path.insert(0, os.path.join(ROOT, ".collections"))

IMAGE = "phase0-fixture/debian-python:latest"
DEMO_APP = os.path.join(ROOT, "tests", "fixtures", "demo", "app")
# What each scenario's containers run and how their probe fails:
#   fast-fail  python's http.server; the probe asks a path it does not have, so curl -f exits 22 in
#              milliseconds: the exec itself is the whole cost (CPU-bound, the worst case for us);
#   slow-dns   the demo's websocket-ingestion (HomeIQ's incident in the first run): the service is fine but
#              every name resolves in --dns-delay seconds inside the container, longer than the
#              probe's timeout, so Docker records "Health check exceeded timeout".
SCENARIOS = {
    "fast-fail": {"command": ["python3", "-m", "http.server", "8000"],
                  "probe": ["curl", "-fsS", "http://localhost:8000/health"], "timeout": "2s"},
    "slow-dns": {"command": ["python3", "/app/websocket_ingestion.py"],
                 "probe": ["curl", "-f", "http://ingestion.internal:8000/health"], "timeout": "1s"},
}


def compose_file(count, scenario, dns_delay):
    spec = SCENARIOS[scenario]
    lines = ["services:"]
    for index in range(count):
        lines += ["  svc-%02d:" % index, "    image: %s" % IMAGE, "    pull_policy: never",
                  "    command: %s" % json.dumps(spec["command"]),
                  "    environment:", "      SVC_TOKEN: bench-secret-%02d-do-not-leak" % index,
                  "      SERVICE_NAME: svc-%02d" % index, "      PORT: \"8000\"",
                  "      DNS_DELAY_SECONDS: \"%s\"" % dns_delay,
                  "    volumes: [\"%s:/app:ro\"]" % DEMO_APP,
                  # No network: many concurrent endpoint changes can upset engine 20.10's bridge; the
                  # probe talks to localhost inside the container anyway.
                  "    network_mode: none",
                  "    healthcheck:",
                  "      test: %s" % json.dumps(["CMD"] + spec["probe"]),
                  "      interval: 20s", "      timeout: %s" % spec["timeout"], "      retries: 1"]
    return "\n".join(lines) + "\n"


def compose(directory, project, *args):
    return subprocess.run(["docker", "compose", "--project-directory", directory, "-p", project] + list(args),
                          check=True, capture_output=True, text=True, timeout=900)


def unhealthy(project):
    out = subprocess.run(["docker", "ps", "--filter", "label=com.docker.compose.project=%s" % project,
                          "--filter", "health=unhealthy", "--format", "{{.Names}}"],
                         check=True, capture_output=True, text=True).stdout
    return sorted(out.split())


def baseline(names, probe, with_exec=True):
    started = time.monotonic()
    for name in names:
        subprocess.run(["docker", "inspect", name], capture_output=True, check=True)
        subprocess.run(["docker", "logs", "--tail", "500", name], capture_output=True, check=True)
        if with_exec:
            subprocess.run(["docker", "exec", name] + probe, capture_output=True, check=False)
    return time.monotonic() - started


def env():
    return dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
                ANSIBLE_STDOUT_CALLBACK="json", PATH=BIN + os.pathsep + os.environ.get("PATH", ""))


def ansible_call(project, out_dir):
    started = time.monotonic()
    proc = subprocess.run([os.path.join(BIN, "ansible"), "localhost", "-m", "homeiq.phase0.health_diagnose",
                           "-a", json.dumps({"project_name": project, "output_dir": out_dir})],
                          capture_output=True, text=True, cwd=ROOT, env=env(), check=False)
    elapsed = time.monotonic() - started
    data = json.loads(proc.stdout[proc.stdout.index("{"):])
    return elapsed, data["plays"][0]["tasks"][0]["hosts"]["localhost"]


def module_process(project, out_dir, work):
    args = os.path.join(work, "args.json")
    with open(args, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": {"project_name": project, "output_dir": out_dir}}, handle)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "plugins", "modules", "health_diagnose.py"), args],
                          capture_output=True, check=False, text=True, env=dict(env(), PYTHONPATH=os.path.join(ROOT, ".collections")))
    elapsed = time.monotonic() - started
    return elapsed, json.loads(proc.stdout)


def in_process(project, out_dir):
    import docker
    from ansible_collections.homeiq.phase0.plugins.module_utils.health_diagnosis import diagnose
    api = docker.APIClient(timeout=120)
    started = time.monotonic()
    result = diagnose(api, project_name=project, output_dir=out_dir)
    elapsed = time.monotonic() - started
    api.close()
    return elapsed, result


def check(result, names):
    diagnosed = sorted(d["container"] for d in result["diagnoses"])
    assert diagnosed == names, (diagnosed, names)
    classes = set(d["classification"] for d in result["diagnoses"])
    assert len(classes) == 1, classes
    # where a probe fix is recommended it was run in the container (by the measuring exec) and passed
    for entry in result["diagnoses"]:
        if (entry["recommendation"] or {}).get("healthcheck"):
            assert entry["recommendation"].get("passes") is True and entry["fixable"], entry["recommendation"]
    return classes.pop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="fast-fail")
    parser.add_argument("--dns-delay", type=float, default=2.0, help="slow-dns: seconds per name resolution")
    parser.add_argument("--keep", action="store_true", help="leave the stack running")
    opts = parser.parse_args()

    work = tempfile.mkdtemp(prefix="p0hbench")
    project = "p0hb" + uuid.uuid4().hex[:6]
    with open(os.path.join(work, "compose.yml"), "w") as handle:
        handle.write(compose_file(opts.containers, opts.scenario, opts.dns_delay))
    compose(work, project, "up", "-d", "--quiet-pull")
    try:
        deadline = time.monotonic() + 180
        while len(unhealthy(project)) < opts.containers:
            if time.monotonic() > deadline:
                raise SystemExit("only %d of %d containers became unhealthy" % (len(unhealthy(project)), opts.containers))
            time.sleep(2)
        names = unhealthy(project)
        rows = {"baseline": [], "cli_io": [], "ansible": [], "module": [], "in_process": []}
        classification = None
        for run in range(opts.repeat):
            probe = SCENARIOS[opts.scenario]["probe"]
            rows["baseline"].append(baseline(names, probe))
            rows["cli_io"].append(baseline(names, probe, with_exec=False))
            for kind in ("ansible", "module", "in_process"):
                out_dir = os.path.join(work, "diag-%s-%d" % (kind, run))
                if kind == "ansible":
                    elapsed, result = ansible_call(project, out_dir)
                elif kind == "module":
                    elapsed, result = module_process(project, out_dir, work)
                else:
                    elapsed, result = in_process(project, out_dir)
                classification = check(result, names)
                rows[kind].append(elapsed)
                leaked = subprocess.run(["grep", "-rl", "do-not-leak", out_dir], capture_output=True, check=False, text=True).stdout
                assert not leaked, leaked
        med = dict((k, statistics.median(v)) for k, v in rows.items())
        load = os.getloadavg()[0]
        print("scenario: %s%s, containers: %d, classification: %s, repeats: %d, load average at end: %.1f"
              % (opts.scenario, " (%.1f s per name)" % opts.dns_delay if opts.scenario == "slow-dns" else "",
                 len(names), classification, opts.repeat, load))
        print("| Way | Median wall time | Runs |")
        print("|---|---:|---|")
        for kind in ("baseline", "cli_io", "ansible", "module", "in_process"):
            print("| %s | %.2f s | %s |" % (kind, med[kind], ", ".join("%.2f" % v for v in rows[kind])))
        print("ratio baseline / ansible one call: %.1fx" % (med["baseline"] / med["ansible"]))
        print("ratio baseline / module process:   %.1fx" % (med["baseline"] / med["module"]))
        print("ratio in-process / cli_io (P15, target <= 1.5): %.2f" % (med["in_process"] / med["cli_io"]))
    finally:
        if not opts.keep:
            compose(work, project, "down", "-t", "1")
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
