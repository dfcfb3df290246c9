# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is this pid really our monitor agent? (Linux /proc; stdlib only.)

A pid file alone is not proof: the pid may have been reused, or another process may have the
agent's name in its command line. The agent's pid file records its pid, the kernel start time
of that process (field 22 of /proc/<pid>/stat) and its config path; a pid is ours only when all
three match. Nothing here ever matches processes by name.
"""
from __future__ import annotations

import json
import os


def proc_start_ticks(pid, proc="/proc"):
    """Start time of a process in clock ticks since boot, or None if it does not exist."""
    try:
        with open("%s/%d/stat" % (proc, int(pid)), "rb") as handle:
            data = handle.read().decode("utf-8", "replace")
    except (OSError, ValueError):
        return None
    # The command name (field 2) is in parentheses and may contain spaces or ')'.
    rest = data[data.rfind(")") + 2:].split()
    try:
        return int(rest[19])  # field 22 overall; rest starts at field 3
    except (IndexError, ValueError):
        return None


def proc_cmdline(pid, proc="/proc"):
    """argv of a process as a list of str, or None."""
    try:
        with open("%s/%d/cmdline" % (proc, int(pid)), "rb") as handle:
            data = handle.read()
    except (OSError, ValueError):
        return None
    return [part.decode("utf-8", "replace") for part in data.split(b"\0") if part]


def boot_time(proc="/proc"):
    """Boot time (epoch seconds) from /proc/stat, or None."""
    try:
        with open(proc + "/stat") as handle:
            for line in handle:
                if line.startswith("btime "):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def start_epoch(ticks, proc="/proc"):
    """Epoch seconds a process started, from its start ticks."""
    btime = boot_time(proc)
    if ticks is None or btime is None:
        return None
    return btime + ticks / float(os.sysconf("SC_CLK_TCK"))


def pid_record(pid, config_path, role, proc="/proc"):
    """What the agent writes to its pid file."""
    return {"pid": int(pid), "start_ticks": proc_start_ticks(pid, proc), "config": config_path,
            "role": role}


def read_pid_file(path):
    """The pid file's record, or None when missing or unreadable."""
    try:
        with open(path) as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("pid"), int):
        return None
    return record


def identity_problem(record, config_path, cmdline, start_ticks):
    """Why the process of a pid file record is NOT our agent, or None when it is (pure).

    cmdline and start_ticks are what /proc says about record['pid'] now.
    """
    if not record:
        return "no pid file"
    if cmdline is None or start_ticks is None:
        return "process %s is not running" % record.get("pid")
    if record.get("start_ticks") != start_ticks:
        return "pid %s was reused by another process (start time differs)" % record.get("pid")
    if record.get("config") != config_path:
        return "pid file belongs to another agent config (%s)" % record.get("config")
    if config_path not in cmdline or not any(arg.endswith("phase0_monitor.py") for arg in cmdline):
        return "pid %s is not running phase0_monitor.py --config %s" % (record.get("pid"), config_path)
    return None


def verify_agent(pid_file, config_path, proc="/proc"):
    """(record, problem): problem is None when the pid file names our live agent."""
    record = read_pid_file(pid_file)
    if not record:
        return None, "no pid file"
    pid = record["pid"]
    return record, identity_problem(record, config_path, proc_cmdline(pid, proc), proc_start_ticks(pid, proc))
