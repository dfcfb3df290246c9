"""Classification, table-driven over health logs and measured facts."""
import copy

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.health_classify import CLASSES, classify, last_line
from ansible_collections.homeiq.phase0.plugins.module_utils.health_log import DOCKER_OUTPUT_CAP, summarize_health_log
from ansible_collections.homeiq.phase0.plugins.module_utils.health_probe import parse_probe

TIMEOUT = "Health check exceeded timeout (3s)"
OCI = ('OCI runtime exec failed: exec failed: unable to start container process: exec: "wget": executable file '
       'not found in $PATH: unknown')
CURL_URL = "http://ingestion.internal:8001/health"


def log(*entries):
    """Health log entries 5 s apart: (exit_code, output, seconds)."""
    out = []
    for index, (code, output, seconds) in enumerate(entries):
        start = 10 + index * 5
        out.append({"Start": "2026-12-03T19:48:%02d.000000000Z" % start,
                    "End": "2026-12-03T19:48:%02d.%06d000Z" % (start + int(seconds), int((seconds % 1) * 1e6)),
                    "ExitCode": code, "Output": output})
    return summarize_health_log(out)


def facts(test=("CMD", "curl", "-f", CURL_URL), entries=(), manual=None, dns=None, fetches=None, binary_path="/usr/bin/curl",
          ports=None, state=None, timeout_s=3.0, start_period_s=0.0):
    probe = parse_probe(list(test))
    base_state = {"status": "running", "running": True, "restarting": False, "restart_count": 0, "oom_killed": False,
                  "exit_code": 0, "started_at": "2026-12-03T19:48:00.000000Z", "health_status": "unhealthy",
                  "failing_streak": len(entries)}
    base_state.update(state or {})
    value = {
        "healthcheck": {"test": list(test), "interval_s": 5.0, "timeout_s": timeout_s, "retries": 2,
                        "start_period_s": start_period_s},
        "state": base_state,
        "health": log(*entries),
        "probe": probe,
        "tools": {"curl": "/usr/bin/curl", "wget": None, "python3": "/usr/bin/python3", "python": None, "nc": None},
        "probe_binary": {"name": probe["binary"], "path": binary_path, "checked": True},
    }
    if manual is not None:
        value["manual_probe"] = dict({"limit_s": 30.0, "timed_out": False, "output": ""}, **manual)
    if dns is not None:
        value["dns"] = dns
    if fetches is not None:
        value["fetches"] = fetches
    if ports is not None:
        value["listening_ports"] = ports
    return value


def fetch(purpose, status=None, seconds=0.004, error_kind=None, timed_out=False, url=None):
    return {"purpose": purpose, "url": url or ("http://127.0.0.1:8001/health" if purpose == "direct" else CURL_URL),
            "tool": "python-urllib", "status": status, "seconds": seconds, "error": error_kind, "error_kind": error_kind,
            "timed_out": timed_out}


FAST_DNS = [{"name": "ingestion.internal", "seconds": 0.002, "addresses": ["127.0.0.1"], "error": None,
             "timed_out": False}]
SLOW_DNS = [{"name": "ingestion.internal", "seconds": 6.008, "addresses": ["127.0.0.1"], "error": None,
             "timed_out": False}]
OK_DIRECT = [fetch("direct", 200), fetch("name", 200)]

CASES = [
    ("slow dns: probe slower than timeout, name slow, address fast",
     facts(entries=[(-1, TIMEOUT, 3)] * 5, manual={"exit_code": 0, "seconds": 6.07}, dns=SLOW_DNS,
           fetches=[fetch("direct", 200), fetch("name", 200, seconds=6.01)]),
     "probe_timeout_slow_dns", ["6.008 s", "HTTP 200"]),
    ("slow dns: name lookup never answers within our limit",
     facts(entries=[(-1, TIMEOUT, 3)] * 2, manual={"timed_out": True, "seconds": 30.0, "exit_code": None},
           dns=[{"name": "ingestion.internal", "seconds": 15.0, "addresses": [], "error": None, "timed_out": True}],
           fetches=[fetch("direct", 200)]),
     "probe_timeout_slow_dns", ["no answer within 15.000 s"]),
    ("probe itself slow, dns fast, service fast",
     facts(entries=[(-1, TIMEOUT, 3)] * 5, manual={"exit_code": 0, "seconds": 4.2}, dns=FAST_DNS, fetches=OK_DIRECT),
     "probe_timeout", ["exit 0 in 4.200 s"]),
    ("probe's own timeout fires (curl 28) while the service answers fast",
     facts(entries=[(28, "curl: (28) Operation timed out after 2001 milliseconds", 2)] * 3,
           manual={"exit_code": 28, "seconds": 2.0, "output": "curl: (28) Operation timed out"}, dns=FAST_DNS,
           fetches=OK_DIRECT),
     "probe_timeout", []),
    ("only the health log says timeout (probe not re-run), fewer than 5 entries",
     facts(entries=[(-1, TIMEOUT, 3)], dns=FAST_DNS, fetches=OK_DIRECT),
     "probe_timeout", ["1 entries"]),
    ("missing binary: Docker's OCI exec failure and our PATH search agree",
     facts(test=("CMD", "wget", "--spider", "http://localhost:8019/health"), entries=[(-1, OCI, 0.1)] * 5,
           manual={"exec_error": "No such file or directory: wget", "exec_error_kind": "not_found", "seconds": 0.001},
           binary_path=None, fetches=[fetch("direct", 200)]),
     "probe_tool_missing", ["'wget': not found"]),
    ("missing binary in a shell probe: exit 127",
     facts(test=("CMD-SHELL", "wget -q http://localhost:8019/health"),
           entries=[(127, "/bin/sh: 1: wget: not found", 0.01)] * 3,
           manual={"exit_code": 127, "seconds": 0.01, "output": "/bin/sh: 1: wget: not found"}, binary_path=None),
     "probe_tool_missing", []),
    ("missing binary known only from the log (could not measure)",
     facts(test=("CMD", "wget", "http://localhost:8019/"), entries=[(126, OCI, 0.1)] * 2, binary_path=None),
     "probe_tool_missing", []),
    ("HTTP 500 from the service: curl -f exits 22",
     facts(test=("CMD", "curl", "-fsS", "http://localhost:8006/health"),
           entries=[(22, "curl: (22) The requested URL returned error: 500\n", 0.1)] * 5,
           manual={"exit_code": 22, "seconds": 0.05, "output": "curl: (22) The requested URL returned error: 500"},
           dns=FAST_DNS, fetches=[fetch("direct", 500), fetch("name", 500)]),
     "service_unhealthy", ["HTTP 500"]),
    ("nothing listening at all: curl 7",
     facts(entries=[(7, "curl: (7) Failed to connect", 0.01)] * 5,
           manual={"exit_code": 7, "seconds": 0.01, "output": "curl: (7) Failed to connect"}, dns=FAST_DNS,
           fetches=[fetch("direct", error_kind="refused"), fetch("name", error_kind="refused")], ports=[]),
     "service_unhealthy", ["listening TCP ports in the container: none"]),
    ("listening on another port: wrong port",
     facts(entries=[(7, "curl: (7) Failed to connect", 0.01)] * 5,
           manual={"exit_code": 7, "seconds": 0.01, "output": "curl: (7) Failed to connect"}, dns=FAST_DNS,
           fetches=[fetch("direct", error_kind="refused"), fetch("name", error_kind="refused")], ports=[8002]),
     "wrong_port_or_path", ["8002"]),
    ("404 on the probe path: wrong path",
     facts(entries=[(22, "curl: (22) The requested URL returned error: 404\n", 0.01)] * 3,
           manual={"exit_code": 22, "seconds": 0.01, "output": "curl: (22) The requested URL returned error: 404"},
           dns=FAST_DNS, fetches=[fetch("direct", 404), fetch("name", 404)], ports=[8001]),
     "wrong_port_or_path", ["HTTP 404"]),
    ("service too slow itself: direct fetch times out too",
     facts(entries=[(-1, TIMEOUT, 3)] * 5, manual={"timed_out": True, "seconds": 30.0, "exit_code": None},
           dns=FAST_DNS, fetches=[fetch("direct", timed_out=True, seconds=11.0, error_kind="timeout")]),
     "service_unhealthy", ["no answer (our timeout)"]),
    ("python probe with a syntax error (HomeIQ 2026-02-04) while the endpoint answers",
     facts(test=("CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://localhost:8001/health)"),
           entries=[(1, "SyntaxError: unterminated string literal (detected at line 1)", 0.05)] * 5,
           manual={"exit_code": 1, "seconds": 0.05, "output": "SyntaxError: unterminated string literal"},
           dns=FAST_DNS, fetches=OK_DIRECT),
     "probe_command_error", ["SyntaxError"]),
    ("probe host does not resolve while 127.0.0.1 answers",
     facts(entries=[(6, "curl: (6) Could not resolve host: ingestion.internal", 0.01)] * 3,
           manual={"exit_code": 6, "seconds": 0.01, "output": "curl: (6) Could not resolve host"},
           dns=[{"name": "ingestion.internal", "seconds": 0.003, "addresses": [], "error": "[Errno -2] Name or service "
                 "not known", "timed_out": False}], fetches=[fetch("direct", 200), fetch("name", error_kind="resolve")]),
     "probe_command_error", ["does not resolve"]),
    ("output at the 4096-byte cap, probe fails, endpoint fine by both paths",
     facts(entries=[(1, ("Traceback (most recent call last):\n" + "  File x\n" * 500)[:DOCKER_OUTPUT_CAP], 0.2)] * 5,
           manual={"exit_code": 1, "seconds": 0.2, "output": "Traceback (most recent call last):"}, dns=FAST_DNS,
           fetches=OK_DIRECT),
     "probe_command_error", ["4096-byte cap"]),
    ("healthy after first failures, started later than the start period",
     facts(entries=[(7, "curl: (7) Failed to connect", 0.01), (7, "curl: (7) Failed to connect", 0.01), (0, "", 0.01)],
           manual={"exit_code": 0, "seconds": 0.02}, dns=FAST_DNS, fetches=OK_DIRECT, start_period_s=5.0,
           state={"health_status": "healthy", "failing_streak": 0}),
     "start_period_too_short", ["start_period is 5.0 s"]),
    ("still unhealthy but passes now; failures were refusals during start-up",
     facts(entries=[(7, "curl: (7) Failed to connect", 0.01)] * 3, manual={"exit_code": 0, "seconds": 0.02},
           dns=FAST_DNS, fetches=OK_DIRECT, start_period_s=0.0),
     "start_period_too_short", ["passes now"]),
    ("restarting container",
     facts(entries=[(7, "x", 0.01)], state={"running": True, "restarting": True, "restart_count": 7, "exit_code": 1}),
     "service_unhealthy", ["restarting", "7 restarts"]),
    ("OOM-killed container",
     facts(entries=[(7, "x", 0.01)], state={"running": False, "status": "exited", "oom_killed": True, "exit_code": 137}),
     "service_unhealthy", ["OOM-killed"]),
    ("passes by hand, failures were timeouts, nothing else measured: undecided",
     facts(entries=[(0, "", 0.1), (-1, TIMEOUT, 3)], manual={"exit_code": 0, "seconds": 0.05}, dns=FAST_DNS,
           fetches=OK_DIRECT),
     "unknown", ["exit 0 in 0.050 s"]),
    ("non-HTTP probe failing: no other path to compare",
     facts(test=("CMD-SHELL", "pg_isready -U homeiq"), entries=[(2, "no response", 0.01)] * 3,
           manual={"exit_code": 2, "seconds": 0.01, "output": "no response"}, binary_path="/usr/bin/pg_isready"),
     "unknown", []),
]


@pytest.mark.parametrize("name, case, expected, needles", CASES, ids=[c[0] for c in CASES])
def test_classify(name, case, expected, needles):
    result = classify(case)
    assert result["classification"] == expected, result
    text = "\n".join(result["evidence"] + [result["reason"]])
    for needle in needles:
        assert needle in text, (needle, text)
    assert result["classification"] in CLASSES


def test_no_healthcheck():
    assert classify({"healthcheck": None})["classification"] == "no_healthcheck"
    assert classify({"healthcheck": {"test": ["NONE"], "disabled": True}})["classification"] == "no_healthcheck"


def test_start_period_measured_value():
    case = facts(entries=[(7, "x", 0.01), (0, "", 0.01)], manual={"exit_code": 0, "seconds": 0.02},
                 fetches=OK_DIRECT, start_period_s=5.0)
    result = classify(case)
    assert result["classification"] == "start_period_too_short"
    assert result["details"]["measured_start_s"] == pytest.approx(15.0)  # 19:48:15 - 19:48:00


def test_evidence_only_states_measured_facts():
    """Remove the DNS measurement and the slow-DNS class disappears: it is never assumed."""
    case = facts(entries=[(-1, TIMEOUT, 3)] * 5, manual={"exit_code": 0, "seconds": 6.07}, dns=SLOW_DNS,
                 fetches=[fetch("direct", 200)])
    assert classify(case)["classification"] == "probe_timeout_slow_dns"
    without = copy.deepcopy(case)
    del without["dns"]
    result = classify(without)
    assert result["classification"] == "probe_timeout"
    assert not any("resolving" in line for line in result["evidence"])


def test_slow_dns_threshold_scales_with_probe_timeout():
    """0.6 s lookups are slow for a 1 s probe timeout, not for a 30 s one."""
    dns = [{"name": "ingestion.internal", "seconds": 0.6, "addresses": ["127.0.0.1"], "error": None, "timed_out": False}]
    short = facts(entries=[(-1, "Health check exceeded timeout (1s)", 1)], manual={"exit_code": 0, "seconds": 1.2},
                  dns=dns, fetches=[fetch("direct", 200, seconds=0.01)], timeout_s=1.0)
    assert classify(short)["classification"] == "probe_timeout_slow_dns"
    long = facts(entries=[(-1, TIMEOUT, 30)], manual={"exit_code": 0, "seconds": 31.0}, dns=dns,
                 fetches=[fetch("direct", 200, seconds=0.01)], timeout_s=30.0)
    assert classify(long)["classification"] == "probe_timeout"


TRACEBACK = ("Traceback (most recent call last):\n  File \"<string>\", line 1, in <module>\n"
             "  File \"/usr/lib/python3.11/urllib/request.py\", line 216, in urlopen\n"
             "urllib.error.HTTPError: HTTP Error 500: Internal Server Error\n")


@pytest.mark.parametrize("output, limit, expected", [
    (TRACEBACK, 200, "urllib.error.HTTPError: HTTP Error 500: Internal Server Error"),
    ("curl: (28) Operation timed out\n\n  \n", 200, "curl: (28) Operation timed out"),
    ("progress 10%\rprogress 100%\rwget: server returned error: HTTP/1.1 500", 200,
     "wget: server returned error: HTTP/1.1 500"),
    ("", 200, ""),
    (None, 200, ""),
    ("x" * 500, 10, "x" * 10),
])
def test_last_line(output, limit, expected):
    assert last_line(output, limit) == expected


def test_evidence_quotes_the_last_line_of_a_traceback():
    """Where Python puts the error: a probe's traceback is quoted by its last line, not `Traceback (...)`."""
    case = facts(test=("CMD", "python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8006/')"),
                 entries=[(1, TRACEBACK, 0.1)] * 3, binary_path="/usr/bin/python3",
                 manual={"exit_code": 1, "seconds": 0.1, "output": TRACEBACK})
    text = "\n".join(classify(case)["evidence"])
    assert "HTTP Error 500: Internal Server Error" in text
    assert "Traceback (most recent call last)" not in text
