"""Dockerfile FROM/ARG parsing: table-driven cases plus HomeIQ's real FROM lines."""
import collections
import os

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.dockerfile_parser import (
    logical_lines, parse_arg, parse_dockerfile, parse_image_ref, runtime_of_image, substitute, summarize)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
CORPUS_TSV = os.path.join(ROOT, "tests", "fixtures", "corpus", "homeiq", "dockerfile-from-arg-lines.tsv")


def stage_view(text, **kwargs):
    parsed = parse_dockerfile(text, **kwargs)
    return [(s["base_image"], s["name"], s["from_stage"], s["runtime"], s["version"]) for s in parsed["stages"]]


@pytest.mark.parametrize("text, expected", [
    ("FROM python:3.12-slim\n", [("python:3.12-slim", None, None, "python", "3.12")]),
    ("from node:20.19.0-alpine as deps\n", [("node:20.19.0-alpine", "deps", None, "node", "20.19.0")]),
    # ARG default substituted into FROM
    ("ARG PY=3.11\nFROM python:${PY}-slim\n", [("python:3.11-slim", None, None, "python", "3.11")]),
    ("ARG PY=3.11\nFROM python:$PY\n", [("python:3.11", None, None, "python", "3.11")]),
    # ${VAR:-x} with the variable undeclared, declared empty, and set
    ("FROM python:${PY:-3.10}-alpine\n", [("python:3.10-alpine", None, None, "python", "3.10")]),
    ("ARG PY=\nFROM python:${PY:-3.9}\n", [("python:3.9", None, None, "python", "3.9")]),
    ("ARG PY=\nFROM python:${PY-3.9}x\n", [("python:x", None, None, "python", None)]),
    ("ARG PY=3.13\nFROM python:${PY:-3.9}\n", [("python:3.13", None, None, "python", "3.13")]),
    ("ARG SUF=slim\nFROM python:3.12${SUF:+-$SUF}\n", [("python:3.12-slim", None, None, "python", "3.12")]),
    # an ARG default built from an earlier ARG
    ("ARG MAJOR=3\nARG PY=${MAJOR}.12\nFROM python:${PY}\n", [("python:3.12", None, None, "python", "3.12")]),
    # multiple args on one line, quoted defaults
    ('ARG A=node B="18.20"\nFROM $A:$B\n', [("node:18.20", None, None, "node", "18.20")]),
    # multi-stage: an alias is not a base image, it inherits the runtime
    ("FROM node:20 AS deps\nFROM deps AS builder\nFROM nginx:alpine\n",
     [("node:20", "deps", None, "node", "20"), ("node:20", "builder", 0, "node", "20"),
      ("nginx:alpine", None, None, None, None)]),
    # alias match is case-insensitive
    ("FROM python:3.12 AS Base\nFROM base\n",
     [("python:3.12", "Base", None, "python", "3.12"), ("python:3.12", None, 0, "python", "3.12")]),
    # --platform, with an automatic arg
    ("FROM --platform=$BUILDPLATFORM python:3.12-slim AS build\n",
     [("python:3.12-slim", "build", None, "python", "3.12")]),
    # digests, registries with ports
    ("FROM python:3.11-slim@sha256:" + "a" * 64 + "\n",
     [("python:3.11-slim@sha256:" + "a" * 64, None, None, "python", "3.11")]),
    ("FROM localhost:5000/library/node:18.19.1\n", [("localhost:5000/library/node:18.19.1", None, None, "node", "18.19.1")]),
    ("FROM docker.io/library/python@sha256:" + "b" * 64 + "\n",
     [("docker.io/library/python@sha256:" + "b" * 64, None, None, "python", None)]),
    # floating tags carry no version
    ("FROM node:lts-alpine\nFROM python\nFROM python:slim\n",
     [("node:lts-alpine", None, None, "node", None), ("python", None, None, "python", None),
      ("python:slim", None, None, "python", None)]),
    ("FROM scratch\n", [("scratch", None, None, None, None)]),
    # comments and continuation lines
    ("# syntax=docker/dockerfile:1\n# a comment\nFROM \\\n  # inside\n  python:3.12 \\\n  AS app\n",
     [("python:3.12", "app", None, "python", "3.12")]),
    # escape directive: backtick continuations (Windows style)
    ("# escape=`\nFROM `\n  node:18.1.0\n", [("node:18.1.0", None, None, "node", "18.1.0")]),
    # ARG inside a stage does not reach a later FROM
    ("FROM python:3.12\nARG PY=3.9\nFROM python:${PY:-3.11}\n",
     [("python:3.12", None, None, "python", "3.12"), ("python:3.11", None, None, "python", "3.11")]),
    # a heredoc body that looks like FROM is not an instruction
    ("FROM python:3.12\nRUN <<EOF\nFROM node:18\nEOF\nFROM node:20\n",
     [("python:3.12", None, None, "python", "3.12"), ("node:20", None, None, "node", "20")]),
])
def test_stages(text, expected):
    assert stage_view(text) == expected


@pytest.mark.parametrize("text, build_args, expected_image", [
    ("ARG PY=3.11\nFROM python:${PY}-slim\n", {"PY": "3.13"}, "python:3.13-slim"),
    # a build arg for an undeclared ARG is not used by the builder
    ("FROM python:${PY:-3.10}\n", {"PY": "3.13"}, "python:3.10"),
    ("ARG PY\nFROM python:${PY:-3.10}\n", {"PY": "3.12"}, "python:3.12"),
])
def test_build_args_override_defaults(text, build_args, expected_image):
    assert parse_dockerfile(text, build_args=build_args)["stages"][0]["base_image"] == expected_image


def test_unresolved_arg_is_reported():
    parsed = parse_dockerfile("ARG PY\nFROM python:${PY}-slim\n")
    assert parsed["stages"][0]["unresolved_args"] == ["PY"]
    assert parsed["stages"][0]["image"] == "python:-slim"


def test_platform_and_digest_fields():
    digest = "sha256:" + "c" * 64
    stage = parse_dockerfile("FROM --platform=linux/arm64 python:3.12@%s AS x\n" % digest)["stages"][0]
    assert stage["platform"] == "linux/arm64"
    assert stage["digest"] == digest
    assert stage["from"] == "python:3.12@%s" % digest


@pytest.mark.parametrize("target, final_name, final_runtime", [
    (None, "prod", None),
    ("builder", "builder", "node"),
    ("BUILDER", "builder", "node"),
])
def test_final_stage_and_target(target, final_name, final_runtime):
    parsed = parse_dockerfile("FROM node:20 AS builder\nFROM nginx:alpine AS prod\n", target=target)
    summary = summarize(parsed)
    assert summary["final_stage_name"] == final_name
    assert summary["final_runtime"] == final_runtime
    assert summary["build_runtimes"] == ["node 20"]


def test_unknown_target_is_an_error():
    parsed = parse_dockerfile("FROM node:20 AS builder\n", target="nope")
    assert parsed["errors"] and "nope" in parsed["errors"][0]


def test_logical_lines_keep_start_line_numbers():
    text = "FROM a \\\n  AS b\n\n# c\nRUN x \\\n\n  y\n"
    assert list(logical_lines(text)) == [(1, "FROM a   AS b"), (5, "RUN x   y")]


@pytest.mark.parametrize("text, variables, expected, unresolved", [
    ("$A-${B}", {"A": "1", "B": "2"}, "1-2", []),
    ("${A:-x}", {}, "x", []),
    ("${A:-${B}}", {"B": "y"}, "y", []),
    ("${A:+set}", {"A": ""}, "", []),
    ("${A+set}", {"A": ""}, "set", []),
    ("\\$A", {"A": "1"}, "$A", []),
    ("$MISSING", {}, "", ["MISSING"]),
    ("$TARGETARCH", {}, "$TARGETARCH", []),
])
def test_substitute(text, variables, expected, unresolved):
    seen = []
    assert substitute(text, variables, seen) == expected
    assert seen == unresolved


@pytest.mark.parametrize("ref, registry, repository, tag, digest", [
    ("python:3.12-slim", None, "python", "3.12-slim", None),
    ("library/python", None, "library/python", None, None),
    ("ghcr.io/org/app:1.0", "ghcr.io", "org/app", "1.0", None),
    ("localhost:5000/app", "localhost:5000", "app", None, None),
    ("app@sha256:ff", None, "app", None, "sha256:ff"),
])
def test_parse_image_ref(ref, registry, repository, tag, digest):
    parsed = parse_image_ref(ref)
    assert (parsed["registry"], parsed["repository"], parsed["tag"], parsed["digest"]) == (registry, repository, tag, digest)


@pytest.mark.parametrize("ref, expected", [
    ("python:3.12.12-bookworm", ("python", "3.12.12")),
    ("node:v18", ("node", "18")),
    ("nginx:1.25", (None, None)),
    ("mycorp/python:3.9", ("python", "3.9")),
])
def test_runtime_of_image(ref, expected):
    assert runtime_of_image(ref) == expected


def test_custom_runtime_images():
    assert runtime_of_image("pypy:3.10", {"python": ("pypy", "python")}) == ("python", "3.10")


def test_parse_arg():
    assert parse_arg('A=1 B C="x y"') == [("A", "1"), ("B", None), ("C", "x y")]


def _corpus_files():
    files = collections.OrderedDict()
    with open(CORPUS_TSV, encoding="utf-8") as handle:
        for row in handle:
            path, dummy, text = row.rstrip("\n").partition("\t")
            dummy_lineno, dummy, line = text.partition(":")
            files.setdefault(path, []).append(line)
    return files


def test_homeiq_corpus_base_image_counts():
    files = _corpus_files()
    assert len(files) == 56
    bases = collections.Counter()
    aliases = []
    for path, lines in files.items():
        parsed = parse_dockerfile("\n".join(lines) + "\n")
        assert not parsed["errors"], (path, parsed["errors"])
        bases.update(parsed["base_images"])
        aliases += [(path, s["from"], s["name"]) for s in parsed["stages"] if s["from_stage"] is not None]
    assert bases == {"python:3.12-alpine": 54, "python:3.12-slim": 37, "node:20.19.0-alpine": 5,
                     "python:3.11-slim": 2, "nginx:alpine": 2}
    assert aliases == [("services/ai-automation-ui/Dockerfile", "deps", "builder")]


def test_homeiq_corpus_alias_inherits_node():
    lines = _corpus_files()["services/ai-automation-ui/Dockerfile"]
    parsed = parse_dockerfile("\n".join(lines) + "\n")
    builder = parsed["stages"][1]
    assert (builder["from_stage"], builder["runtime"], builder["version"]) == (0, "node", "20.19.0")
    summary = summarize(parsed)
    assert summary["final_base_image"] == "nginx:alpine" and summary["final_runtime"] is None
