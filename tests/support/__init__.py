"""Test infrastructure shared by the suites: emulators, fault injection, helpers."""

from __future__ import annotations
