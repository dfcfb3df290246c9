"""host_volume: why a volume's directory on this host cannot stand in for the Engine API, in the
same words for the backup's and the restore's host method."""
import re

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.host_tar import mountpoint_refusal
from ansible_collections.homeiq.phase0.plugins.module_utils.host_volume import (
    engine_refusal, mounts_under, volume_refusal)
from ansible_collections.homeiq.phase0.plugins.module_utils.restore_plan import host_path_problem


@pytest.mark.parametrize("euid, local, remaps, endpoint, reason", [
    (0, True, False, None, None),
    (1000, True, False, None, "does not run as root"),
    (None, True, False, None, "does not run as root"),
    (0, False, False, "tcp://10.0.0.1:2376", "tcp://10.0.0.1:2376 is not a unix socket"),
    (0, False, False, None, "its address is not a unix socket"),
    (0, True, None, None, "security options are unknown"),
    (0, True, True, None, "remaps user ids (userns-remap or rootless)"),
])
def test_engine_refusal(euid, local, remaps, endpoint, reason):
    found = engine_refusal(euid, local, remaps, endpoint)
    assert found is None if reason is None else reason in found


@pytest.mark.parametrize("driver, options, reason", [
    ("local", None, None),
    ("local", {}, None),
    ("nfs", None, "the volume driver is nfs, not local"),
    (None, None, "the volume driver is None, not local"),
    ("local", {"type": "tmpfs", "device": "tmpfs"}, "driver options (device, type): a mount made only"),
    ("local", True, "the local volume has driver options: a mount made only"),
])
def test_volume_refusal(driver, options, reason):
    found = volume_refusal(driver, options)
    assert found is None if reason is None else reason in found


@pytest.mark.parametrize("change", [
    {"euid": 1000}, {"remaps_ids": True}, {"remaps_ids": None}, {"driver": "rexray"}, {"driver_options": True}])
def test_backup_and_restore_refuse_in_the_same_words(change):
    facts = dict({"euid": 0, "local_engine": True, "remaps_ids": False, "driver": "local", "driver_options": False},
                 **change)
    volume = {"Driver": facts["driver"], "Options": {"o": "bind"} if facts["driver_options"] else None}
    backup = mountpoint_refusal(facts, check_identity=False)
    restore = host_path_problem(facts["euid"] == 0, "unix:///var/run/docker.sock", volume, facts["remaps_ids"])
    assert backup is not None and restore is not None
    # The same reason; only a detail in parentheses (option names, the endpoint) may differ.
    assert re.sub(r" \([^)]*\)", "", backup) == re.sub(r" \([^)]*\)", "", restore)


TABLE = ("27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
         "40 27 0:30 / /srv/vol/_data2 rw - tmpfs tmpfs rw\n"
         "41 27 0:31 / /srv/vol/_data/a\\040b rw - tmpfs tmpfs rw\n"
         "42 41 0:32 / /srv/vol/_data/a\\040b/deeper rw - tmpfs tmpfs rw\n"
         "43 27 0:33 / /srv/other/_data rw - tmpfs tmpfs rw\n"
         "short line\n")


@pytest.mark.parametrize("directory, include_self, expected", [
    ("/srv/vol/_data", False, ["/srv/vol/_data/a b", "/srv/vol/_data/a b/deeper"]),
    ("/srv/vol/_data/", False, ["/srv/vol/_data/a b", "/srv/vol/_data/a b/deeper"]),
    ("/srv/other/_data", False, []),
    ("/srv/other/_data", True, ["/srv/other/_data"]),
    ("/srv/vol", False, ["/srv/vol/_data/a b", "/srv/vol/_data/a b/deeper", "/srv/vol/_data2"]),
    ("/nowhere", True, []),
])
def test_mounts_under(directory, include_self, expected):
    assert mounts_under(directory, TABLE, include_self) == expected


@pytest.mark.parametrize("volume, mountinfo, reason", [
    ({"Driver": "local", "Mountpoint": "/srv/other/_data2"}, TABLE, None),
    ({"Driver": "local", "Mountpoint": "/srv/vol/_data"}, TABLE, "mounted at or inside the volume's directory (/srv/vol/_data/a b"),
    ({"Driver": "local", "Mountpoint": "/srv/other/_data"}, TABLE, "at or inside the volume's directory (/srv/other/_data)"),
    ({"Driver": "local", "Mountpoint": "/srv/other/_data"}, None, "cannot be read"),
    ({"Driver": "local"}, None, None),  # not created yet: a fresh directory has no mounts
])
def test_restore_refuses_a_volume_directory_with_mounts(volume, mountinfo, reason):
    found = host_path_problem(True, "unix:///var/run/docker.sock", volume, False, mountinfo)
    assert found is None if reason is None else reason in found
