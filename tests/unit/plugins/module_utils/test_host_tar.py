"""host_tar: when the Mountpoint fast path may be used (a table), the engine's time format, and
the GNU tar wrapper on a real directory (no Docker: a plain subprocess of the real GNU tar)."""
import io
import os
import shutil
import stat
import tarfile
import textwrap

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.host_tar import (
    HostTarChunks, HostTarError, gnu_tar_version, mountpoint_refusal, parse_engine_time)

HAS_GNU_TAR = shutil.which("tar") is not None and gnu_tar_version() is not None


class FakeStat:
    def __init__(self, mode=stat.S_IFDIR | 0o755, mtime_ns=1796376581311203833):
        self.st_mode = mode
        self.st_mtime_ns = mtime_ns


MOUNTINFO = ("22 27 0:21 / /proc rw,relatime - proc proc rw\n"
             "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n"
             # the volume's directory is a mount itself, and a sibling shares its name's prefix: both fine
             "90 27 0:50 / /var/lib/docker/volumes/v/_data rw - ext4 /dev/vdb rw\n"
             "91 27 0:51 / /var/lib/docker/volumes/v/_data2 rw - tmpfs tmpfs rw\n")
NESTED = MOUNTINFO + "92 90 0:52 / /var/lib/docker/volumes/v/_data/cache\\040dir rw - tmpfs tmpfs rw\n"
GOOD = {"euid": 0, "local_engine": True, "remaps_ids": False, "driver": "local", "driver_options": False,
        "mountpoint": "/var/lib/docker/volumes/v/_data", "mountinfo": MOUNTINFO, "tar_version": (1, 34),
        "lstat": FakeStat(),
        "engine_stat": {"name": "phase0-src", "mode": (1 << 31) | 0o755, "mtime": "2026-12-04T09:29:41.311203833Z"}}


def test_identity_is_only_checked_when_asked():
    facts = dict(GOOD, engine_stat=None, engine_stat_error="NotFound: no such container")
    assert "NotFound: no such container" in mountpoint_refusal(facts)
    assert mountpoint_refusal(facts, check_identity=False) is None
    assert "driver options" in mountpoint_refusal(dict(facts, driver_options=True), check_identity=False)


@pytest.mark.parametrize("change, reason", [
    ({}, None),
    ({"euid": 1000}, "does not run as root"),
    ({"local_engine": False}, "not on this host"),
    ({"remaps_ids": True}, "remaps user ids"),
    ({"remaps_ids": None}, "security options are unknown"),
    ({"driver": "rexray"}, "driver is rexray"),
    ({"driver_options": True}, "driver options"),
    ({"mountpoint": None}, "no absolute Mountpoint"),
    ({"mountpoint": "relative/_data"}, "no absolute Mountpoint"),
    ({"lstat": None}, "is not a directory"),
    ({"lstat": FakeStat(mode=stat.S_IFLNK | 0o777)}, "is not a directory"),
    ({"mountinfo": None}, "mount table (/proc/self/mountinfo) cannot be read"),
    ({"mountinfo": NESTED}, "mounted inside the volume's directory (/var/lib/docker/volumes/v/_data/cache dir)"),
    ({"tar_version": None}, "GNU tar >= 1.28"),
    ({"tar_version": (1, 27)}, "GNU tar >= 1.28"),
    ({"engine_stat": None}, "did not report"),
    ({"engine_stat": {"mode": 0o755}}, "did not report"),
    ({"engine_stat": {"mode": (1 << 31) | 0o755, "mtime": "yesterday"}}, "did not report"),
    ({"lstat": FakeStat(mtime_ns=1796376581311203834)}, "not the engine's volume"),
    ({"lstat": FakeStat(mode=stat.S_IFDIR | 0o700)}, "not the engine's volume"),
    ({"engine_stat": {"mode": 0o755, "mtime": "2026-12-04T09:29:41.311203833Z"}}, "not the engine's volume"),
])
def test_mountpoint_refusal(change, reason):
    facts = dict(GOOD, **change)
    found = mountpoint_refusal(facts)
    if reason is None:
        assert found is None
    else:
        assert found is not None and reason in found


@pytest.mark.parametrize("text, expected", [
    ("2026-12-04T09:29:41.311203833Z", 1796376581311203833),
    ("2026-12-04T09:29:41Z", 1796376581000000000),
    ("2026-12-04T09:29:41.5Z", 1796376581500000000),
    ("2026-12-04T10:29:41.311203833+01:00", 1796376581311203833),
    ("2026-12-04T04:59:41.000000001-04:30", 1796376581000000001),
    ("1970-01-01T00:00:00Z", 0),
])
def test_parse_engine_time(text, expected):
    assert parse_engine_time(text) == expected


@pytest.mark.parametrize("text", ["", None, "2026-12-04 09:29:41Z", "2026-12-04T09:29:41", "2026-12-04T09:29:41.1234567890Z"])
def test_parse_engine_time_rejects(text):
    with pytest.raises(ValueError):
        parse_engine_time(text)


def read_all(chunks):
    return b"".join(chunks)


@pytest.mark.skipif(not HAS_GNU_TAR, reason="GNU tar is not installed")
def test_gnu_tar_stream_has_engine_style_members(tmp_path):
    root = tmp_path / "vol"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.txt").write_bytes(b"hello\n")
    long_name = "n" * 150
    (root / long_name).write_bytes(b"x" * 70000)
    os.symlink("sub/a.txt", str(root / "link"))
    os.link(str(root / "sub" / "a.txt"), str(root / "hard"))
    os.utime(str(root / "sub" / "a.txt"), ns=(1700000000123456789, 1700000000123456789))
    chunks = HostTarChunks(str(root), chunk_size=4096)
    data = read_all(chunks)
    assert chunks.warnings == []
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        order = tar.getmembers()
    members = dict((member.name, member) for member in order)
    # Sorted by name within each directory, like the engine's walk (Go's filepath.Walk).
    assert [member.name for member in order] == [".", "./hard", "./link", "./" + long_name, "./sub", "./sub/a.txt"]
    # The first name of a hardlink pair carries the data; whole-second mtime, no PAX time records.
    assert members["./hard"].isfile() and members["./sub/a.txt"].islnk()
    assert members["./hard"].mtime == 1700000000
    for member in members.values():
        assert member.uname == "" and member.gname == ""
        assert not set(member.pax_headers) & {"mtime", "atime", "ctime"}
    assert members["./link"].issym() and members["./link"].linkname == "sub/a.txt"
    assert members["./" + long_name].size == 70000


@pytest.mark.skipif(not HAS_GNU_TAR, reason="GNU tar is not installed")
def test_close_before_reading_ends_tar(tmp_path):
    (tmp_path / "big").write_bytes(os.urandom(4 << 20))
    chunks = HostTarChunks(str(tmp_path), chunk_size=65536)
    process = chunks._process
    chunks.close()
    assert process.returncode is not None, "tar was left running"


def fake_tar(tmp_path, exit_code, stderr):
    """An executable standing in for tar: a valid one-member stream on stdout, then the given exit."""
    member = io.BytesIO()
    with tarfile.open(fileobj=member, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("./x")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    (tmp_path / "stream.tar").write_bytes(member.getvalue())
    script = tmp_path / "tar"
    script.write_text(textwrap.dedent("""\
        #!/bin/sh
        cat '%s'
        echo '%s' >&2
        exit %d
        """ % (tmp_path / "stream.tar", stderr, exit_code)))
    script.chmod(0o755)
    return str(script)


def test_exit_1_is_a_warning_with_tar_s_message(tmp_path):
    executable = fake_tar(tmp_path, 1, "tar: ./x: file changed as we read it")
    chunks = HostTarChunks(str(tmp_path), executable=executable)
    data = read_all(chunks)
    assert data.startswith(b"./x")
    assert chunks.warnings == ["tar: ./x: file changed as we read it"]


def test_tar_runs_in_the_c_locale(tmp_path):
    """Names pass as raw bytes (another locale's charset would be converted in PAX records)."""
    (tmp_path / "stream.tar").write_bytes(b"")
    script = tmp_path / "tar"
    script.write_text("#!/bin/sh\necho \"LC_ALL=$LC_ALL\" >&2\nexit 1\n")
    script.chmod(0o755)
    chunks = HostTarChunks(str(tmp_path), executable=str(script))
    read_all(chunks)
    assert chunks.warnings == ["LC_ALL=C"]


@pytest.mark.parametrize("exit_code, stderr, message", [
    (2, "tar: ./secret: Cannot open: Permission denied", r"exit 2.*Cannot open: Permission denied"),
    # tar keeps the announced size and pads with zeros: the archive would hold bytes never in the volume.
    (1, "tar: ./db: File shrank by 4073 bytes; padding with zeros", r"shrank.*File shrank by 4073 bytes.*method api"),
])
def test_tar_failures_name_tar_s_message(tmp_path, exit_code, stderr, message):
    executable = fake_tar(tmp_path, exit_code, stderr)
    chunks = HostTarChunks(str(tmp_path), executable=executable)
    with pytest.raises(HostTarError, match=message):
        read_all(chunks)


def test_missing_executable_is_a_clear_error(tmp_path):
    with pytest.raises(HostTarError, match="could not run"):
        HostTarChunks(str(tmp_path), executable=str(tmp_path / "no-such-tar"))
    assert gnu_tar_version(str(tmp_path / "no-such-tar")) is None
