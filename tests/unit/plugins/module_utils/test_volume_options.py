import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.volume_options import (
    REDACTED, creation_problem, record_driver_options, redacted_keys)


@pytest.mark.parametrize("options,recorded,hidden", [
    (None, None, []),
    ({}, None, []),
    ({"type": "none", "o": "bind", "device": "/srv/data"}, {"type": "none", "o": "bind", "device": "/srv/data"}, []),
    ({"type": "nfs", "o": "addr=10.0.0.5,rw,nfsvers=4", "device": ":/export"},
     {"type": "nfs", "o": "addr=10.0.0.5,rw,nfsvers=4", "device": ":/export"}, []),
    ({"type": "cifs", "o": "username=svc,password=hunter2,vers=3.0", "device": "//nas/share"},
     {"type": "cifs", "o": "username=svc,password=%s,vers=3.0" % REDACTED, "device": "//nas/share"}, ["o:password"]),
    ({"o": "Pass=x,credentials=/etc/cifs.cred,uid=1000"},
     {"o": "Pass=%s,credentials=%s,uid=1000" % (REDACTED, REDACTED)}, ["o:Pass", "o:credentials"]),
    ({"type": "tmpfs", "o": "size=16m,uid=1000", "device": "tmpfs"},
     {"type": "tmpfs", "o": "size=16m,uid=1000", "device": "tmpfs"}, []),
    ({"secret_token": "abc", "size": "10G"}, {"secret_token": REDACTED, "size": "10G"}, ["secret_token"]),
    ({"o": ""}, {"o": ""}, []),
])
def test_record_and_redacted_keys(options, recorded, hidden):
    got = record_driver_options(options)
    assert got == recorded
    assert redacted_keys(got) == hidden
    text = repr(got)
    for secret in ("hunter2", "/etc/cifs.cred", "abc"):
        assert secret not in text


def test_recording_does_not_change_the_engine_dict():
    options = {"o": "password=hunter2"}
    record_driver_options(options)
    assert options == {"o": "password=hunter2"}


def test_creation_problem_names_the_volume_and_what_was_withheld():
    assert creation_problem("shop_share", {"type": "cifs"}) is None
    assert creation_problem("shop_share", None) is None
    message = creation_problem("shop_share", record_driver_options({"o": "username=u,password=p"}))
    assert "shop_share" in message and "o:password" in message and "run the restore again" in message
