"""Recommendation rules: which tool, which address, which timeout; nothing for service faults."""
import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.health_probe import parse_duration, parse_probe
from ansible_collections.homeiq.phase0.plugins.module_utils.health_recommend import (
    http_probe,
    probe_timeout_for,
    recommend,
    tcp_probe,
)


def facts(test, tools, direct_status=200, timeout_s=3.0, direct_url="http://127.0.0.1:8001/health"):
    value = {
        "healthcheck": {"test": test, "interval_s": 5.0, "timeout_s": timeout_s, "retries": 2, "start_period_s": 0.0},
        "probe": parse_probe(test),
        "tools": dict((t, "/usr/bin/" + t if t in tools else None) for t in ("curl", "wget", "python3", "python", "nc")),
        "fetches": [],
    }
    if direct_status is not None:
        value["fetches"].append({"purpose": "direct", "url": direct_url, "status": direct_status, "seconds": 0.004})
    return value


def diag(classification, **details):
    return {"classification": classification, "reason": "", "evidence": [], "details": details}


CURL_SLOW = ["CMD", "curl", "-f", "http://ingestion.internal:8001/health"]
WGET = ["CMD", "wget", "--spider", "http://localhost:8019/health"]
PY_HEAVY = ["CMD", "python3", "-c", "import httpx; httpx.get('http://localhost:8001/health')"]


@pytest.mark.parametrize("classification, test, tools, tool", [
    ("probe_timeout_slow_dns", CURL_SLOW, ["curl", "python3"], "curl"),          # keep the tool, drop the name
    ("probe_timeout_slow_dns", CURL_SLOW, ["python3"], "python3"),              # curl gone: next available
    ("probe_tool_missing", WGET, ["curl", "python3"], "curl"),                   # wget missing -> curl
    ("probe_tool_missing", WGET, ["python3"], "python3"),
    ("probe_tool_missing", ["CMD", "curl", "http://localhost:1/"], ["wget"], "wget"),
    ("probe_timeout", PY_HEAVY, ["curl", "python3"], "curl"),                    # the slow tool goes last
    ("probe_timeout", PY_HEAVY, ["python3"], "python3"),                         # nothing else: keep it
    ("probe_command_error", ["CMD", "python", "-c", "urlopen('http://localhost:8001/health)"], ["python", "curl"],
     "python"),
])
def test_tool_choice(classification, test, tools, tool):
    advice = recommend(diag(classification), facts(test, tools))
    new = advice["healthcheck"]["test"]
    assert new[0] == "CMD" and new[1] == tool
    assert "http://127.0.0.1:8001/health" in " ".join(new)
    assert "ingestion.internal" not in " ".join(new) and "localhost" not in " ".join(new)


@pytest.mark.parametrize("classification", ["service_unhealthy", "wrong_port_or_path", "unknown", "no_healthcheck"])
def test_never_recommends_a_probe_for_non_probe_classes(classification):
    advice = recommend(diag(classification), facts(CURL_SLOW, ["curl", "python3"]))
    assert advice["healthcheck"] is None
    assert classification in advice["reason"]


def test_no_recommendation_without_a_proven_address_path():
    advice = recommend(diag("probe_timeout_slow_dns"), facts(CURL_SLOW, ["curl"], direct_status=None))
    assert advice["healthcheck"] is None
    assert "no fetch by address succeeded" in advice["reason"]


def test_no_recommendation_when_no_tool_exists():
    advice = recommend(diag("probe_tool_missing"), facts(WGET, []))
    assert advice["healthcheck"] is None


def test_ip_literal_probe_is_kept_without_a_direct_fetch():
    test = ["CMD", "wget", "http://127.0.0.1:9000/ping"]
    advice = recommend(diag("probe_tool_missing"), facts(test, ["curl"], direct_status=None))
    assert advice["healthcheck"]["test"][-1] == "http://127.0.0.1:9000/ping"


@pytest.mark.parametrize("healthcheck_timeout, expected", [(10, 8.0), (3, 2.4), (2, 1.5), (1, 0.5), (30, 24.0),
                                                           (None, 24.0)])
def test_probe_timeout_is_below_the_healthcheck_timeout(healthcheck_timeout, expected):
    value = probe_timeout_for(healthcheck_timeout)
    assert value == pytest.approx(expected)
    assert value < (healthcheck_timeout or 30)


@pytest.mark.parametrize("tool, needle", [
    ("curl", "--max-time"), ("wget", "-T"), ("python3", "timeout=2.4"), ("python", "timeout=2.4"),
])
def test_every_recommended_probe_carries_its_own_timeout(tool, needle):
    test = http_probe(tool, "http://127.0.0.1:8001/health", 2.4)
    assert needle in " ".join(test)
    assert test[0] == "CMD"


def test_wget_needs_whole_seconds():
    assert http_probe("wget", "http://127.0.0.1/", 0.5) is None
    assert http_probe("wget", "http://127.0.0.1/", 2.4)[5] == "2"


def test_https_probes_skip_certificate_checks_for_the_loopback_address():
    assert "-k" in http_probe("curl", "https://127.0.0.1:8443/health", 2)
    assert "--no-check-certificate" in http_probe("wget", "https://127.0.0.1:8443/health", 2)
    assert "_create_unverified_context" in http_probe("python3", "https://127.0.0.1:8443/health", 2)[3]


def test_python_probe_is_valid_python():
    code = http_probe("python3", "http://127.0.0.1:8001/health?a='b'", 2.4)[3]
    compile(code, "<probe>", "exec")


def test_tcp_probe_for_nc():
    advice = recommend(diag("probe_tool_missing"), facts(["CMD", "nc", "-z", "db", "5432"], ["python3"]))
    assert advice["healthcheck"]["test"][:2] == ["CMD", "python3"]
    assert "('127.0.0.1', 5432)" in advice["healthcheck"]["test"][3]
    assert tcp_probe("nc", "127.0.0.1", 5432, 2.4) == ["CMD", "nc", "-z", "-w", "2", "127.0.0.1", "5432"]


def test_start_period_recommendation_keeps_the_test():
    advice = recommend(diag("start_period_too_short", measured_start_s=41.0), facts(CURL_SLOW, ["curl"]))
    assert advice["healthcheck"] == {"start_period": "62s"}
    assert parse_duration(advice["healthcheck"]["start_period"]) >= 41.0
