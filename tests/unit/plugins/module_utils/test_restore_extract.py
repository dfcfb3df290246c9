"""Host-path restore into a directory (local files only): archive_extract called the way
restore_volume's host path calls it, and the directory swap."""
import io
import os
import stat
import tarfile

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.archive_extract import extract_archive
from ansible_collections.homeiq.phase0.plugins.module_utils.restore_extract import is_empty_dir, swap_directories


def _member(name, kind=tarfile.REGTYPE, data=b"", linkname="", mode=0o644, mtime=1600000000, uid=0):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode, info.mtime, info.uid, info.gid = kind, linkname, mode, mtime, uid, uid
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, io.BytesIO(data) if kind == tarfile.REGTYPE else None


def _tar(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, data)
    buf.seek(0)
    return buf


def test_extract_keeps_modes_links_and_mtimes(tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    archive = _tar([
        _member(".", tarfile.DIRTYPE, mode=0o1777, mtime=1500000000),
        _member("./d", tarfile.DIRTYPE, mode=0o2775, uid=70),
        _member("./d/f", data=b"pair", mode=0o4755, uid=999),
        _member("./d/h", tarfile.LNKTYPE, linkname="./d/f", mode=0o4755, uid=999),  # tar repeats the inode
        _member("./abs", tarfile.SYMTYPE, linkname="/etc/hostname", mtime=1400000000),
        _member("./fifo", tarfile.FIFOTYPE),
    ])
    path = tmp_path / "v.tar"
    path.write_bytes(archive.getvalue())
    facts = extract_archive(str(path), str(dest), keep_setuid=True, prevalidate=False, allow_external_symlinks=True)
    assert (facts["members"], facts["file_bytes"]) == (6, 4)
    root, d, f, h = (os.lstat(str(p)) for p in (dest, dest / "d", dest / "d" / "f", dest / "d" / "h"))
    assert stat.S_IMODE(root.st_mode) == 0o1777 and int(root.st_mtime) == 1500000000
    assert stat.S_IMODE(d.st_mode) == 0o2775 and d.st_uid == 70
    if os.geteuid() == 0:
        assert stat.S_IMODE(f.st_mode) == 0o4755 and f.st_uid == 999
    assert f.st_ino == h.st_ino
    link = os.lstat(str(dest / "abs"))
    assert os.readlink(str(dest / "abs")) == "/etc/hostname" and int(link.st_mtime) == 1400000000
    assert int(os.stat("/etc/hostname").st_mtime) != 1400000000  # never followed
    assert stat.S_ISFIFO(os.lstat(str(dest / "fifo")).st_mode)


def test_swap_and_empty(tmp_path):
    live, staged, old = tmp_path / "live", tmp_path / "staged", tmp_path / "old"
    live.mkdir()
    staged.mkdir()
    (live / "before").write_text("x")
    assert not is_empty_dir(str(live)) and is_empty_dir(str(staged))
    swap_directories(str(live), str(staged), str(old))
    assert is_empty_dir(str(live)) and (old / "before").exists() and not staged.exists()


def test_swap_puts_live_back_when_the_second_rename_fails(tmp_path):
    live, old = tmp_path / "live", tmp_path / "old"
    live.mkdir()
    with pytest.raises(OSError):
        swap_directories(str(live), str(tmp_path / "missing"), str(old))
    assert live.is_dir() and not old.exists()
