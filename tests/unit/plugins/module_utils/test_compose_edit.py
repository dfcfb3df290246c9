"""The healthcheck editor changes only the healthcheck lines: proven on every HomeIQ healthcheck."""
import os
import textwrap

import pytest
import yaml

from ansible_collections.homeiq.phase0.plugins.module_utils.compose_edit import (
    ComposeEditError,
    changed_line_numbers,
    escape_dollars,
    set_healthcheck,
)

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "fixtures", "corpus", "homeiq")
DEMO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "fixtures", "demo")
NEW_TEST = ["CMD", "curl", "-fsS", "-o", "/dev/null", "--max-time", "8", "http://127.0.0.1:8001/health"]


def read(*parts):
    with open(os.path.join(*parts), encoding="utf-8") as handle:
        return handle.read()


def corpus_files():
    files = [os.path.join(CORPUS, "2026-02-04", "docker-compose.yml")]
    domains = os.path.join(CORPUS, "2026-08-06", "domains")
    files += sorted(os.path.join(domains, d, "compose.yml") for d in os.listdir(domains))
    return files


def corpus_healthchecks():
    cases = []
    for path in corpus_files():
        services = (yaml.safe_load(read(path)) or {}).get("services") or {}
        for name, service in services.items():
            if (service or {}).get("healthcheck"):
                cases.append(pytest.param(path, name, id="%s:%s" % (os.path.relpath(path, CORPUS), name)))
    return cases


def healthcheck_lines(text, service):
    """1-based line numbers of the service's `healthcheck:` block (key line + indented body)."""
    lines = text.splitlines()
    in_service, start, out = False, None, []
    for number, line in enumerate(lines, 1):
        if line.startswith("  %s:" % service) and not line.startswith("   "):
            in_service = True
            continue
        if in_service and line.startswith("  ") and not line.startswith("   ") and line.strip():
            break
        if in_service and line.strip() == "healthcheck:":
            start = len(line) - len(line.lstrip())
            out.append(number)
            continue
        if start is not None:
            if line.strip() and (len(line) - len(line.lstrip())) <= start:
                start = None
                continue
            out.append(number)
    return out


ALL = corpus_healthchecks()


def test_the_corpus_has_the_healthchecks_we_expect():
    assert len(ALL) >= 90  # 48 in the single file + those of the nine domain files


@pytest.mark.parametrize("path, service", ALL)
def test_patching_any_corpus_healthcheck_touches_only_its_test_line(path, service):
    before = read(path)
    result = set_healthcheck(before, service, {"test": NEW_TEST})
    assert result.changed and result.changed_keys == ["test"]
    changed = changed_line_numbers(before, result.text)
    assert len(changed) == 1
    assert set(changed) <= set(healthcheck_lines(before, service))
    assert len(result.text.splitlines()) == len(before.splitlines())
    after_doc = yaml.safe_load(result.text)
    assert after_doc["services"][service]["healthcheck"]["test"] == NEW_TEST
    before_doc = yaml.safe_load(before)
    before_doc["services"][service]["healthcheck"]["test"] = NEW_TEST
    assert after_doc == before_doc


@pytest.mark.parametrize("path, service", ALL[:12])
def test_second_run_is_no_change(path, service):
    first = set_healthcheck(read(path), service, {"test": NEW_TEST, "timeout": "5s"})
    second = set_healthcheck(first.text, service, {"test": NEW_TEST, "timeout": "5s"})
    assert not second.changed and second.text == first.text and second.changed_keys == []


def test_single_file_websocket_patch_diff_is_the_healthcheck_lines():
    before = read(CORPUS, "2026-02-04", "docker-compose.yml")
    result = set_healthcheck(before, "websocket-ingestion",
                             {"test": NEW_TEST, "timeout": "5s", "start_period": "30s", "start_interval": "2s"})
    # start_period is already 30s: not a change
    assert result.changed_keys == ["start_interval", "test", "timeout"]
    changed = changed_line_numbers(before, result.text)
    assert changed == [200, 202, 204]  # test, timeout, and the line after start_period gains start_interval
    assert result.text.splitlines()[204] == "      start_interval: 2s"


def test_include_layout_domain_file_patch():
    before = read(CORPUS, "2026-08-06", "domains", "core-platform", "compose.yml")
    result = set_healthcheck(before, "websocket-ingestion", {"test": NEW_TEST})
    assert changed_line_numbers(before, result.text) == [218]
    assert result.text.splitlines()[217] == ('      test: ["CMD", "curl", "-fsS", "-o", "/dev/null", "--max-time", '
                                             '"8", "http://127.0.0.1:8001/health"]')


def test_demo_file_with_merge_keys_and_comments():
    before = read(DEMO, "docker-compose.yml")
    result = set_healthcheck(before, "websocket-ingestion", {"test": NEW_TEST})
    assert len(changed_line_numbers(before, result.text)) == 1
    assert yaml.safe_load(result.text)["services"]["websocket-ingestion"]["healthcheck"]["test"] == NEW_TEST


@pytest.mark.parametrize("current, desired", [
    ("interval: 30s", {"interval": 30}),
    ("interval: 30s", {"interval": "0h0m30s"}),
    ("interval: 1m30s", {"interval": "90s"}),
    ("retries: 3", {"retries": "3"}),
    ("test: curl -f http://x/", {"test": ["CMD-SHELL", "curl -f http://x/"]}),
    ('test: ["CMD", "true"]', {"test": ["CMD", "true"]}),
])
def test_equal_values_in_other_spellings_are_no_change(current, desired):
    text = "services:\n  a:\n    image: x\n    healthcheck:\n      %s\n" % current
    assert not set_healthcheck(text, "a", desired).changed


SNIPPETS = [
    ("block-style test list stays block style",
     """\
     services:
       a:
         image: x
         healthcheck:
           test:
             - CMD
             - "false"
           interval: 5s
     """, {"test": ["CMD", "true"]},
     """\
     services:
       a:
         image: x
         healthcheck:
           test:
             - "CMD"
             - "true"
           interval: 5s
     """),
    ("string test becomes a list, trailing comment kept",
     """\
     services:
       a:
         healthcheck:
           test: curl -f http://localhost/ || exit 1   # old probe
           timeout: "10s"
     """, {"test": ["CMD", "true"], "timeout": "4s"},
     """\
     services:
       a:
         healthcheck:
           test: ["CMD", "true"]   # old probe
           timeout: "4s"
     """),
    ("missing healthcheck block is added at the service's indentation",
     """\
     services:
       a:
         image: x
         ports:
           - "80:80"

       b:
         image: y
     """, {"test": ["CMD", "true"], "interval": "10s"},
     """\
     services:
       a:
         image: x
         ports:
           - "80:80"
         healthcheck:
           test: ["CMD", "true"]
           interval: 10s

       b:
         image: y
     """),
    ("flow mapping healthcheck is rewritten as a flow mapping",
     """\
     services:
       a:
         healthcheck: {test: ["CMD", "false"], retries: 3}
         image: x
     """, {"test": ["CMD", "true"]},
     """\
     services:
       a:
         healthcheck: {test: ["CMD", "true"], retries: 3}
         image: x
     """),
    ("healthcheck merged in with << is written whole",
     """\
     x-hc: &hc
       healthcheck:
         test: ["CMD", "false"]
         retries: 5
     services:
       a:
         <<: *hc
         image: x
     """, {"test": ["CMD", "true"]},
     """\
     x-hc: &hc
       healthcheck:
         test: ["CMD", "false"]
         retries: 5
     services:
       a:
         <<: *hc
         image: x
         healthcheck:
           test: ["CMD", "true"]
           retries: 5
     """),
    ("block scalar test replaced, following key kept",
     """\
     services:
       a:
         healthcheck:
           test: >
             curl -f http://x/
           interval: 5s
     """, {"test": ["CMD", "true"]},
     """\
     services:
       a:
         healthcheck:
           test: ["CMD", "true"]
           interval: 5s
     """),
]


@pytest.mark.parametrize("name, before, changes, after", SNIPPETS, ids=[s[0] for s in SNIPPETS])
def test_snippets(name, before, changes, after):
    result = set_healthcheck(textwrap.dedent(before), "a", changes)
    assert result.text == textwrap.dedent(after)


def test_crlf_files_stay_crlf():
    before = "services:\r\n  a:\r\n    image: x\r\n    healthcheck:\r\n      test: [\"CMD\", \"false\"]\r\n"
    result = set_healthcheck(before, "a", {"test": ["CMD", "true"], "retries": 2})
    assert result.text == ("services:\r\n  a:\r\n    image: x\r\n    healthcheck:\r\n      test: [\"CMD\", \"true\"]\r\n"
                           "      retries: 2\r\n")


@pytest.mark.parametrize("text, message", [
    ("x-hc: &hc\n  test: [\"CMD\", \"false\"]\nservices:\n  a:\n    healthcheck: *hc\n", "alias"),
    ("services:\n  a:\n    healthcheck: &hc\n      test: [\"CMD\", \"false\"]\n  b:\n    healthcheck: *hc\n", "anchor"),
    ("services:\n  b:\n    image: x\n", "not defined"),
    ("services:\n  a: {image: x}\n", "not a block mapping"),
    ("services:\n  a:\n    healthcheck:\n      disable: true\n", "disabled"),
])
def test_refusals(text, message):
    with pytest.raises(ComposeEditError, match=message):
        set_healthcheck(text, "a", {"test": ["CMD", "true"]})


@pytest.mark.parametrize("changes, message", [
    ({"bogus": 1}, "unsupported healthcheck key"),
    ({"interval": "soon"}, "not a duration"),
    ({"retries": "many"}, "retries must be an integer"),
    ({"test": ["curl", "x"]}, "must be a list starting with CMD"),
])
def test_invalid_changes(changes, message):
    with pytest.raises(ComposeEditError, match=message):
        set_healthcheck("services:\n  a:\n    image: x\n", "a", changes)


def test_escape_dollars():
    assert escape_dollars(["CMD-SHELL", "test -n \"$(cat /x)\" && echo $HOME"]) == [
        "CMD-SHELL", "test -n \"$$(cat /x)\" && echo $$HOME"]
    assert escape_dollars("echo $A") == "echo $$A"


def test_special_characters_survive_the_round_trip():
    test = ["CMD", "python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:1/', timeout=2)"
            " # \"quoted\" \\ back ü"]
    result = set_healthcheck("services:\n  a:\n    healthcheck:\n      test: x\n", "a", {"test": test})
    assert yaml.safe_load(result.text)["services"]["a"]["healthcheck"]["test"] == test
