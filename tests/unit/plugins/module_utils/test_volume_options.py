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
    # CIFS writes a comma inside a value as ",,": the whole password goes, not just its head.
    ({"o": "username=u,password=a,,b,,c,vers=3.0"}, {"o": "username=u,password=%s,vers=3.0" % REDACTED},
     ["o:password"]),
    # Secrets in options other than o: rclone-style connection strings, URLs, SAS query parameters.
    ({"remote": ":s3,access_key_id=AKIAEXAMPLE,secret_access_key=SKEXAMPLE:bucket"},
     {"remote": ":s3,access_key_id=%s,secret_access_key=%s" % (REDACTED, REDACTED)},
     ["remote:access_key_id", "remote:secret_access_key"]),
    ({"device": "https://svc:hunter2@nas.example/share"}, {"device": "https://svc:%s@nas.example/share" % REDACTED},
     ["device:URL password"]),
    ({"url": "https://acct.blob.example/c?sv=2024-01-01&sig=abc%2Fdef&se=2030"},
     {"url": "https://acct.blob.example/c?sv=2024-01-01&sig=%s&se=2030" % REDACTED}, ["url:sig"]),
    ({"o": "addr=fe80::1,rw,nfsvers=4.2", "device": ":/export/a,b"},
     {"o": "addr=fe80::1,rw,nfsvers=4.2", "device": ":/export/a,b"}, []),
])
def test_record_and_redacted_keys(options, recorded, hidden):
    got = record_driver_options(options)
    assert got == recorded
    assert redacted_keys(got) == hidden
    text = repr(got)
    for secret in ("hunter2", "/etc/cifs.cred", "abc", ",,b", "AKIAEXAMPLE", "SKEXAMPLE"):
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
    assert "does not exist; it was backed up with" in message
