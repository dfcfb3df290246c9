# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host fast path of restore: the directory operations around the extraction.

Used only when the module runs as root on the engine host and the volume's Mountpoint is a
plain directory (local driver, no mount options). The extraction itself is
archive_extract.extract_archive into a fresh, empty staging directory (every member judged by
tar_validate before its bytes are written); these functions check and swap the directories.

Interface:
    is_empty_dir(path) -> bool
    swap_directories(live, staged, old) -> None
        rename live -> old, staged -> live (each an atomic rename on one file system); on a
        failure of the second rename, old is moved back.
    remove_tree(path) -> None   (never follows symlinks)
"""
from __future__ import annotations

import os
import shutil


def is_empty_dir(path):
    with os.scandir(path) as entries:
        for _entry in entries:
            return False
    return True


def swap_directories(live, staged, old):
    os.rename(live, old)
    try:
        os.rename(staged, live)
    except OSError:
        os.rename(old, live)
        raise


def remove_tree(path):
    if os.path.islink(path) or not os.path.isdir(path):
        if os.path.lexists(path):
            os.unlink(path)
        return
    shutil.rmtree(path)
