"""``open_store(url)``: choose a backend by URL scheme, importing it only when used.

=============================  ==========================================  =========
URL                            store                                       extra
=============================  ==========================================  =========
``memory://``                  a new, empty :class:`~sessionstore.memory.MemoryPersistence`  (core)
``memory://name``              the one in-process store of that name        (core)
``file:///abs/dir``            :class:`~sessionstore.filesystem.FsPersistence`  (core)
``file://localhost/abs/dir``   the same as ``file:///abs/dir`` (RFC 8089)   (core)
``file://relative/dir``        the same, relative to the working directory  (core)
``s3://bucket/prefix``         ``sessionstore.adapters.s3.S3Persistence``   ``s3``
``gs://bucket/prefix``         ``sessionstore.adapters.gcs.GcsPersistence`` ``gcs``
=============================  ==========================================  =========

Backends are named by import path, so ``import sessionstore`` imports no cloud
SDK; a missing SDK is reported with the extra to install. Query parameters
(``?region=eu-west-1``) and keyword arguments are passed to the store.

``memory://`` opens a new, empty, private store every time. ``memory://name``
opens the store called ``name``, shared by every ``open_store`` of that URL in
this process (created empty, with the keyword options of its first opening), so
code that opens a store per call sees what the previous call saved. Closing it
only releases worker threads: its sessions stay until the process exits or
:func:`drop_memory_store` is called.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit

from sessionstore.errors import InvalidStoreUrl, MissingDependency

if TYPE_CHECKING:
    from sessionstore.contract import SessionPersistence

__all__ = ["StoreUrl", "drop_memory_store", "open_store", "register_store"]


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
    # An option (query parameter or keyword) whose values need another extra instead:
    # option name, then value -> (extra, modules it installs).
    variants: tuple[str, dict[str, tuple[str, tuple[str, ...]]]] | None = None

    def needs(
        self, url: StoreUrl, options: dict[str, object]
    ) -> tuple[str | None, tuple[str, ...]]:
        """The extra and the modules this URL and these options need."""
        if self.variants is not None:
            option, choices = self.variants
            chosen = options.get(option, url.query.get(option))
            if isinstance(chosen, str) and chosen in choices:
                return choices[chosen]
        return self.extra, self.requires


_BACKENDS: dict[str, _Backend] = {
    "memory": _Backend("sessionstore.memory:MemoryPersistence"),
    "file": _Backend("sessionstore.filesystem:FsPersistence"),
    "s3": _Backend(
        "sessionstore.adapters.s3:S3Persistence",
        "s3",
        ("boto3",),
        # The obstore transport never imports boto3.
        variants=("transport", {"obstore": ("obstore", ("obstore",))}),
    ),
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


_MEMORY_TARGET = "sessionstore.memory:MemoryPersistence"
_MEMORY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_named_memory: dict[str, SessionPersistence] = {}
_named_memory_lock = threading.Lock()


def open_store(url: str, **options: object) -> SessionPersistence:
    """Open the store a URL names; see the module docstring for the schemes."""
    parsed = _parse(url)
    backend = _BACKENDS.get(parsed.scheme)
    if backend is None:
        known = ", ".join(f"{name}://" for name in sorted(_BACKENDS))
        raise InvalidStoreUrl(f"unknown store scheme in {url!r}; known: {known}")
    cls = _load(parsed.scheme, backend, *backend.needs(parsed, options))
    if backend.target == _MEMORY_TARGET and parsed.netloc:
        return _named_memory_store(cls, parsed, options)
    store: SessionPersistence = cls.from_url(parsed, **options)
    return store


def drop_memory_store(name: str) -> bool:
    """Forget the named in-process store ``memory://name``; return whether it existed."""
    with _named_memory_lock:
        return _named_memory.pop(name, None) is not None


def _named_memory_store(
    cls: type[SessionPersistence], url: StoreUrl, options: dict[str, object]
) -> SessionPersistence:
    name = url.netloc
    if not _MEMORY_NAME.fullmatch(name) or url.path.strip("/") or url.query:
        raise InvalidStoreUrl(
            f"memory://NAME takes a name of letters, digits, '.', '_', '-' "
            f"(up to 100) and no path or query: {url.raw!r}"
        )
    with _named_memory_lock:
        store = _named_memory.get(name)
        if store is None:
            bare = StoreUrl(f"{url.scheme}://", url.scheme, "", "", {})
            store = cls.from_url(bare, **options)
            _named_memory[name] = store
        return store


def _parse(url: str) -> StoreUrl:
    if not isinstance(url, str) or "://" not in url:
        raise InvalidStoreUrl(f"not a store URL: {url!r} (expected e.g. file:///var/sessions)")
    parts = urlsplit(url)
    if parts.fragment:
        raise InvalidStoreUrl(f"store URLs take no #fragment: {url!r}")
    query = dict(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False))
    scheme, netloc = parts.scheme.lower(), unquote(parts.netloc)
    if scheme == "file" and netloc.lower() == "localhost":
        netloc = ""  # RFC 8089: file://localhost/path is the local absolute /path
    return StoreUrl(url, scheme, netloc, unquote(parts.path), query)


def _load(
    scheme: str, backend: _Backend, extra: str | None, requires: tuple[str, ...]
) -> type[SessionPersistence]:
    for module in requires:
        if _missing(module):
            hint = f"pip install 'sessionstore[{extra}]'" if extra else ""
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
