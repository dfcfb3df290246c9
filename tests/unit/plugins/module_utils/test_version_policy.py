"""Version parsing and the runtime policy (minimums, priority rules)."""
import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.version_policy import (
    DEFAULT_PRIORITY_RULES, compare_versions, evaluate, major_minor, meets_minimum, normalize_minimums,
    normalize_rules, parse_runtime_output, parse_version, priority_for, version_matches_spec, versions_from_env)


@pytest.mark.parametrize("text, expected", [
    ("Python 3.11.2", "3.11.2"),
    ("v18.19.0", "18.19.0"),
    ("3.12.12", "3.12.12"),
    ("3.13.0rc1", "3.13.0rc1"),
    ("3.12-slim", "3.12"),
    ("lts", None),
    ("", None),
    (None, None),
])
def test_parse_version(text, expected):
    assert parse_version(text) == expected


@pytest.mark.parametrize("runtime, text, expected", [
    ("python", "Python 3.9.2\n", "3.9.2"),
    ("python", "Python 2.7.18", "2.7.18"),
    ("python", "sh: python: not found", None),
    ("python", "OCI runtime exec failed: exec: \"python3\": executable file not found", None),
    ("node", "v18.19.0\n", "18.19.0"),
    ("node", "node: not found 1.2", None),
    ("python", "", None),
])
def test_parse_runtime_output(runtime, text, expected):
    assert parse_runtime_output(runtime, text) == expected


@pytest.mark.parametrize("left, right, expected", [
    ("3.10", "3.9.18", 1),
    ("3.9.18", "3.10", -1),
    ("3.10.0", "3.10", 0),
    ("18", "18.0.0", 0),
    ("20.19.0", "18", 1),
    ("3.13.0rc1", "3.13", 0),
])
def test_compare_versions(left, right, expected):
    assert compare_versions(left, right) == expected


@pytest.mark.parametrize("version, minimum, expected", [
    ("3.9.2", "3.10", False),
    ("3.10.0", "3.10", True),
    ("3.12.12", "3.10", True),
    ("16.20.2", "18", False),
    ("18.19.0", "18", True),
    (None, "3.10", None),
    ("x", "3.10", None),
])
def test_meets_minimum(version, minimum, expected):
    assert meets_minimum(version, minimum) is expected


@pytest.mark.parametrize("version, spec, expected", [
    ("3.12.12", "3.12", True),
    ("3.11.14", "3.12", False),
    ("20.19.0", "20.19.0", True),
    ("20.19.1", "20", True),
    ("3.12.1", None, None),
])
def test_version_matches_spec(version, spec, expected):
    assert version_matches_spec(version, spec) is expected


def test_versions_from_env_reads_only_version_keys():
    env = ["PATH=/usr/bin", "PYTHON_VERSION=3.12.12", "NODE_VERSION=20.19.0", "DB_PASSWORD=hunter2",
           "GPG_KEY=ABC", "broken"]
    assert versions_from_env(env) == {"python": "3.12.12", "node": "20.19.0"}
    assert versions_from_env([]) == {}
    assert versions_from_env(None) == {}


@pytest.mark.parametrize("service, expected", [
    ("websocket-ingestion", "CRITICAL"),
    ("data-api", "CRITICAL"),
    ("admin-api", "CRITICAL"),
    ("ai-core-service", "HIGH"),
    ("ml-service", "HIGH"),
    ("weather-api", "MEDIUM"),
    ("", "MEDIUM"),
])
def test_default_priorities(service, expected):
    assert priority_for(service, DEFAULT_PRIORITY_RULES) == expected


def test_first_matching_rule_wins_and_default_applies():
    rules = normalize_rules([{"pattern": "legacy-*", "priority": "high"}, {"pattern": "*", "priority": "LOW"}])
    assert priority_for("legacy-worker", rules) == "HIGH"
    assert priority_for("web", rules) == "LOW"
    assert priority_for("web", [], default="critical") == "CRITICAL"


@pytest.mark.parametrize("rules", [
    [{"pattern": "x"}],
    [{"pattern": "x", "priority": "URGENT"}],
    ["x"],
])
def test_bad_rules_are_rejected(rules):
    with pytest.raises(ValueError):
        normalize_rules(rules)


def test_minimums_overlay_and_validation():
    assert normalize_minimums({"python": "3.12"}) == {"python": "3.12", "node": "18"}
    assert normalize_minimums(None) == {"python": "3.10", "node": "18"}
    with pytest.raises(ValueError):
        normalize_minimums({"node": "lts"})


@pytest.mark.parametrize("runtime, version, expected", [
    ("python", "3.9.2", ("NEEDS_UPGRADE", "3.10")),
    ("python", "3.11.2", ("OK", "3.10")),
    ("node", "18.19.0", ("OK", "18")),
    ("node", None, ("UNKNOWN", "18")),
    ("ruby", "3.3", ("OK", None)),
])
def test_evaluate(runtime, version, expected):
    assert evaluate(runtime, version, {"python": "3.10", "node": "18"}) == expected


def test_major_minor():
    assert major_minor("3.12.12") == "3.12"
    assert major_minor(None) is None
