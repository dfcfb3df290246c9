"""Unit tests for monitor_errors: timestamp parsing, dedupe across scans, summaries."""
import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils import monitor_errors as me

PATTERN = me.compile_pattern()


@pytest.mark.parametrize("text, expected", [
    ("1970-01-01T00:00:01Z", (1, 0)),
    ("1970-01-01T00:00:01.5Z", (1, 500000000)),
    ("1970-01-01T00:00:01.123456789Z", (1, 123456789)),
    ("1970-01-01T01:00:01+01:00", (1, 0)),
    ("not a time", None),
    ("", None),
])
def test_parse_timestamp(text, expected):
    assert me.parse_timestamp(text) == expected


@pytest.mark.parametrize("line, hit", [
    ("ERROR boom", True), ("an Exception occurred", True), ("job FAILED", True), ("CRITICAL", True),
    ("Traceback (most recent call last):", True), ("all good", False), ("err", False),
])
def test_default_pattern_is_case_insensitive(line, hit):
    assert bool(PATTERN.search(line)) is hit


def test_custom_pattern_and_case():
    assert me.compile_pattern("boom", ignore_case=False).search("BOOM") is None
    assert me.compile_pattern("boom").search("BOOM")


def lines(*pairs):
    return ["%s %s" % pair for pair in pairs]


def test_scan_reports_each_line_once_across_overlapping_scans():
    first = lines(("2026-01-01T00:00:01.1Z", "ERROR a"), ("2026-01-01T00:00:02.5Z", "ERROR b"))
    matches, cursor = me.scan_lines(first, me.new_cursor(), PATTERN)
    assert [m[1] for m in matches] == ["ERROR a", "ERROR b"]
    assert me.since_seconds(cursor) == 1767225602
    # the engine's `since` is whole seconds, so the next read repeats second 2
    again = lines(("2026-01-01T00:00:02.5Z", "ERROR b"), ("2026-01-01T00:00:03Z", "ERROR c"))
    matches, cursor = me.scan_lines(again, cursor, PATTERN)
    assert [m[1] for m in matches] == ["ERROR c"]
    matches, cursor = me.scan_lines(again, cursor, PATTERN)
    assert matches == []


def test_scan_keeps_distinct_lines_with_the_same_timestamp():
    same = lines(("2026-01-01T00:00:01Z", "ERROR x"), ("2026-01-01T00:00:01Z", "ERROR y"))
    matches, cursor = me.scan_lines(same[:1], None, PATTERN)
    matches2, cursor = me.scan_lines(same, cursor, PATTERN)
    assert [m[1] for m in matches + matches2] == ["ERROR x", "ERROR y"]


def test_scan_ignores_non_matching_and_untimed_lines_but_advances():
    matches, cursor = me.scan_lines(["no timestamp ERROR", "2026-01-01T00:00:09Z fine"], None, PATTERN)
    assert matches == [] and cursor["ts"][0] == 1767225609


def test_split_log_line_bytes_and_crlf():
    assert me.split_log_line(b"2026-01-01T00:00:01Z hi there\r\n") == ("2026-01-01T00:00:01Z", "hi there")


def test_error_records_truncate_long_lines():
    rec = me.error_records("c", "s", [("T", "x" * 3000)], max_line=10)[0]
    assert rec == {"ts": "T", "container": "c", "service": "s", "line": "x" * 10 + "..."}


def test_summarise_window_counts_and_last_lines():
    now = 1767225600 + 7200
    records = [
        {"ts": "2026-01-01T00:00:00Z", "container": "old", "line": "ERROR old"},          # outside 1 h
        {"ts": "2026-01-01T01:30:00Z", "container": "a", "service": "sa", "line": "ERROR 1"},
        {"ts": "2026-01-01T01:40:00Z", "container": "b", "line": "ERROR 2"},
        {"ts": "2026-01-01T01:50:00Z", "container": "a", "service": "sa", "line": "ERROR 3"},
        {"ts": "garbage", "container": "a", "line": "x"},
    ]
    summary = me.summarise(records, now, 3600, last_lines=1)
    assert [(e["container"], e["count"]) for e in summary] == [("a", 2), ("b", 1)]
    assert summary[0]["last_lines"] == ["ERROR 3"] and summary[0]["first"] == "2026-01-01T01:30:00Z"
    text = me.summary_markdown(summary, 3600, "NOW", "errors.jsonl")
    assert "| a | sa | 2 |" in text and "ERROR 3" in text and "Errors: 3 in 2 container(s)" in text


def test_summary_markdown_empty():
    assert "No error lines" in me.summary_markdown([], 3600, "NOW", "x")
