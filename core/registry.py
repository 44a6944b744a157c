"""``open_store(url)``: choose a backend by URL scheme, importing it only when used.

=============================  ==========================================  =========
URL                            store                                       extra
=============================  ==========================================  =========
``memory://``                  :class:`~sessionstore.memory.MemoryPersistence`  (core)
``file:///abs/dir``            :class:`~sessionstore.filesystem.FsPersistence`  (core)
``file://relative/dir``        the same, relative to the working directory  (core)
``s3://bucket/prefix``         ``sessionstore.adapters.s3.S3Persistence``   ``s3``
``gs://bucket/prefix``         ``sessionstore.adapters.gcs.GcsPersistence`` ``gcs``
=============================  ==========================================  =========

Backends are named by import path, so ``import sessionstore`` imports no cloud
SDK; a missing SDK is reported with the extra to install. Query parameters
(``?region=eu-west-1``) and keyword arguments are passed to the store.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit

from sessionstore.errors import InvalidStoreUrl, MissingDependency

if TYPE_CHECKING:
    from sessionstore.contract import SessionPersistence

__all__ = ["StoreUrl", "open_store", "register_store"]


@dataclass(frozen=True)
class StoreUrl:
    """A parsed store URL, as handed to a backend's ``from_url``."""

    raw: str
    scheme: str
    netloc: str
    path: str
    query: dict[str, str] = field(default_factory=dict)

    @property
    def bucket(self) -> str:
        return self.netloc

    @property
    def prefix(self) -> str:
        """The path without slashes at either end: a key prefix in a bucket."""
        return self.path.strip("/")


@dataclass(frozen=True)
class _Backend:
    target: str  # "module:Class"
    extra: str | None = None
    requires: tuple[str, ...] = ()  # modules that the extra installs


_BACKENDS: dict[str, _Backend] = {
    "memory": _Backend("sessionstore.memory:MemoryPersistence"),
    "file": _Backend("sessionstore.filesystem:FsPersistence"),
    "s3": _Backend("sessionstore.adapters.s3:S3Persistence", "s3", ("boto3",)),
    "gs": _Backend("sessionstore.adapters.gcs:GcsPersistence", "gcs", ("google.cloud.storage",)),
}


def register_store(
    scheme: str, target: str, *, extra: str | None = None, requires: tuple[str, ...] = ()
) -> None:
    """Route ``scheme://`` URLs to ``target`` (``"package.module:StoreClass"``).

    The class must provide ``from_url(url: StoreUrl, **options)``.
    """
    if ":" not in target:
        raise ValueError("target must look like 'package.module:ClassName'")
    _BACKENDS[scheme.lower()] = _Backend(target, extra, requires)


def open_store(url: str, **options: object) -> SessionPersistence:
    """Open the store a URL names; see the module docstring for the schemes."""
    parsed = _parse(url)
    backend = _BACKENDS.get(parsed.scheme)
    if backend is None:
        known = ", ".join(f"{name}://" for name in sorted(_BACKENDS))
        raise InvalidStoreUrl(f"unknown store scheme in {url!r}; known: {known}")
    cls = _load(parsed.scheme, backend)
    store: SessionPersistence = cls.from_url(parsed, **options)
    return store


def _parse(url: str) -> StoreUrl:
    if not isinstance(url, str) or "://" not in url:
        raise InvalidStoreUrl(f"not a store URL: {url!r} (expected e.g. file:///var/sessions)")
    parts = urlsplit(url)
    if parts.fragment:
        raise InvalidStoreUrl(f"store URLs take no #fragment: {url!r}")
    query = dict(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False))
    return StoreUrl(url, parts.scheme.lower(), unquote(parts.netloc), unquote(parts.path), query)


def _load(scheme: str, backend: _Backend) -> type[SessionPersistence]:
    for module in backend.requires:
        if _missing(module):
            hint = f"pip install 'sessionstore[{backend.extra}]'" if backend.extra else ""
            raise MissingDependency(
                f"{scheme}:// stores need the {module!r} package, which is not installed: {hint}"
            )
    module_name, _, class_name = backend.target.partition(":")
    cls: type[SessionPersistence] = getattr(importlib.import_module(module_name), class_name)
    return cls


def _missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except ModuleNotFoundError:  # a parent package is missing
        return True
