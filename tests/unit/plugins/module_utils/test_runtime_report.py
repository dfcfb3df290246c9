"""Runtime audit rows: pure helpers of the probe (stream demux, marked output, rows) and the reports."""
import csv
import io
import struct

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.runtime_probe import (
    MARK, apply_policy, demux_frames, rows_for_container, shell_script, split_marked_output)
from ansible_collections.homeiq.phase0.plugins.module_utils.runtime_report import (
    CSV_COLUMNS, render_csv, summarize_rows, upgrade_plan)
from ansible_collections.homeiq.phase0.plugins.module_utils.version_policy import (
    DEFAULT_MINIMUMS, DEFAULT_PRIORITY_RULES)


def frame(stream, data):
    return struct.pack(">BxxxL", stream, len(data)) + data


def test_demux_frames_splits_streams_and_keeps_partial_tail():
    data = frame(1, b"Python 3.11.2\n") + frame(2, b"warn\n") + frame(1, b"x")[:6]
    out, err, rest = demux_frames(data)
    assert (out, err) == (b"Python 3.11.2\n", b"warn\n")
    assert len(rest) == 6


def test_shell_script_and_marked_output_roundtrip():
    script = shell_script([("python3", "python"), ("node",)])
    assert script.count(MARK) == 2 and script.count("break") == 2
    assert "for c in python3 python;" in script and "for c in node;" in script
    text = "%s python3\nPython 3.11.2\n%s node\nsh: node: not found\n" % (MARK, MARK)
    assert split_marked_output(text) == {"python3": "Python 3.11.2\n", "node": "sh: node: not found\n"}


FACT = {"service": "api", "container": "p-api-1", "container_id": "abc", "image": "img", "image_id": "sha256:1",
        "state": "running"}


@pytest.mark.parametrize("fact, findings, notes, expected", [
    (FACT, [{"runtime": "python", "version": "3.11.2", "source": "exec", "command": "python3"}], [],
     [("python", "3.11.2", None)]),
    (FACT, [], [], [("none", None, "NO_RUNTIME")]),
    (FACT, [], ["exec probe timed out after 2 s"], [("unknown", None, "UNKNOWN")]),
    (dict(FACT, state="exited"), [], [], [("unknown", None, "STOPPED")]),
    (dict(FACT, state="exited"), [{"runtime": "python", "version": "3.12.1", "source": "env",
                                   "command": "PYTHON_VERSION"}], [], [("python", "3.12.1", None)]),
])
def test_rows_for_container(fact, findings, notes, expected):
    rows = rows_for_container(fact, findings, notes)
    assert [(r["runtime"], r["version"], r.get("status")) for r in rows] == expected
    if fact["state"] != "running":
        assert "exited" in rows[0]["note"]


def _rows():
    raw = [
        dict(FACT, service="data-api", container="d-1", runtime="python", version="3.12.1", source="env", command="", note=""),
        dict(FACT, service="legacy-worker", container="l-1", runtime="python", version="3.9.2", source="exec", command="python3", note=""),
        dict(FACT, service="ai-ui", container="u-1", runtime="node", version="16.20.0", source="exec", command="node", note=""),
        dict(FACT, service="ai-ui", container="u-1", runtime="python", version="3.11.2", source="exec", command="python3", note=""),
        dict(FACT, service="proxy", container="p-1", runtime="none", version=None, source="none", command="",
             status="NO_RUNTIME", note="no python or node runtime found"),
        dict(FACT, service="odd", container="o-1", runtime="unknown", version=None, source="none", command="",
             status="UNKNOWN", note="exec probe timed out"),
        dict(FACT, service="old", container="x-1", state="exited", runtime="unknown", version=None, source="none",
             command="", status="STOPPED", note="container is exited"),
    ]
    return apply_policy(raw, DEFAULT_MINIMUMS, DEFAULT_PRIORITY_RULES, "MEDIUM")


def test_apply_policy_statuses_and_priorities():
    got = [(r["service"], r["runtime"], r["status"], r["priority"], r["minimum"]) for r in _rows()]
    assert got == [
        ("data-api", "python", "OK", "CRITICAL", "3.10"),
        ("legacy-worker", "python", "NEEDS_UPGRADE", "MEDIUM", "3.10"),
        ("ai-ui", "node", "NEEDS_UPGRADE", "HIGH", "18"),
        ("ai-ui", "python", "OK", "HIGH", "3.10"),
        ("proxy", "none", "NO_RUNTIME", "MEDIUM", None),
        ("odd", "unknown", "UNKNOWN", "MEDIUM", None),
        ("old", "unknown", "STOPPED", "MEDIUM", None),
    ]


def test_summary_counts():
    summary = summarize_rows(_rows())
    assert summary["containers"] == 6 and summary["running"] == 5 and summary["not_running"] == 1
    assert summary["by_status"] == {"OK": 2, "NEEDS_UPGRADE": 2, "UNKNOWN": 1, "NO_RUNTIME": 1, "STOPPED": 1}
    assert summary["versions"] == {"node": {"16.20.0": 1}, "python": {"3.11.2": 1, "3.12.1": 1, "3.9.2": 1}}


def test_upgrade_plan_grouped_by_priority():
    plan = upgrade_plan(_rows())
    assert [g["priority"] for g in plan] == ["CRITICAL", "HIGH", "MEDIUM", "LOW"]
    counts = dict((g["priority"], (g["needs_upgrade_count"], g["unknown_count"])) for g in plan)
    assert counts == {"CRITICAL": (0, 0), "HIGH": (1, 0), "MEDIUM": (1, 1), "LOW": (0, 0)}
    assert plan[1]["needs_upgrade"][0]["service"] == "ai-ui"


def test_render_csv_is_parseable_with_header():
    text = render_csv(_rows())
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert tuple(parsed[0].keys()) == CSV_COLUMNS
    assert len(parsed) == 7
    assert parsed[1]["status"] == "NEEDS_UPGRADE" and parsed[1]["version"] == "3.9.2"
    assert parsed[4]["version"] == ""


from ansible_collections.homeiq.phase0.plugins.module_utils.runtime_probe import findings_for, plan_container  # noqa: E402


@pytest.mark.parametrize("state, env, mode, expected", [
    ("running", {"python": "3.12.1"}, "env_then_exec", ({"python": "3.12.1"}, [])),
    ("running", {}, "env_then_exec", ({}, ["python", "node"])),
    ("running", {"python": "3.12.1"}, "exec", ({}, ["python", "node"])),
    ("running", {}, "env", ({}, [])),
    ("exited", {"node": "20.1.0"}, "exec", ({"node": "20.1.0"}, [])),
    ("exited", {}, "env_then_exec", ({}, [])),
])
def test_plan_container(state, env, mode, expected):
    assert plan_container(dict(FACT, state=state), env, ["python", "node"], mode) == expected


def test_findings_borrowed_from_same_image_say_so():
    plan = ({}, ["python", "node"])
    found = {"python": {"version": "3.11.2", "command": "python3"}}
    findings, notes = findings_for(FACT, plan, (found, [], "other-1"))
    assert findings == [{"runtime": "python", "version": "3.11.2", "source": "exec", "command": "python3"}]
    assert notes == ["read in other-1 (same image)"]
    findings, notes = findings_for(FACT, plan, (found, [], FACT["container"]))
    assert notes == []


def test_findings_env_only_and_failed_probe():
    findings, notes = findings_for(FACT, ({"node": "20.19.0"}, []), None)
    assert findings == [{"runtime": "node", "version": "20.19.0", "source": "env", "command": "NODE_VERSION"}]
    findings, notes = findings_for(FACT, ({}, ["python"]), ({}, ["exec probe timed out after 2 s"], FACT["container"]))
    assert findings == [] and notes == ["exec probe timed out after 2 s"]
