"""dockerfile_audit against a real project: Dockerfiles found from compose, drift against the real containers."""
import pytest

from helpers import run_module
from runtime_stack import SECRET, mini_stack  # noqa: F401  # pylint: disable=unused-import  # pytest fixture

pytestmark = pytest.mark.integration


def drift_by_service(result):
    return dict((r["service"], r) for r in result["drift"])


def test_drift_between_dockerfile_and_running_container(mini_stack):
    result, proc = run_module("homeiq.phase0.dockerfile_audit", {"project_dir": mini_stack.dir,
                                                                 "project_name": mini_stack.name})
    assert not result.get("failed"), result.get("msg")
    files = dict((e["relpath"], e) for e in result["dockerfiles"])
    assert sorted(files) == ["api/Dockerfile", "okapi/Dockerfile"]
    api = files["api/Dockerfile"]
    assert [(s["from"], s["base_image"], s["from_stage"], s["platform"]) for s in api["stages"]] == [
        ("python:${PY}-slim", "python:3.12-slim", None, "$BUILDPLATFORM"),
        ("base", "python:3.12-slim", 0, None)]
    assert (api["final"]["runtime"], api["final"]["version"]) == ("python", "3.12")
    assert api["build_arg_names"] == ["NPM_TOKEN"]
    assert result["base_images"] == {"python:3.11-bookworm": 1, "python:3.12-slim": 1}
    drift = drift_by_service(result)
    assert drift["api"]["status"] == "drift"
    assert (drift["api"]["dockerfile_version"], drift["api"]["running_version"]) == ("3.12", "3.11.2")
    assert "stale" in drift["api"]["message"]
    assert drift["okapi"]["status"] == "match"
    assert result["drift_summary"] == {"drift": 1, "match": 1}
    assert SECRET not in proc.stdout


def test_reuses_runtime_audit_rows(mini_stack):
    audit, dummy = run_module("homeiq.phase0.runtime_audit", {"project_name": mini_stack.name, "exec_timeout": 2})
    result, dummy = run_module("homeiq.phase0.dockerfile_audit", {
        "project_dir": mini_stack.dir, "project_name": mini_stack.name, "runtime_rows": audit["rows"],
        # no engine is needed when the rows are given
        "docker_host": "unix:///nonexistent/docker.sock"})
    assert not result.get("failed"), result.get("msg")
    assert drift_by_service(result)["api"]["status"] == "drift"


def test_parse_only_needs_no_engine(mini_stack):
    result, dummy = run_module("homeiq.phase0.dockerfile_audit", {
        "project_dir": mini_stack.dir, "compare_running": False, "globs": ["**/Dockerfile"],
        "docker_host": "unix:///nonexistent/docker.sock"})
    assert not result.get("failed"), result.get("msg")
    assert "drift" not in result
    assert len(result["dockerfiles"]) == 2  # globbed files already built by a service are listed once
