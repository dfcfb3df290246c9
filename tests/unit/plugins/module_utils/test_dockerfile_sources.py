"""Dockerfile discovery from compose projects (includes, build forms) and drift (pure)."""
import os
import textwrap

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.compose_project import resolve_project
from ansible_collections.homeiq.phase0.plugins.module_utils.dockerfile_sources import (
    audit_dockerfiles, base_image_counts, build_args_dict, build_specs, drift, glob_specs, summarize_drift)


def write(path, text):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(str(path), "w") as handle:
        handle.write(textwrap.dedent(text))


@pytest.fixture
def project(tmp_path):
    write(tmp_path / "compose.yml", """\
        name: shop
        include:
          - path: domains/ml/compose.yml
        services:
          api:
            build: ./api
          web:
            build:
              context: web
              dockerfile: docker/Dockerfile.prod
              target: runtime
              args:
                NODE_MAJOR: "20"
                NPM_TOKEN: s3cr3t
          worker:
            build:
              context: ./api
          db:
            image: postgres:16
          inline:
            build:
              dockerfile_inline: |
                FROM python:3.13-alpine
          remote:
            build: https://github.com/org/repo.git#main
        """)
    write(tmp_path / "api" / "Dockerfile", "ARG PY=3.12\nFROM python:${PY}-slim\n")
    write(tmp_path / "web" / "docker" / "Dockerfile.prod", """\
        ARG NODE_MAJOR=18
        FROM node:${NODE_MAJOR}-alpine AS deps
        FROM deps AS runtime
        FROM nginx:alpine
        """)
    write(tmp_path / "domains" / "ml" / "compose.yml", """\
        services:
          ml-service:
            build: ../../ml
        """)
    write(tmp_path / "ml" / "Dockerfile", "FROM python:3.11-slim\n")
    write(tmp_path / "extra" / "Dockerfile.dev", "FROM python:3.12-slim\n")
    return resolve_project(str(tmp_path), env={})


def test_build_specs_follow_includes_and_build_forms(project, tmp_path):
    specs = {spec["service"]: spec for spec in build_specs(project)}
    assert sorted(specs) == ["api", "inline", "ml-service", "remote", "web", "worker"]
    assert specs["api"]["path"] == str(tmp_path / "api" / "Dockerfile")
    assert specs["web"]["path"] == str(tmp_path / "web" / "docker" / "Dockerfile.prod")
    assert specs["web"]["target"] == "runtime"
    # relative to the included file's directory
    assert specs["ml-service"]["path"] == str(tmp_path / "ml" / "Dockerfile")
    assert specs["inline"]["inline"].startswith("FROM python:3.13")
    assert specs["remote"]["note"] and specs["remote"]["path"] is None


def test_audit_merges_services_substitutes_args_and_hides_values(project, tmp_path):
    specs = build_specs(project) + glob_specs(str(tmp_path), ["extra/*", "api/Dockerfile"])
    entries = audit_dockerfiles(specs, str(tmp_path))
    by_path = {e["relpath"]: e for e in entries}
    assert by_path["api/Dockerfile"]["services"] == ["api", "worker"]
    web = by_path["web/docker/Dockerfile.prod"]
    assert web["stages"][0]["base_image"] == "node:20-alpine"  # build arg beat the ARG default
    assert web["final"]["stage_name"] == "runtime" and web["final"]["runtime"] == "node"
    assert web["build_arg_names"] == ["NODE_MAJOR", "NPM_TOKEN"]
    assert "s3cr3t" not in repr(entries)
    assert by_path["extra/Dockerfile.dev"]["services"] == []
    assert by_path["<dockerfile_inline of inline>"]["final"]["version"] == "3.13"
    assert by_path["https://github.com/org/repo.git#main"]["note"].startswith("remote")
    assert base_image_counts(entries) == {"python:3.12-slim": 2, "nginx:alpine": 1, "node:20-alpine": 1,
                                          "python:3.11-slim": 1, "python:3.13-alpine": 1}


def test_unreadable_dockerfile_is_an_entry_error(tmp_path):
    spec = {"service": "x", "context": str(tmp_path), "target": None, "image": None, "args": {}, "note": None,
            "path": str(tmp_path / "missing" / "Dockerfile"), "inline": None}
    entry = audit_dockerfiles([spec], str(tmp_path))[0]
    assert entry["errors"] and "cannot read" in entry["errors"][0]


@pytest.mark.parametrize("args, expected", [
    ({"A": 1, "B": None}, {"A": "1", "B": None}),
    (["A=1", "B"], {"A": "1", "B": None}),
    (None, {}),
])
def test_build_args_dict(args, expected):
    assert build_args_dict(args) == expected


def _entry(services, runtime, version, base="python:3.12-slim"):
    return {"relpath": "Dockerfile", "services": services,
            "final": {"base_image": base, "runtime": runtime, "version": version}}


def _row(service, runtime, version, state="running", container=None):
    return {"service": service, "container": container or service + "-1", "runtime": runtime,
            "version": version, "state": state, "source": "exec"}


@pytest.mark.parametrize("entry, rows, status", [
    (_entry(["a"], "python", "3.12"), [_row("a", "python", "3.12.12")], "match"),
    (_entry(["a"], "python", "3.12"), [_row("a", "python", "3.11.2")], "drift"),
    (_entry(["a"], "node", "20.19.0"), [_row("a", "node", "18.19.0")], "drift"),
    (_entry(["a"], "python", None, "python:slim"), [_row("a", "python", "3.12.1")], "unknown"),
    (_entry(["a"], "python", "3.12"), [_row("a", "unknown", None, state="exited")], "not_running"),
    (_entry(["a"], "python", "3.12"), [], "not_running"),
    (_entry(["a"], None, None, "nginx:alpine"), [_row("a", "none", None)], "no_runtime"),
    (_entry(["a"], None, None, "nginx:alpine"), [_row("a", "node", "20.1.0")], "unknown"),
    (_entry(["a"], "python", "3.12"), [_row("a", "unknown", None)], "unknown"),
])
def test_drift(entry, rows, status):
    records = drift([entry], rows)
    assert [r["status"] for r in records] == [status]
    assert records[0]["message"]


def test_drift_per_container_and_summary():
    rows = [_row("a", "python", "3.12.1", container="a-1"), _row("a", "python", "3.11.9", container="a-2")]
    records = drift([_entry(["a"], "python", "3.12")], rows)
    assert [(r["container"], r["status"]) for r in records] == [("a-1", "match"), ("a-2", "drift")]
    assert summarize_drift(records) == {"match": 1, "drift": 1}


CORPUS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                      "fixtures", "corpus", "homeiq")


def _corpus_reader(project_dir):
    """Dockerfile text for a path, from the TSV of HomeIQ's real FROM/ARG lines (IOError when absent)."""
    files = {}
    with open(os.path.join(CORPUS, "dockerfile-from-arg-lines.tsv"), encoding="utf-8") as handle:
        for row in handle:
            path, dummy, text = row.rstrip("\n").partition("\t")
            files.setdefault(path, []).append(text.partition(":")[2])

    def read(path):
        rel = os.path.relpath(path, project_dir)
        if rel not in files:
            raise IOError(2, "No such file or directory")
        return "\n".join(files[rel]) + "\n"
    return read


def test_homeiq_2026_02_04_compose_to_dockerfiles():
    project_dir = os.path.join(CORPUS, "2026-02-04")
    project = resolve_project(project_dir, env={})
    specs = build_specs(project)
    assert len(specs) == 44
    entries = audit_dockerfiles(specs, project_dir, read=_corpus_reader(project_dir))
    assert len(entries) == 43  # two services build from one Dockerfile
    broken = sorted(e["relpath"] for e in entries if e["errors"])
    # archived Dockerfiles a compose service still points at; not among the 56 files of the TSV
    assert broken == ["services/archive/2025-q4/ai-automation-service/docker/ner-service.Dockerfile",
                      "services/archive/2025-q4/ai-automation-service/docker/openai-service.Dockerfile"]
    final = dict((service, e["final"]) for e in entries for service in e["services"] if e["final"])
    assert (final["websocket-ingestion"]["runtime"], final["websocket-ingestion"]["version"]) == ("python", "3.12")
    assert final["automation-linter"]["base_image"] == "python:3.11-slim"
    dashboard = final["health-dashboard"]
    assert (dashboard["base_image"], dashboard["runtime"], dashboard["build_runtimes"]) == \
        ("nginx:alpine", None, ["node 20.19.0"])


def test_homeiq_2026_08_06_includes_resolve_build_paths_per_domain():
    project_dir = os.path.join(CORPUS, "2026-08-06")
    specs = dict((s["service"], s) for s in build_specs(resolve_project(project_dir, env={})))
    assert len(specs) == 54
    # context ../.. in domains/core-platform/compose.yml is the project root
    assert specs["data-api"]["context"] == project_dir
    assert specs["data-api"]["path"] == os.path.join(project_dir, "domains", "core-platform", "data-api", "Dockerfile")
    assert all(s["path"].startswith(os.path.join(project_dir, "domains") + os.sep) for s in specs.values())
