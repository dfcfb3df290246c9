"""Probe parsing: forms, binaries, URLs and hosts, durations (HomeIQ's real probes included)."""
import os

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.health_probe import (
    format_duration,
    healthcheck_from_inspect,
    normalize_test,
    parse_duration,
    parse_probe,
    parse_url,
    with_host,
)

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "fixtures", "corpus", "homeiq")


@pytest.mark.parametrize("value, seconds", [
    ("30s", 30.0), ("1m30s", 90.0), ("500ms", 0.5), ("1h", 3600.0), ("2m", 120.0), ("1.5s", 1.5),
    (10, 10.0), (2.5, 2.5), ("45", 45.0), (None, None), ("", None), ("1h2m3s", 3723.0), ("100us", 0.0001),
])
def test_parse_duration(value, seconds):
    assert parse_duration(value) == pytest.approx(seconds) if seconds is not None else parse_duration(value) is None


@pytest.mark.parametrize("value", ["30x", "s30", "1m 30s", "abc", True, "-5s"])
def test_parse_duration_rejects(value):
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize("seconds, text", [
    (30, "30s"), (90, "1m30s"), (0.5, "500ms"), (3600, "1h"), (3723, "1h2m3s"), (0, "0s"), (120, "2m"),
])
def test_format_duration_round_trips(seconds, text):
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("test, expected", [
    ("curl -f http://x/ || exit 1", ["CMD-SHELL", "curl -f http://x/ || exit 1"]),
    (["CMD", "curl", "-f", "http://x/"], ["CMD", "curl", "-f", "http://x/"]),
    (None, []),
    ("  ", []),
    (["NONE"], ["NONE"]),
])
def test_normalize_test(test, expected):
    assert normalize_test(test) == expected


@pytest.mark.parametrize("url, host, port, path, ip, loopback", [
    ("http://localhost:8001/health", "localhost", 8001, "/health", False, True),
    ("http://127.0.0.1:8006/health", "127.0.0.1", 8006, "/health", True, True),
    ("https://api.internal/health?x=1", "api.internal", 443, "/health?x=1", False, False),
    ("http://[::1]:8080/", "::1", 8080, "/", True, True),
    ("http://INGESTION.internal:8001", "ingestion.internal", 8001, "/", False, False),
    ("http://localhost", "localhost", 80, "/", False, True),
])
def test_parse_url(url, host, port, path, ip, loopback):
    parsed = parse_url(url)
    assert (parsed["host"], parsed["port"], parsed["path"], parsed["ip_literal"], parsed["loopback"]) == (
        host, port, path, ip, loopback)


@pytest.mark.parametrize("url", ["ftp://x/", "http://", "not a url", "", None, "http://x:99999/"])
def test_parse_url_rejects(url):
    assert parse_url(url) is None


@pytest.mark.parametrize("url, host, expected", [
    ("http://ingestion.internal:8001/health", "127.0.0.1", "http://127.0.0.1:8001/health"),
    ("http://localhost/health", "127.0.0.1", "http://127.0.0.1/health"),
    ("http://localhost:80/health", "127.0.0.1", "http://127.0.0.1:80/health"),
    ("https://svc/x?y=1", "::1", "https://[::1]/x?y=1"),
])
def test_with_host(url, host, expected):
    assert with_host(parse_url(url), host) == expected


# (test, form, binary, tool, urls, hosts, own_timeout)
PROBES = [
    (["CMD", "curl", "-f", "http://localhost:8086/health"], "CMD", "curl", "curl",
     ["http://localhost:8086/health"], ["localhost"], None),
    (["CMD", "wget", "--no-verbose", "--tries=1", "--spider", "http://localhost:16686/"], "CMD", "wget", "wget",
     ["http://localhost:16686/"], ["localhost"], None),
    (["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://localhost:8501/_stcore/health')"],
     "CMD", "python", "python", ["http://localhost:8501/_stcore/health"], ["localhost"], None),
    # HomeIQ 2026-02-04 websocket-ingestion: unterminated string literal, still one URL
    (["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://localhost:8001/health)"],
     "CMD", "python", "python", ["http://localhost:8001/health"], ["localhost"], None),
    (["CMD", "python", "-c", "import httpx; httpx.get('http://localhost:8030/health', timeout=5.0)"],
     "CMD", "python", "python", ["http://localhost:8030/health"], ["localhost"], 5.0),
    (["CMD-SHELL", "pg_isready -U ${POSTGRES_USER:-homeiq} -d homeiq"], "CMD-SHELL", "pg_isready", "pg_isready",
     [], [], None),
    (["CMD-SHELL", "curl -fsS --max-time 4 http://ingestion.internal:8001/health || exit 1"], "CMD-SHELL",
     "curl", "curl", ["http://ingestion.internal:8001/health"], ["ingestion.internal"], 4.0),
    (["CMD-SHELL", "FOO=1 exec /usr/bin/wget -q -T 3 -O- http://127.0.0.1:9/x"], "CMD-SHELL", "/usr/bin/wget",
     "wget", ["http://127.0.0.1:9/x"], [], 3.0),
    (["CMD-SHELL", "timeout 5 curl http://a:1/ && curl http://b:2/"], "CMD-SHELL", "curl", "curl",
     ["http://a:1/", "http://b:2/"], ["a", "b"], None),
    (["CMD", "healthcheck-bin", "--port", "8019"], "CMD", "healthcheck-bin", "healthcheck-bin", [], [], None),
    (["CMD", "curl", "-m", "2", "http://x:1/"], "CMD", "curl", "curl", ["http://x:1/"], ["x"], 2.0),
    (["CMD", "curl", "--max-time=7", "http://x:1/"], "CMD", "curl", "curl", ["http://x:1/"], ["x"], 7.0),
]


@pytest.mark.parametrize("test, form, binary, tool, urls, hosts, own_timeout", PROBES)
def test_parse_probe(test, form, binary, tool, urls, hosts, own_timeout):
    probe = parse_probe(test)
    assert probe["form"] == form
    assert probe["binary"] == binary
    assert probe["tool"] == tool
    assert [u["url"] for u in probe["urls"]] == urls
    assert probe["hosts"] == hosts
    assert probe["own_timeout"] == own_timeout


def test_parse_probe_shell_argv_is_what_docker_runs():
    probe = parse_probe("curl -f http://x/ || exit 1")
    assert probe["argv"] == ["/bin/sh", "-c", "curl -f http://x/ || exit 1"]
    assert probe["shell"] and probe["compound"]


def test_parse_probe_nc_tcp():
    probe = parse_probe(["CMD", "nc", "-z", "db.internal", "5432"])
    assert probe["tcp"] == {"host": "db.internal", "port": 5432}
    assert probe["hosts"] == ["db.internal"]


@pytest.mark.parametrize("test, form", [(["NONE"], "NONE"), ([], "INHERIT"), (None, "INHERIT")])
def test_parse_probe_disabled_or_inherited(test, form):
    probe = parse_probe(test)
    assert probe["form"] == form and probe["binary"] is None and probe["urls"] == []


def test_parse_probe_on_every_homeiq_healthcheck():
    """Every probe of the real HomeIQ file parses; the HTTP ones yield exactly one localhost URL."""
    import yaml
    with open(os.path.join(CORPUS, "2026-02-04", "docker-compose.yml")) as handle:
        services = yaml.safe_load(handle)["services"]
    checked = 0
    for name, service in services.items():
        test = (service.get("healthcheck") or {}).get("test")
        if not test:
            continue
        probe = parse_probe(test)
        assert probe["binary"], name
        if probe["tool"] in ("curl", "wget", "python"):
            assert len(probe["urls"]) == 1, (name, test)
            assert probe["urls"][0]["host"] == "localhost", name
        checked += 1
    assert checked >= 40


def test_healthcheck_from_inspect_uses_docker_defaults():
    hc = healthcheck_from_inspect({"Test": ["CMD", "true"], "Interval": 5000000000, "Timeout": 0, "Retries": 0})
    assert hc == {"test": ["CMD", "true"], "interval_s": 5.0, "timeout_s": 30.0, "retries": 3, "start_period_s": 0.0}
    assert healthcheck_from_inspect(None) is None
    assert healthcheck_from_inspect({"Test": ["NONE"]})["disabled"] is True
