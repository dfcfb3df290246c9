"""build_inventory (pure): joining the compose model with engine list answers."""
import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils import project_inventory as pi


def container(name, service, state="running", status="Up 1 minute", image_id="sha256:img", mounts=(), cid=None):
    return {"Id": cid or "id-" + name, "Names": ["/" + name], "State": state, "Status": status,
            "Image": "app:1", "ImageID": image_id, "Created": 1,
            "Labels": {"com.docker.compose.project": "demo", "com.docker.compose.service": service,
                       "com.docker.compose.container-number": "1", "com.docker.compose.oneoff": "False",
                       "com.docker.compose.project.working_dir": "/srv/demo",
                       "com.docker.compose.project.config_files": "/srv/demo/a.yml,/srv/demo/b.yml"},
            "Mounts": [{"Type": "volume", "Name": m} for m in mounts] + [{"Type": "bind", "Source": "/x"}]}


MODEL = {
    "name": "demo", "name_source": "directory", "dir": "/srv/demo", "compose_files": ["/srv/demo/compose.yaml"],
    "included_files": [],
    "services": {
        "web": {"file": "/srv/demo/compose.yaml", "files": ["/srv/demo/compose.yaml"], "healthcheck_file": "/srv/demo/compose.yaml",
                "has_healthcheck": True, "profiles": [], "image": "app:1"},
        "db": {"file": "/srv/demo/compose.yaml", "files": ["/srv/demo/compose.yaml"], "healthcheck_file": None,
               "has_healthcheck": False, "profiles": [], "image": "db:1"},
        "tool": {"file": "/srv/demo/compose.yaml", "files": [], "healthcheck_file": None,
                 "has_healthcheck": False, "profiles": ["debug"], "image": "tool:1"},
    },
    "volumes": {"data": "demo_data", "ext": "shared"},
}


def facts(**overrides):
    base = {
        "containers": [
            container("demo-web-1", "web", status="Up 1 minute (unhealthy)", mounts=["demo_data"]),
            container("demo-web-2", "web", status="Up 1 minute (healthy)", mounts=["demo_data"]),
            container("demo-db-1", "db", state="exited", status="Exited (137) 5 seconds ago", image_id="sha256:db"),
            container("demo-old-1", "old"),
        ],
        "volumes": [{"Name": "demo_data", "Driver": "local", "Mountpoint": "/var/lib/docker/volumes/demo_data/_data",
                     "Labels": {"com.docker.compose.volume": "data", "com.docker.compose.project": "demo"}}],
        "networks": [{"Name": "demo_default", "Id": "n1", "Driver": "bridge", "Labels": {}}],
        "images": [{"Id": "sha256:img", "RepoTags": ["app:1", "<none>:<none>"], "RepoDigests": ["<none>@<none>"]},
                   {"Id": "sha256:built", "RepoTags": ["demo-tool"],
                    "Labels": {"com.docker.compose.project": "demo", "com.docker.compose.service": "tool"}}],
        "health": {"id-demo-web-1": {"status": "unhealthy", "failing_streak": 4, "last_exit_code": 1}},
        "sizes": {"demo_data": 4096},
    }
    base.update(overrides)
    return base


def test_services_join_files_and_containers():
    inv = pi.build_inventory(MODEL, facts(), "demo")
    services = {s["name"]: s for s in inv["services"]}
    assert sorted(services) == ["db", "old", "tool", "web"]
    assert services["web"]["containers"] == ["demo-web-1", "demo-web-2"]
    assert services["web"]["health"] == "mixed"
    assert services["db"]["state"] == "exited" and services["db"]["health"] == "none"
    assert services["tool"]["state"] == "absent" and services["tool"]["health"] is None
    assert services["old"]["defined"] is False and services["old"]["image"] == "app:1"
    assert services["web"]["healthcheck_file"] == "/srv/demo/compose.yaml"


def test_containers_volumes_images_networks():
    inv = pi.build_inventory(MODEL, facts(), "demo")
    by_name = {c["name"]: c for c in inv["containers"]}
    assert [c["name"] for c in inv["containers"]] == sorted(by_name)
    assert by_name["demo-web-1"]["health"] == "unhealthy" and by_name["demo-web-1"]["failing_streak"] == 4
    assert by_name["demo-web-2"]["health"] == "healthy"          # from Status when not inspected
    assert by_name["demo-db-1"]["exit_code"] == 137
    assert by_name["demo-web-1"]["volumes"] == ["demo_data"]       # binds are not volumes
    (volume,) = inv["volumes"]
    assert volume["used_by"] == ["demo-web-1", "demo-web-2"] and volume["size"] == 4096
    assert volume["compose_volume"] == "data"
    assert inv["declared_volumes"] == [{"key": "data", "name": "demo_data", "exists": True},
                                       {"key": "ext", "name": "shared", "exists": False}]
    images = {i["id"]: i for i in inv["images"]}
    assert images["sha256:img"]["tags"] == ["app:1"] and images["sha256:img"]["digests"] == []
    assert images["sha256:img"]["services"] == ["old", "web"]
    assert images["sha256:built"]["services"] == ["tool"]
    assert inv["networks"][0]["name"] == "demo_default"
    assert inv["summary"] == {"services": 4, "containers": 4, "running": 3, "healthy": 1, "unhealthy": 1,
                              "starting": 0, "volumes": 1, "images": 2, "networks": 1}


def test_sizes_are_null_unless_asked():
    inv = pi.build_inventory(MODEL, facts(sizes=None), "demo")
    assert inv["volumes"][0]["size"] is None


def test_engine_only_inventory_takes_dir_and_files_from_labels():
    inv = pi.build_inventory(None, facts(), "demo")
    assert inv["dir"] == "/srv/demo"
    assert inv["compose_files"] == ["/srv/demo/a.yml", "/srv/demo/b.yml"]
    assert inv["name_source"] == "explicit"
    assert all(not s["defined"] for s in inv["services"])


def test_empty_project_is_truthful_and_warned():
    empty = {"containers": [], "volumes": [], "networks": [], "images": [], "health": {}, "sizes": None}
    inv = pi.build_inventory(MODEL, empty, "demo")
    assert inv["containers"] == inv["volumes"] == inv["images"] == inv["networks"] == []
    assert {s["state"] for s in inv["services"]} == {"absent"}
    (warning,) = pi.inventory_warnings(inv, "unix:///var/run/docker.sock")
    assert "no containers of compose project 'demo' on unix:///var/run/docker.sock" in warning


def test_missing_containers_are_warned_except_profiled_services():
    inv = pi.build_inventory(MODEL, facts(containers=[container("demo-web-1", "web")]), "demo")
    assert pi.inventory_warnings(inv, "x") == ["services without a container: db"]


@pytest.mark.parametrize("status, code", [
    ("Exited (0) 3 seconds ago", 0), ("Exited (137) 1 hour ago", 137), ("Exited (-1) now", -1),
    ("Up 2 minutes", None), ("Created", None), (None, None),
])
def test_exit_code_from_status(status, code):
    assert pi.exit_code_from_status(status) == code


@pytest.mark.parametrize("inspected, expected", [
    ({"State": {"Health": {"Status": "unhealthy", "FailingStreak": 3,
                           "Log": [{"ExitCode": 0, "End": "t1", "Output": "ok"},
                                   {"ExitCode": -1, "End": "t2", "Output": "secret=hunter2"}]}}},
     {"status": "unhealthy", "failing_streak": 3, "last_exit_code": -1, "last_check": "t2"}),
    ({"State": {}}, {"status": None, "failing_streak": None, "last_exit_code": None, "last_check": None}),
    (None, {"status": None, "failing_streak": None, "last_exit_code": None, "last_check": None}),
])
def test_health_details_drop_probe_output(inspected, expected):
    assert pi.health_details(inspected) == expected
