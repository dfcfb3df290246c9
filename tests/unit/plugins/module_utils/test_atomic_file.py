"""atomic_file: one rename from *.partial, fsync before and after (TARGET 1), private modes and
no symlink following (TARGET 25), cleanup on failure including ENOSPC (TARGET 3)."""
import errno
import os
import stat
import sys
import time

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils import atomic_file
from ansible_collections.homeiq.phase0.plugins.module_utils.atomic_file import (
    AtomicWriter, UnsafePathError, ensure_private_dir, remove_stale_partials, write_file_atomic)


@pytest.fixture
def umask_0022():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def spies(monkeypatch):
    """Record os.replace and os.fsync calls in order: ('fsync', path-of-fd) / ('replace', src, dst)."""
    calls = []
    real_replace, real_fsync = os.replace, os.fsync

    def replace(src, dst, *args, **kwargs):
        calls.append(("replace", str(src), str(dst)))
        return real_replace(src, dst, *args, **kwargs)

    def fsync(fd):
        calls.append(("fsync", os.readlink("/proc/self/fd/%d" % fd)))
        return real_fsync(fd)

    monkeypatch.setattr(atomic_file.os, "replace", replace)
    monkeypatch.setattr(atomic_file.os, "fsync", fsync)
    return calls


def test_publish_is_one_rename_between_fsyncs(tmp_path, spies):
    final = tmp_path / "volumes" / "v.tar.zst"
    ensure_private_dir(str(final.parent))
    del spies[:]
    with AtomicWriter(str(final)) as writer:
        writer.write(b"payload" * 1000)
        assert not final.exists() and os.path.exists(str(final) + ".partial")
        writer.commit()
    assert final.read_bytes() == b"payload" * 1000
    assert spies == [
        ("fsync", str(final) + ".partial"),
        ("replace", str(final) + ".partial", str(final)),
        ("fsync", str(final.parent)),
    ]
    assert not os.path.exists(str(final) + ".partial")


@pytest.mark.parametrize("raise_in_block", [True, False], ids=["exception", "no commit"])
def test_failure_or_missing_commit_leaves_nothing(tmp_path, raise_in_block):
    final = tmp_path / "a.tar.zst"
    try:
        with AtomicWriter(str(final)) as writer:
            writer.write(b"x" * 100)
            if raise_in_block:
                raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert os.listdir(str(tmp_path)) == []


def test_enospc_from_the_writer_removes_the_partial(tmp_path, monkeypatch):
    final = tmp_path / "v.tar.zst"
    writes = {"count": 0}
    real_write = os.write

    def failing_write(fd, data):
        writes["count"] += 1
        if writes["count"] == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(atomic_file.os, "write", failing_write)
    with pytest.raises(OSError) as caught:
        with AtomicWriter(str(final)) as writer:
            for _attempt in range(5):
                writer.write(b"y" * 4096)
            writer.commit()
    assert caught.value.errno == errno.ENOSPC
    assert os.listdir(str(tmp_path)) == []


def test_modes_are_private_whatever_the_umask(tmp_path, umask_0022):
    created = ensure_private_dir(str(tmp_path / "backups" / "phase0_x" / "volumes"))
    assert len(created) == 3
    for directory in created:
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    path = write_file_atomic(os.path.join(created[-1], "f"), "data")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.parametrize("where", ["final", "partial"])
def test_symlink_at_output_path_is_refused(tmp_path, where):
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me")
    final = tmp_path / "v.tar.zst"
    link = final if where == "final" else tmp_path / "v.tar.zst.partial"
    os.symlink(str(victim), str(link))
    with pytest.raises((UnsafePathError, OSError)):
        with AtomicWriter(str(final), overwrite=True) as writer:
            writer.write(b"evil")
            writer.commit()
    assert victim.read_bytes() == b"keep me"
    assert os.path.islink(str(link))


def test_symlink_planted_before_commit_is_refused(tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me")
    final = tmp_path / "manifest.json"
    with pytest.raises(UnsafePathError):
        with AtomicWriter(str(final), overwrite=True) as writer:
            writer.write(b"{}")
            os.symlink(str(victim), str(final))
            writer.commit()
    assert victim.read_bytes() == b"keep me"
    assert not os.path.exists(str(final) + ".partial")


def test_symlinked_directory_is_refused(tmp_path):
    (tmp_path / "real").mkdir()
    os.symlink(str(tmp_path / "real"), str(tmp_path / "link"))
    with pytest.raises(UnsafePathError):
        ensure_private_dir(str(tmp_path / "link"))


def test_existing_final_is_not_overwritten_unless_asked(tmp_path):
    final = tmp_path / "SHA256SUMS"
    final.write_text("old")
    with pytest.raises(FileExistsError):
        AtomicWriter(str(final))
    write_file_atomic(str(final), "new", overwrite=True)
    assert final.read_text() == "new"


def test_remove_stale_partials(tmp_path):
    old = tmp_path / "phase0_1" / "volumes"
    old.mkdir(parents=True)
    (old / "a.tar.zst.partial").write_bytes(b"x")
    (old / "a.tar.zst").write_bytes(b"complete")
    (tmp_path / "outside").write_bytes(b"x")
    os.symlink(str(tmp_path / "outside"), str(old / "b.partial"))
    fresh = tmp_path / "phase0_2" / "c.partial"
    fresh.parent.mkdir()
    fresh.write_bytes(b"x")
    cutoff = time.time()
    os.utime(str(fresh), (cutoff + 5, cutoff + 5))
    removed = remove_stale_partials(str(tmp_path), older_than=cutoff)
    assert removed == [str(old / "a.tar.zst.partial")]
    assert (old / "a.tar.zst").exists() and fresh.exists() and (tmp_path / "outside").exists()
    assert os.path.islink(str(old / "b.partial"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sync_file_range is Linux only")
def test_writeback_starts_every_step_and_the_bytes_are_intact(tmp_path, monkeypatch):
    """Every WRITEBACK_STEP bytes the writer asks the kernel to start writing back (the real call,
    which must succeed), so commit()'s fsync has little left; the published bytes are unchanged."""
    real = atomic_file._SYNC_FILE_RANGE
    assert real is not None, "libc sync_file_range was not found"
    calls = []

    def spy(fd, offset, nbytes, flags):
        result = real(fd, offset, nbytes, flags)
        calls.append((offset, nbytes, flags, result))
        return result

    monkeypatch.setattr(atomic_file, "_SYNC_FILE_RANGE", spy)
    step = atomic_file.WRITEBACK_STEP
    data = os.urandom(2 * step + (3 << 20))
    path = tmp_path / "v.tar.zst"
    with AtomicWriter(str(path)) as writer:
        for offset in range(0, len(data), 1 << 20):
            writer.write(data[offset:offset + (1 << 20)])
        writer.commit()
    assert calls == [(0, step, 2, 0), (step, step, 2, 0)]
    assert path.read_bytes() == data
