import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.restore_plan import (
    choose_method, compose_labels_missing, host_path_problem, plan_volume, select_entries, staging_volume_name)

VOLS = [{"name": "a"}, {"name": "b"}]


@pytest.mark.parametrize("state, replace, running, action, changed, problem", [
    ("missing", False, (), "create", True, None),
    ("empty", False, (), "fill", True, None),
    ("same", False, (), "unchanged", False, None),
    ("same", False, ("web",), "unchanged", False, None),
    ("different", True, (), "replace", True, None),
    ("different", False, (), "blocked", False, "restore_replace_volumes: true"),
    ("different", True, ("web",), "busy", False, "running container(s) web"),
    ("empty", False, ("web",), "busy", False, "stop them first"),
])
def test_plan_volume(state, replace, running, action, changed, problem):
    plan = plan_volume("vol", state, replace, running)
    assert (plan["action"], plan["changed"]) == (action, changed)
    if problem:
        assert problem in plan["problem"] and "vol" in plan["problem"]
    else:
        assert plan["problem"] is None


@pytest.mark.parametrize("names, mapping, expected", [
    (None, None, [("a", "a"), ("b", "b")]),
    (["b"], None, [("b", "b")]),
    (None, {"a": "x"}, [("a", "x"), ("b", "b")]),
])
def test_select_entries(names, mapping, expected):
    assert [(e["name"], t) for e, t in select_entries(VOLS, names, mapping)] == expected


@pytest.mark.parametrize("names, mapping, message", [
    (["c"], None, "no volume named c"),
    (None, {"zz": "x"}, "volume_map names volumes the backup does not have: zz"),
])
def test_select_entries_errors(names, mapping, message):
    with pytest.raises(ValueError, match=message):
        select_entries(VOLS, names, mapping)


@pytest.mark.parametrize("is_root, endpoint, volume, problem", [
    (True, "unix:///var/run/docker.sock", {"Driver": "local", "Options": None}, None),
    (True, "unix:///var/run/docker.sock", None, None),
    (False, "unix:///var/run/docker.sock", None, "not run as root"),
    (True, "tcp://10.0.0.1:2376", None, "not on this host"),
    (True, "unix:///x", {"Driver": "nfs"}, "driver is nfs, not local"),
    (True, "unix:///x", {"Driver": "local", "Options": {"device": "/srv", "o": "bind"}}, "driver options (device, o)"),
])
def test_host_path_problem(is_root, endpoint, volume, problem):
    found = host_path_problem(is_root, endpoint, volume)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize("remaps, problem", [
    (False, None), (True, "remaps user ids"), (None, "security options are unknown")])
def test_host_path_problem_when_the_engine_remaps_ids(remaps, problem):
    found = host_path_problem(True, "unix:///var/run/docker.sock", {"Driver": "local"}, remaps)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize("requested, host_ok, method", [
    ("auto", True, "host"), ("auto", False, "api"), ("api", True, "api"), ("host", True, "host")])
def test_choose_method(requested, host_ok, method):
    assert choose_method(requested, host_ok, None if host_ok else "why")[0] == method


def test_choose_method_host_impossible():
    with pytest.raises(ValueError, match="method=host is not possible here: not root"):
        choose_method("host", False, "not root")


def test_staging_name_and_labels():
    assert staging_volume_name("proj_data", "ab12") == "proj_data-p0restore-ab12"
    assert compose_labels_missing({"com.docker.compose.project": "p"}) == [
        "com.docker.compose.volume", "com.docker.compose.version"]


def test_missing_volume_with_a_withheld_secret_option_is_blocked_not_created():
    plan = plan_volume("shop_share", "missing", False, driver_options={"type": "cifs", "o": "username=u,password=<redacted>"})
    assert plan["action"] == "blocked" and not plan["changed"]
    assert "o:password" in plan["problem"] and "docker volume create" in plan["problem"]


def test_missing_volume_with_plain_options_is_created():
    plan = plan_volume("shop_bind", "missing", False, driver_options={"type": "none", "o": "bind", "device": "/srv/x"})
    assert plan == {"action": "create", "changed": True, "problem": None}
