"""Make `ansible_collections.homeiq.phase0` importable from a checkout.

The Makefile links the checkout at .collections/ansible_collections/homeiq/phase0; putting
.collections on sys.path lets unit tests import module_utils by their collection name, the
same name the modules use at run time.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".collections")
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
