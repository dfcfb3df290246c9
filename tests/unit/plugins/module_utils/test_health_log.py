"""Health log reading: entry kinds from real Docker/curl/wget/python outputs, the 5-entry and 4096-byte limits."""
from datetime import datetime, timezone

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.health_log import (
    DOCKER_OUTPUT_CAP,
    describe_entry,
    entry_kind,
    http_status_in,
    parse_docker_time,
    summarize_health_log,
)

OCI_MISSING = ('OCI runtime exec failed: exec failed: unable to start container process: exec: "wget": '
               'executable file not found in $PATH: unknown')
PY_REFUSED = ("Traceback (most recent call last):\n  File \"<string>\", line 1, in <module>\n"
              "urllib.error.URLError: <urlopen error [Errno 111] Connection refused>\n")
PY_500 = "Traceback (most recent call last):\nurllib.error.HTTPError: HTTP Error 500: Internal Server Error\n"


@pytest.mark.parametrize("exit_code, output, kind", [
    (0, "", "ok"),
    (0, "% Total % Received", "ok"),
    (-1, "Health check exceeded timeout (3s)", "timeout"),
    (-1, OCI_MISSING, "tool_missing"),
    (126, OCI_MISSING, "tool_missing"),
    (127, "/bin/sh: 1: curl: not found\n", "tool_missing"),
    (126, "/bin/sh: 1: /app/check: Permission denied", "tool_missing"),
    (7, "curl: (7) Failed to connect to localhost port 8001 after 0 ms: Couldn't connect to server\n", "refused"),
    (22, "curl: (22) The requested URL returned error: 500\n", "http_error"),
    (28, "curl: (28) Operation timed out after 2001 milliseconds with 0 bytes received\n", "probe_timed_out"),
    (6, "curl: (6) Could not resolve host: ingestion.internal\n", "resolve_failed"),
    (8, "wget: server returned error: HTTP/1.1 503 Service Unavailable\n", "http_error"),
    (1, "wget: can't connect to remote host (127.0.0.1): Connection refused\n", "refused"),
    (1, "wget: bad address 'ingestion.internal'\n", "resolve_failed"),
    (1, "wget: download timed out\n", "probe_timed_out"),
    (1, PY_REFUSED, "refused"),
    (1, PY_500, "http_error"),
    (1, "  File \"<string>\", line 1\n    urlopen('http://localhost:8001/health)\nSyntaxError: unterminated string "
        "literal (detected at line 1)\n", "probe_syntax_error"),
    (1, "socket.gaierror: [Errno -2] Name or service not known", "resolve_failed"),
    (1, "TimeoutError: timed out", "probe_timed_out"),
    (2, "pg_isready: no response", "failed"),
    (1, "", "failed"),
])
def test_entry_kind(exit_code, output, kind):
    assert entry_kind(exit_code, output) == kind


@pytest.mark.parametrize("output, status", [
    ("curl: (22) The requested URL returned error: 500\n", 500),
    (PY_500, 500),
    ("wget: server returned error: HTTP/1.1 404 Not Found", 404),
    ("  HTTP/1.0 503 Service Unavailable", 503),
    ("nothing here", None),
])
def test_http_status_in(output, status):
    assert http_status_in(output) == status


@pytest.mark.parametrize("text, expected", [
    ("2026-12-03T19:48:03.077366172Z", datetime(2026, 12, 3, 19, 48, 3, 77366, tzinfo=timezone.utc)),
    ("2026-12-03T19:48:03Z", datetime(2026, 12, 3, 19, 48, 3, tzinfo=timezone.utc)),
    ("2026-12-03T20:48:03.5+01:00", datetime(2026, 12, 3, 19, 48, 3, 500000, tzinfo=timezone.utc)),
    ("0001-01-01T00:00:00Z", None),
    ("", None),
    ("garbage", None),
])
def test_parse_docker_time(text, expected):
    assert parse_docker_time(text) == expected


def _entry(second, exit_code, output=""):
    return {"Start": "2026-12-03T19:48:%02d.000000000Z" % second,
            "End": "2026-12-03T19:48:%02d.500000000Z" % second, "ExitCode": exit_code, "Output": output}


def test_describe_entry_marks_output_at_docker_cap():
    capped = "x" * DOCKER_OUTPUT_CAP
    described = describe_entry(_entry(1, 1, capped))
    assert described["truncated"] is True and described["output_bytes"] == 4096
    assert describe_entry(_entry(1, 1, "x" * 4095))["truncated"] is False


def test_capped_traceback_without_its_last_line_is_only_failed():
    """A traceback cut at 4096 bytes loses the error line: the kind must not be guessed from it."""
    cut = ("Traceback (most recent call last):\n" + "  File \"/usr/lib/python3/x.py\", line 1, in f\n" * 200)
    cut = cut[:DOCKER_OUTPUT_CAP]
    assert describe_entry(_entry(1, 1, cut))["kind"] == "failed"


def test_describe_entry_seconds_and_timeout_value():
    described = describe_entry({"Start": "2026-12-03T19:48:03.077366172Z", "End": "2026-12-03T19:48:06.078024276Z",
                                "ExitCode": -1, "Output": "Health check exceeded timeout (3s)"})
    assert described["kind"] == "timeout"
    assert described["seconds"] == pytest.approx(3.000658, abs=1e-5)
    assert described["docker_timeout"] == "3s"


@pytest.mark.parametrize("entries, count, failing_kind, all_failing, recovered", [
    ([], 0, None, False, None),
    ([_entry(1, -1, "Health check exceeded timeout (3s)")], 1, "timeout", True, None),
    ([_entry(1, 7), _entry(2, 7), _entry(3, 0)], 3, "refused", False, "2026-12-03T19:48:03.000000Z"),
    ([_entry(1, 0), _entry(2, 22, "curl: (22) x")], 2, "http_error", False, None),
    ([_entry(s, -1, OCI_MISSING) for s in range(5)], 5, "tool_missing", True, None),
])
def test_summarize_health_log(entries, count, failing_kind, all_failing, recovered):
    summary = summarize_health_log(entries)
    assert summary["count"] == count
    assert summary["failing_kind"] == failing_kind
    assert summary["all_failing"] == all_failing
    success = summary["first_success_after_failure"]
    assert (success["start"] if success else None) == recovered


def test_summarize_sorts_by_start():
    summary = summarize_health_log([_entry(3, 0), _entry(1, 7)])
    assert [e["kind"] for e in summary["entries"]] == ["refused", "ok"]
    assert summary["first_failure"]["start"].startswith("2026-12-03T19:48:01")
