#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""phase0-dashboard: live terminal view of the build monitor (needs `rich`).

Reads the agent's status.json (default: logs/current_rebuild/phase0/health/status.json under the
current directory) and shows one row per service: state, health, restarts, CPU, memory, a CPU
sparkline of the last hour, and the latest errors. Press q to quit. Plain terminal output only,
so it works over SSH. `--once` prints a single frame and exits (for scripts and tests).
"""
from __future__ import annotations

import argparse
import json
import os
import select
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# phase0_libload.py is installed next to this script (also when it is imported rather than run).
if HERE not in sys.path:
    sys.path.insert(0, HERE)
from phase0_libload import load_lib  # noqa: E402  pylint: disable=wrong-import-position

load_lib(os.path.join(HERE, "lib"))

# pylint: disable=wrong-import-position
from ansible_collections.homeiq.phase0.plugins.module_utils.monitor_html import sparkline  # noqa: E402
from ansible_collections.homeiq.phase0.plugins.module_utils.monitor_sample import human_bytes  # noqa: E402

DEFAULT_STATUS = os.path.join("logs", "current_rebuild", "phase0", "health", "status.json")
HEALTH_STYLE = {"healthy": "green", "unhealthy": "bold red", "starting": "yellow", "none": "dim"}


def load_status(path):
    try:
        with open(path) as handle:
            return json.load(handle), None
    except (OSError, ValueError) as exc:
        return None, "cannot read %s: %s" % (path, exc)


def render(status, problem=None, errors=8):
    """One frame: a rich renderable for a status document."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    if status is None:
        return Text("phase0-dashboard: %s (is the agent running?)" % problem, style="bold red")
    engine = "engine ok" if status.get("engine_connected") else "ENGINE NOT CONNECTED"
    title = "%s  last sample %s  samples %s  errors %s  %s" % (
        status.get("project"), status.get("last_sample"), status.get("samples"), status.get("errors"), engine)
    table = Table(title=title, expand=False)
    for column in ("Service", "Container", "State", "Health", "Restarts", "CPU", "Memory", "CPU last hour"):
        table.add_column(column, justify="right" if column in ("Restarts", "CPU", "Memory") else "left")
    for svc in status.get("services") or []:
        history = svc.get("history") or []
        cpu = svc.get("cpu_percent")
        health = svc.get("health") or "none"
        table.add_row(svc.get("service") or "", svc.get("container") or "", svc.get("state") or "",
                      Text(health, style=HEALTH_STYLE.get(health, "")), str(svc.get("restarts", 0)),
                      "-" if cpu is None else "%.1f%%" % cpu, human_bytes(svc.get("mem_bytes")),
                      sparkline([p.get("cpu") for p in history], width=30))
    lines = Text()
    for err in (status.get("recent_errors") or [])[-errors:]:
        lines.append("%s " % err.get("ts", ""), style="dim")
        lines.append("%s " % err.get("container", ""), style="bold")
        lines.append((err.get("line") or "")[:200] + "\n")
    if not lines:
        lines.append("no errors\n", style="dim")
    return Group(table, Text("Recent errors (q to quit)", style="bold underline"), lines)


def key_pressed(timeout):
    """The key pressed within timeout seconds (stdin in cbreak mode), or None."""
    ready, dummy, dummy = select.select([sys.stdin], [], [], timeout)
    return sys.stdin.read(1) if ready else None


def run_live(path, refresh):
    import termios
    import tty

    from rich.live import Live

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd) if os.isatty(fd) else None
    try:
        if saved is not None:
            tty.setcbreak(fd)
        with Live(render(*load_status(path)), refresh_per_second=4, screen=False) as live:
            deadline = time.monotonic()
            while True:
                key = key_pressed(0.25) if saved is not None else time.sleep(0.25)
                if key in ("q", "Q"):
                    return 0
                if time.monotonic() >= deadline:
                    live.update(render(*load_status(path)))
                    deadline = time.monotonic() + refresh
    except KeyboardInterrupt:
        return 0
    finally:
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="phase0-dashboard", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--status", default=DEFAULT_STATUS, help="status.json written by the agent")
    parser.add_argument("--refresh", type=float, default=2.0, help="seconds between redraws")
    parser.add_argument("--once", action="store_true", help="print one frame and exit")
    parser.add_argument("--width", type=int, default=None, help="terminal width for --once")
    args = parser.parse_args(argv)
    try:
        from rich.console import Console
    except ImportError:
        sys.stderr.write("phase0-dashboard needs the Python package 'rich' (pip install rich)\n")
        return 2
    if args.once:
        status, problem = load_status(args.status)
        Console(width=args.width or 160, force_terminal=False).print(render(status, problem))
        return 0 if status is not None else 1
    return run_live(args.status, args.refresh)


if __name__ == "__main__":
    sys.exit(main())
