#!/usr/bin/env python
"""CPU use of the monitor agent: N labelled containers, interval I, measured over D seconds.

    .venv/bin/python benchmarks/monitor_agent_cpu.py [--containers 40] [--interval 60] [--duration 300]

Starts N busybox fixture containers under one compose project label, runs
roles/monitoring/files/phase0_monitor.py against them, and reads the agent's utime+stime from
/proc/<pid>/stat after its first sample and at the end. Prints average CPU % of one core and CPU
seconds per sampling cycle. Containers are removed afterwards. Uses the engine of DOCKER_HOST.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AGENT = os.path.join(ROOT, "roles", "monitoring", "files", "phase0_monitor.py")
IMAGE = "phase0-fixture/busybox:latest"


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def samples(status_path):
    try:
        with open(status_path) as handle:
            return json.load(handle)["samples"]
    except (OSError, ValueError, KeyError):
        return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--containers", type=int, default=40)
    parser.add_argument("--interval", type=float, default=60)
    parser.add_argument("--duration", type=float, default=300)
    args = parser.parse_args()
    project = "p0bench" + uuid.uuid4().hex[:6]
    names = ["%s-c%02d" % (project, i) for i in range(args.containers)]
    tmp = tempfile.mkdtemp(prefix="p0bench")
    try:
        for name in names:
            subprocess.run(["docker", "run", "-d", "--name", name, "--network", "none",
                            "--label", "com.docker.compose.project=" + project,
                            "--label", "com.docker.compose.service=" + name, IMAGE, "sh", "-c",
                            "while true; do echo tick; sleep 5; done"], check=True, capture_output=True)
        config = {"project": project, "interval": args.interval, "log_dir": os.path.join(tmp, "logs"),
                  "run_dir": os.path.join(tmp, "run")}
        with open(os.path.join(tmp, "config.json"), "w") as handle:
            json.dump(config, handle)
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".collections"))
        agent = subprocess.Popen([sys.executable, AGENT, "--config", os.path.join(tmp, "config.json")], env=env,
                                 stderr=subprocess.DEVNULL)
        status = os.path.join(tmp, "logs", "health", "status.json")
        t0 = time.time()
        while samples(status) < 1 and time.time() - t0 < 120:
            time.sleep(0.2)
        first_cycle = cpu_seconds(agent.pid)  # start-up + first cycle, reported separately
        start_wall, start_cpu, start_samples = time.time(), first_cycle, samples(status)
        time.sleep(args.duration)
        wall, cpu, taken = time.time() - start_wall, cpu_seconds(agent.pid) - start_cpu, samples(status) - start_samples
        agent.terminate()
        agent.wait(timeout=30)
        result = {"containers": args.containers, "interval_s": args.interval, "measured_s": round(wall, 1),
                  "cycles": taken, "agent_cpu_s": round(cpu, 3),
                  "cpu_percent_of_one_core": round(cpu / wall * 100, 3),
                  "cpu_s_per_cycle": round(cpu / taken, 3) if taken else None,
                  "startup_and_first_cycle_cpu_s": round(first_cycle, 3)}
        print(json.dumps(result, indent=1))
    finally:
        subprocess.run(["docker", "rm", "-f"] + names, capture_output=True, check=False)


if __name__ == "__main__":
    main()
