# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared by phase0_monitor.py and phase0_dashboard.py: load the agent's lib/ under collection names.

The agent runs standalone on the target: it does not need the collection installed there, only the
stdlib-only monitor_*.py files the role copies to lib/. From a checkout (no lib/), nothing is
registered and the real collection path is used.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import types

PKG = "ansible_collections.homeiq.phase0.plugins.module_utils"
LIBS = ("monitor_sample", "monitor_errors", "monitor_files", "monitor_process", "monitor_html")


def load_lib(lib_dir):
    """Register lib_dir/monitor_*.py as PKG.monitor_* (parent packages created empty)."""
    if not os.path.isdir(lib_dir):
        return
    parts = PKG.split(".")
    for i in range(1, len(parts) + 1):
        name = ".".join(parts[:i])
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = []
            sys.modules[name] = package
    for name in LIBS:
        spec = importlib.util.spec_from_file_location(PKG + "." + name, os.path.join(lib_dir, name + ".py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[PKG + "." + name] = module
        spec.loader.exec_module(module)
        setattr(sys.modules[PKG], name, module)
