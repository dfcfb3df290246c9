"""host_probe helpers that need no engine: df parsing, free space, locality, CLI errors."""
import os

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils import host_probe as hp


def test_parse_df():
    out = "Filesystem     1024-blocks      Used Available Capacity Mounted on\n/dev/vda1  100 40 60 40% /r\n"
    assert hp.parse_df(out) == 60 * 1024
    with pytest.raises(ValueError):
        hp.parse_df("df: /r: No such file or directory\n")


def test_free_bytes_walks_up_to_an_existing_parent(tmp_path):
    free, measured = hp.free_bytes(str(tmp_path / "not" / "yet"))
    assert measured == str(tmp_path)
    stat = os.statvfs(str(tmp_path))
    assert free == stat.f_bavail * stat.f_frsize


@pytest.mark.parametrize("endpoint, os_name, root_exists, expected", [
    ("unix:///var/run/docker.sock", "Debian GNU/Linux 12", True, True),
    ("unix:///var/run/docker.sock", "Docker Desktop", True, False),
    ("tcp://10.0.0.5:2376", "Debian GNU/Linux 12", True, False),
    ("unix:///var/run/docker.sock", "Debian GNU/Linux 12", False, False),
])
def test_engine_is_local(tmp_path, endpoint, os_name, root_exists, expected):
    root = str(tmp_path if root_exists else tmp_path / "missing")
    assert hp.engine_is_local(endpoint, {"DockerRootDir": root, "OperatingSystem": os_name}) is expected


def test_run_cli_reports_missing_command_and_failure():
    assert hp.run_cli(["/nonexistent/phase0-cli", "x"]) == (None, "/nonexistent/phase0-cli: command not found")
    out, err = hp.run_cli(["sh", "-c", "echo boom >&2; exit 3"])
    assert out is None and err == "boom"
    assert hp.run_cli(["sh", "-c", "echo ok"]) == ("ok\n", None)
