"""Compose project resolution (pure): names, file discovery, include:, defining files, corpus."""
import os
import textwrap

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils import compose_project as cp

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CORPUS = os.path.join(ROOT, "fixtures", "corpus", "homeiq")


def write(base, files):
    for rel, text in files.items():
        path = os.path.join(str(base), rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(textwrap.dedent(text))
    return str(base)


SIMPLE = "services:\n  web:\n    image: busybox\n"


# --- names ----------------------------------------------------------------------------

@pytest.mark.parametrize("raw, normalized", [
    ("homeiq", "homeiq"),
    ("HomeIQ", "homeiq"),
    ("My.Dir_X", "mydir_x"),
    ("my project", "myproject"),
    ("-_9Lead", "9lead"),          # leading '-' and '_' dropped
    ("__a", "a"),
    ("a-_b", "a-_b"),               # inner ones kept
    ("trailing-", "trailing-"),     # only leading chars are trimmed
    ("ÄÖü", ""),                    # non-ASCII dropped
    ("", ""),
    (None, ""),
    ("web.app.2", "webapp2"),
])
def test_normalize_project_name(raw, normalized):
    assert cp.normalize_project_name(raw) == normalized


@pytest.mark.parametrize("name, valid", [
    ("homeiq", True), ("a-b_c9", True), ("9start", True),
    ("Upper", False), ("-lead", False), ("_lead", False), ("has.dot", False), ("", False),
])
def test_is_valid_project_name(name, valid):
    assert cp.is_valid_project_name(name) is valid


@pytest.mark.parametrize("kwargs, expected", [
    (dict(explicit="cli", env_name="env", dotenv_name="dot", file_name="file"), ("cli", "explicit")),
    (dict(env_name="env", dotenv_name="dot", file_name="file"), ("env", "env")),
    (dict(dotenv_name="dot", file_name="file"), ("dot", "dotenv")),
    (dict(file_name="File.Name"), ("filename", "compose_file")),
    (dict(file_name="..."), ("mydir_x", "directory")),     # a name normalising to "" is skipped
    (dict(), ("mydir_x", "directory")),
    (dict(env_name=""), ("mydir_x", "directory")),         # empty env var counts as unset
])
def test_choose_project_name_precedence(kwargs, expected):
    assert cp.choose_project_name("/srv/My.Dir_X", **kwargs) == expected


@pytest.mark.parametrize("kwargs, source_text", [
    (dict(explicit="Bad.Name"), "project_name"),
    (dict(env_name="UPPER"), "COMPOSE_PROJECT_NAME environment variable"),
    (dict(dotenv_name="-x"), "project's .env"),
])
def test_choose_project_name_rejects_invalid_imperative_names(kwargs, source_text):
    with pytest.raises(cp.ComposeProjectError, match="invalid project name") as info:
        cp.choose_project_name("/srv/app", **kwargs)
    assert source_text in str(info.value)


def test_choose_project_name_needs_some_name():
    with pytest.raises(cp.ComposeProjectError, match="set project_name"):
        cp.choose_project_name("/srv/...")


# --- discovery --------------------------------------------------------------------------

@pytest.mark.parametrize("present, expected", [
    (["compose.yaml"], ["compose.yaml"]),
    (["docker-compose.yml"], ["docker-compose.yml"]),
    (["docker-compose.yml", "compose.yml"], ["compose.yml"]),            # compose.* first
    (["docker-compose.yaml", "docker-compose.yml"], ["docker-compose.yml"]),
    (["compose.yaml", "compose.override.yaml"], ["compose.yaml", "compose.override.yaml"]),
    (["docker-compose.yml", "docker-compose.override.yml", "compose.override.yml"],
     ["docker-compose.yml", "compose.override.yml"]),
    (["compose.override.yml"], []),                                       # an override alone is nothing
    ([], []),
])
def test_discover_compose_files(tmp_path, present, expected):
    write(tmp_path, {name: SIMPLE for name in present})
    found = cp.discover_compose_files(str(tmp_path))
    assert [os.path.basename(f) for f in found] == expected


@pytest.mark.parametrize("value, separator, expected", [
    ("a.yml:b.yml", None, ["a.yml", "b.yml"]),
    ("a.yml", None, ["a.yml"]),
    ("a.yml;b.yml", ";", ["a.yml", "b.yml"]),
    ("", None, []),
    ("a.yml::b.yml", None, ["a.yml", "b.yml"]),
])
def test_split_compose_file_env(value, separator, expected):
    assert cp.split_compose_file_env(value, separator) == expected


# --- resolve_project ---------------------------------------------------------------------

def test_name_from_file_with_interpolation_and_dotenv(tmp_path):
    d = write(tmp_path / "Proj", {"compose.yaml": "name: ${STACK:-fallback}\n" + SIMPLE, ".env": "STACK=From.DotEnv\n"})
    project = cp.resolve_project(d, env={})
    assert (project.name, project.name_source) == ("fromdotenv", "compose_file")
    assert project.dotenv_file == os.path.join(d, ".env")


def test_last_file_name_wins_and_env_beats_it(tmp_path):
    d = write(tmp_path / "p", {"a.yml": "name: first\n" + SIMPLE, "b.yml": "name: second\n"})
    assert cp.resolve_project(d, compose_files=["a.yml", "b.yml"], env={}).name == "second"
    assert cp.resolve_project(d, compose_files=["a.yml", "b.yml"], env={"COMPOSE_PROJECT_NAME": "env"}).name == "env"
    assert cp.resolve_project(d, project_name="cli", compose_files=["a.yml"], env={"COMPOSE_PROJECT_NAME": "env"}).name == "cli"


def test_compose_file_env_and_dotenv(tmp_path):
    d = write(tmp_path / "p", {"one.yml": SIMPLE, "two.yml": "services:\n  db:\n    image: busybox\n",
                               ".env": "COMPOSE_FILE=one.yml:two.yml\n"})
    project = cp.resolve_project(d, env={})
    assert [os.path.basename(f) for f in project.files] == ["one.yml", "two.yml"]
    assert sorted(project.services) == ["db", "web"]


def test_missing_files_are_named(tmp_path):
    d = write(tmp_path / "p", {"x.txt": ""})
    with pytest.raises(cp.ComposeProjectError, match="no compose file in"):
        cp.resolve_project(d, env={})
    with pytest.raises(cp.ComposeProjectError, match="nope.yml does not exist"):
        cp.resolve_project(d, compose_files=["nope.yml"], env={})
    with pytest.raises(cp.ComposeProjectError, match="does not exist"):
        cp.resolve_project(str(tmp_path / "absent"), env={})


@pytest.mark.parametrize("text, message", [
    ("- a\n- b\n", "top-level object must be a mapping"),
    ("services: [\n", "not valid YAML"),
    ("services:\n  a:\n    image: ${\n", "unclosed"),
    ("include: x.yml\n", "`include` must be a list"),
])
def test_bad_files_fail_with_the_file_named(tmp_path, text, message):
    d = write(tmp_path / "p", {"compose.yaml": text})
    with pytest.raises(cp.ComposeProjectError, match=message) as info:
        cp.resolve_project(d, env={})
    assert "compose.yaml" in str(info.value)


def test_override_file_merges_and_records_both_files(tmp_path):
    d = write(tmp_path / "p", {
        "compose.yaml": """\
            services:
              web:
                image: busybox
                command: [sleep, "1"]
                ports: ["80:80"]
                healthcheck:
                  test: [CMD, "true"]
              db:
                image: busybox
            """,
        "compose.override.yaml": """\
            services:
              web:
                command: [sleep, "2"]
                ports: ["81:81"]
                healthcheck:
                  interval: 5s
            """})
    project = cp.resolve_project(d, env={})
    web = project.services["web"]
    assert web["command"] == ["sleep", "2"]           # replaced
    assert web["ports"] == ["80:80", "81:81"]         # merged
    assert web["healthcheck"] == {"test": ["CMD", "true"], "interval": "5s"}
    source = project.service_sources["web"]
    assert source.file == os.path.join(d, "compose.yaml")
    assert source.files == [os.path.join(d, "compose.yaml"), os.path.join(d, "compose.override.yaml")]
    assert source.healthcheck_file == os.path.join(d, "compose.override.yaml")
    assert project.service_sources["db"].healthcheck_file is None


def test_reset_and_override_tags(tmp_path):
    d = write(tmp_path / "p", {
        "compose.yaml": "services:\n  web:\n    image: busybox\n    ports: ['80:80']\n    environment: {A: '1', B: '2'}\n",
        "compose.override.yaml": "services:\n  web:\n    ports: !reset []\n    environment: !override {C: '3'}\n"})
    web = cp.resolve_project(d, env={}).services["web"]
    assert "ports" not in web
    assert web["environment"] == {"C": "3"}


def test_include_string_and_long_form_nested(tmp_path):
    d = write(tmp_path / "stack", {
        "compose.yaml": """\
            name: stack
            include:
              - sub/a.yml
              - path: ../shared/b.yml
                env_file: vars.env
            services:
              root:
                image: busybox
            """,
        "vars.env": "B_IMAGE=from-include-env\n",
        "sub/a.yml": """\
            include:
              - path: deeper/c.yml
            services:
              a:
                image: busybox
                healthcheck: {test: [CMD, "true"]}
            """,
        "sub/deeper/c.yml": "services:\n  c:\n    image: ${C_IMAGE:-c-default}\n",
        "sub/deeper/.env": "C_IMAGE=from-c-dotenv\n",
    })
    write(tmp_path / "shared", {"b.yml": "services:\n  b:\n    image: ${B_IMAGE}\nvolumes:\n  bdata: {}\n"})
    project = cp.resolve_project(d, env={})
    assert sorted(project.services) == ["a", "b", "c", "root"]
    assert project.service_file("root") == os.path.join(d, "compose.yaml")
    assert project.service_file("a") == os.path.join(d, "sub", "a.yml")
    assert project.service_file("c") == os.path.join(d, "sub", "deeper", "c.yml")
    assert project.service_file("b") == str(tmp_path / "shared" / "b.yml")
    assert project.service_sources["a"].healthcheck_file == os.path.join(d, "sub", "a.yml")
    # include env_file and an included project's own .env feed interpolation
    assert project.services["b"]["image"] == "from-include-env"
    assert project.services["c"]["image"] == "from-c-dotenv"
    assert project.volume_names() == {"bdata": "stack_bdata"}
    assert set(project.included_files) == {os.path.join(d, "sub", "a.yml"),
                                           os.path.join(d, "sub", "deeper", "c.yml"),
                                           str(tmp_path / "shared" / "b.yml")}
    assert project.warnings == []


def test_include_project_directory_sets_relative_base(tmp_path):
    d = write(tmp_path / "p", {
        "compose.yaml": "include:\n  - path: mods/m.yml\n    project_directory: mods\n",
        "mods/m.yml": "services:\n  m:\n    image: ${M:-x}\n",
        "mods/.env": "M=from-project-directory-env\n",
    })
    project = cp.resolve_project(d, env={})
    assert project.services["m"]["image"] == "from-project-directory-env"
    assert project.name == "p"


def test_project_environment_beats_include_env_file(tmp_path):
    d = write(tmp_path / "p", {
        "compose.yaml": "include:\n  - path: m.yml\n    env_file: m.env\n",
        "m.yml": "services:\n  m:\n    image: ${IMG}\n",
        "m.env": "IMG=from-env-file\n",
    })
    assert cp.resolve_project(d, env={"IMG": "from-shell"}).services["m"]["image"] == "from-shell"


def test_include_cycle_and_missing_include(tmp_path):
    d = write(tmp_path / "cyc", {"compose.yaml": "include: [a.yml]\n", "a.yml": "include: [compose.yaml]\n"})
    with pytest.raises(cp.ComposeProjectError, match="include cycle detected"):
        cp.resolve_project(d, env={})
    d = write(tmp_path / "miss", {"compose.yaml": "include: [gone.yml]\n"})
    with pytest.raises(cp.ComposeProjectError, match="includes .*gone.yml, which does not exist"):
        cp.resolve_project(d, env={})


def test_conflicting_include_is_a_warning_not_a_crash(tmp_path):
    d = write(tmp_path / "p", {
        "compose.yaml": "include: [a.yml, b.yml]\n",
        "a.yml": "services:\n  a: {image: busybox}\nvolumes:\n  shared: {}\n",
        "b.yml": "services:\n  b: {image: busybox}\nvolumes:\n  shared: {external: true}\n",
    })
    project = cp.resolve_project(d, env={})
    assert sorted(project.services) == ["a", "b"]
    assert any("volumes.shared" in w for w in project.warnings)


def test_missing_variables_become_a_warning(tmp_path):
    d = write(tmp_path / "p", {"compose.yaml": "services:\n  a:\n    image: ${NOPE}img\n    x: ${REQ:?needed}\n"})
    project = cp.resolve_project(d, env={})
    assert project.services["a"]["image"] == "img"
    assert any("NOPE" in w for w in project.warnings)
    assert any("REQ" in w and "needed" in w for w in project.warnings)


@pytest.mark.parametrize("spec, engine_name", [
    ({}, "proj_data"),
    (None, "proj_data"),
    ({"name": "custom"}, "custom"),
    ({"external": True}, "data"),
    ({"external": True, "name": "ext"}, "ext"),
])
def test_volume_names(spec, engine_name):
    project = cp.ComposeProject("proj", "explicit", "/x", [])
    project.volumes = {"data": spec}
    assert project.volume_names() == {"data": engine_name}


def test_to_dict_never_contains_environment_values(tmp_path):
    d = write(tmp_path / "p", {"compose.yaml": "services:\n  a:\n    image: busybox\n    environment:\n      DB_PASSWORD: ${PW}\n",
                               ".env": "PW=hunter2\n"})
    project = cp.resolve_project(d, env={})
    assert project.services["a"]["environment"]["DB_PASSWORD"] == "hunter2"
    assert "hunter2" not in repr(project.to_dict())


# --- engine helpers (pure parts) -----------------------------------------------------------

@pytest.mark.parametrize("status, health", [
    ("Up 5 minutes (healthy)", "healthy"),
    ("Up 2 seconds (health: starting)", "starting"),
    ("Up 1 hour (unhealthy)", "unhealthy"),
    ("Up 3 minutes", None),
    ("Exited (0) 2 minutes ago", None),
    ("", None),
    (None, None),
])
def test_health_from_status(status, health):
    assert cp.health_from_status(status) == health


@pytest.mark.parametrize("values, expected", [
    ([], None), (["running"], "running"), (["running", "running"], "running"),
    (["running", "exited"], "mixed"), ([None, None], None), (["healthy", None], "mixed"),
])
def test_summarize(values, expected):
    assert cp.summarize(values) == expected


def test_project_filters():
    assert cp.project_filters("demo") == {"label": ["com.docker.compose.project=demo"]}
    assert cp.project_filters("demo", status=["running"])["status"] == ["running"]


# --- the HomeIQ corpus ---------------------------------------------------------------------

def test_homeiq_single_file_corpus():
    d = os.path.join(CORPUS, "2026-02-04")
    project = cp.resolve_project(d, env={})
    assert (project.name, project.name_source) == ("homeiq", "compose_file")
    assert len(project.services) == 47            # 41 without profiles; `docker compose --profile '*'` agrees
    assert len([s for s in project.services.values() if not s.get("profiles")]) == 41
    assert len(project.volumes) == 19
    assert all(src.file == os.path.join(d, "docker-compose.yml") for src in project.service_sources.values())
    assert sum(1 for s in project.services.values() if "healthcheck" in s) >= 44


DOMAIN_COUNTS = {"core-platform": 14, "data-collectors": 10, "ml-engine": 9, "automation-core": 8,
                 "device-management": 8, "blueprints": 4, "frontends": 4, "energy-analytics": 3,
                 "pattern-analysis": 2}


def test_homeiq_include_corpus_defining_files_are_domain_files():
    d = os.path.join(CORPUS, "2026-08-06")
    project = cp.resolve_project(d, env={})
    assert project.name == "homeiq"                # the root's name, not an included file's
    assert len(project.services) == sum(DOMAIN_COUNTS.values()) == 62
    assert len(project.included_files) == 9
    by_domain = {}
    for source in project.service_sources.values():
        by_domain.setdefault(os.path.basename(os.path.dirname(source.file)), []).append(source)
    assert {k: len(v) for k, v in by_domain.items()} == DOMAIN_COUNTS
    websocket = project.service_sources["websocket-ingestion"]
    assert websocket.file == os.path.join(d, "domains", "core-platform", "compose.yml")
    assert websocket.healthcheck_file == websocket.file
    assert project.service_file("influxdb") == os.path.join(d, "domains", "core-platform", "compose.yml")
    # the corpus has no .env and reuses volume keys differently across domains: Compose refuses
    # both; we load it and say so
    assert any("homeiq_logs" in w and "conflict" in w for w in project.warnings)
    assert any(".env" in w and "does not exist" in w for w in project.warnings)
