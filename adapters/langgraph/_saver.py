"""The LangGraph checkpointer on any sessionstore store (see the package docstring)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, cast

from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)

from sessionstore._loop import run_blocking
from sessionstore.adapters.langgraph import _layout as layout
from sessionstore.contract import contention_backoff
from sessionstore.errors import ConflictError, FencedError
from sessionstore.registry import open_store

if TYPE_CHECKING:
    import builtins
    from collections.abc import AsyncIterator, Iterator, Sequence
    from types import TracebackType

    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.base import PendingWrite
    from langgraph.checkpoint.serde.base import SerializerProtocol
    from typing_extensions import Self

    from sessionstore.contract import SessionPersistence
    from sessionstore.documents import DocumentEntry, Documents
    from sessionstore.ownership import SessionLease

__all__ = ["SessionStoreSaver", "ThreadLease"]

#: Conditional head updates retried after losing a race, before ConflictError.
MAX_HEAD_ATTEMPTS = 16
#: Documents read or written at once by one call (listing, put_writes, deletes).
CONCURRENCY = 16


class ThreadLease:
    """Write ownership of one thread (from :meth:`SessionStoreSaver.aacquire`).

    While it is held, every head update of the thread by this saver is a write of
    the lease (conditional on the version the lease last wrote or read), so once
    another runner takes the thread over, this saver's ``put`` raises
    :class:`~sessionstore.errors.FencedError` and leaves nothing behind. Use it as an
    (async) context manager, or call :meth:`arelease` / :meth:`release`.
    """

    def __init__(self, saver: SessionStoreSaver, thread_id: str, lease: SessionLease) -> None:
        self.saver = saver
        self.thread_id = thread_id
        self.lease = lease
        self._heads: dict[str, str] = {}
        # Serialises this lease's head writes (parallel subgraphs put concurrently, and a
        # lease write racing its own twin would fence itself). One asyncio.Lock per event
        # loop: the sync API runs on sessionstore's background loop, the async one on yours.
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"ThreadLease({self.thread_id!r}, {self.lease!r})"

    @property
    def owner(self) -> str:
        return self.lease.owner

    @property
    def epoch(self) -> int:
        return self.lease.epoch

    @property
    def fenced(self) -> bool:
        return self.lease.fenced

    @property
    def released(self) -> bool:
        return self.lease.released

    async def arelease(self) -> None:
        """Free the thread for the next runner (its head and checkpoints stay)."""
        try:
            await self.lease.release()
        finally:
            self.saver._forget_lease(self)

    def release(self) -> None:
        run_blocking(self.arelease())

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.lease.__aexit__(exc_type, exc, tb)
        finally:
            self.saver._forget_lease(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        run_blocking(self.__aexit__(exc_type, exc, tb))

    async def _advance(self, checkpoint_ns: str, checkpoint_id: str) -> None:
        """Point the namespace's head at ``checkpoint_id`` if newer: one lease write."""
        loop = asyncio.get_running_loop()
        lock = self._locks.setdefault(loop, asyncio.Lock())
        async with lock:
            if self._heads.get(checkpoint_ns, "") >= checkpoint_id:
                await self.lease.load()  # nothing to write; still refuse if superseded
                return
            heads = {**self._heads, checkpoint_ns: checkpoint_id}
            await self.lease.save(layout.head_snapshot(self.thread_id, heads))
            self._heads = heads


class SessionStoreSaver(BaseCheckpointSaver[int]):
    """A LangGraph checkpointer storing threads in a sessionstore store.

    ``SessionStoreSaver(store)`` or ``SessionStoreSaver.from_url("s3://bucket/prefix")``
    (the saver then owns the store: close it with :meth:`aclose`/:meth:`close`).
    Every method has its sync twin, as LangGraph requires.
    """

    def __init__(
        self,
        store: SessionPersistence,
        *,
        serde: SerializerProtocol | None = None,
        owns_store: bool = False,
    ) -> None:
        super().__init__(serde=serde)
        self.store = store
        self._owns_store = owns_store
        self._checkpoints: Documents[layout.CheckpointDoc] = store.documents(layout.CheckpointDoc)
        self._writes: Documents[layout.WriteDoc] = store.documents(layout.WriteDoc)
        # The head version and content this saver last wrote or read, per thread: a put
        # tries a conditional write on it first (one request) and reads only on conflict.
        self._head_cache: dict[str, tuple[str, dict[str, str]]] = {}
        self._leases: dict[str, ThreadLease] = {}

    @classmethod
    def from_url(
        cls, url: str, *, serde: SerializerProtocol | None = None, **options: Any
    ) -> SessionStoreSaver:
        """A saver on ``open_store(url, **options)``; it closes the store in :meth:`aclose`."""
        return cls(open_store(url, **options), serde=serde, owns_store=True)

    def __repr__(self) -> str:
        return f"SessionStoreSaver({self.store!r})"

    async def aclose(self) -> None:
        """Close the store if this saver opened it (``from_url``)."""
        if self._owns_store:
            await self.store.aclose()

    def close(self) -> None:
        run_blocking(self.aclose())

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ ownership

    async def aacquire(
        self,
        thread_id: str,
        owner: str,
        *,
        force: bool = False,
        stale_after: float | None = None,
    ) -> ThreadLease:
        """Take write ownership of ``thread_id`` (``store.acquire`` on its head session).

        :class:`~sessionstore.errors.SessionBusy` if another owner holds it (unless
        ``force`` or ``stale_after``); see :mod:`sessionstore.ownership`. Until the
        returned lease is released, every ``put`` of this thread through this saver is
        fenced by it.
        """
        lease = await self.store.acquire(
            layout.head_session_id(thread_id), owner, force=force, stale_after=stale_after
        )
        thread_lease = ThreadLease(self, thread_id, lease)
        thread_lease._heads = layout.head_heads(await lease.load())
        self._leases[thread_id] = thread_lease
        self._head_cache.pop(thread_id, None)
        return thread_lease

    def acquire(
        self,
        thread_id: str,
        owner: str,
        *,
        force: bool = False,
        stale_after: float | None = None,
    ) -> ThreadLease:
        return run_blocking(self.aacquire(thread_id, owner, force=force, stale_after=stale_after))

    def _forget_lease(self, lease: ThreadLease) -> None:
        """After a release. A fenced lease stays registered: this saver's puts on the
        thread keep raising FencedError (a superseded runner that leaves its ``with``
        block must not go on writing unowned) until it acquires the thread again."""
        if self._leases.get(lease.thread_id) is lease and not lease.fenced:
            del self._leases[lease.thread_id]

    # ------------------------------------------------------------------ async API

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        checkpoint_ns = str(configurable.get("checkpoint_ns", ""))
        checkpoint_id = get_checkpoint_id(config)
        if not checkpoint_id:
            heads = await self._read_heads(thread_id)
            checkpoint_id = heads.get(checkpoint_ns)
            if checkpoint_id is None:
                return None
        key = layout.checkpoint_key(thread_id, checkpoint_ns, checkpoint_id)
        doc = await self._checkpoints.load(key)
        if doc is None:
            return None
        entries = [
            entry.key
            async for entry in self._writes.list(
                layout.writes_prefix(thread_id, checkpoint_ns, checkpoint_id)
            )
        ]
        writes = await self._load_writes(entries)
        return self._tuple(doc, writes)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,  # LangGraph's name
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        if config is None:
            prefix: tuple[str, ...] = (layout.ROOT,)
            wanted_id = None
        else:
            configurable = config["configurable"]
            thread_id = str(configurable["thread_id"])
            ns = configurable.get("checkpoint_ns")
            prefix = (
                layout.thread_prefix(thread_id)
                if ns is None
                else layout.namespace_prefix(thread_id, str(ns))
            )
            wanted_id = get_checkpoint_id(config)
        before_id = get_checkpoint_id(before) if before else None
        # One listing of the prefix finds every checkpoint and every pending write.
        checkpoints: list[tuple[str, tuple[str, ...]]] = []
        writes: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        async for entry in self._checkpoints.list(prefix):
            kind = _kind(entry)
            if kind == layout.CHECKPOINTS:
                cid = layout.decode_segment(entry.key[4])
                if wanted_id and cid != wanted_id:
                    continue
                if before_id and cid >= before_id:
                    continue
                checkpoints.append((cid, entry.key))
            elif kind == layout.WRITES:
                writes.setdefault(entry.key[:5], []).append(entry.key)
        checkpoints.sort(key=lambda item: (item[0], item[1]), reverse=True)
        remaining = limit
        start = 0
        while start < len(checkpoints):
            if remaining is not None and remaining <= 0:
                return
            # Without a filter, read no more checkpoints than the limit still needs.
            size = CONCURRENCY if filter or remaining is None else min(CONCURRENCY, remaining)
            batch = checkpoints[start : start + size]
            start += size
            docs = await _gather_limited(self._checkpoints.load(key) for _, key in batch)
            for (_, key), doc in zip(batch, docs, strict=False):
                if doc is None:
                    continue  # deleted since the listing
                metadata = cast("dict[str, Any]", doc.metadata.load(self.serde))
                if filter and not all(metadata.get(k) == v for k, v in filter.items()):
                    continue
                if remaining is not None:
                    if remaining <= 0:
                        return
                    remaining -= 1
                write_keys = writes.get((*key[:3], layout.WRITES, key[4]), [])
                yield self._tuple(doc, await self._load_writes(write_keys), metadata)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        checkpoint_ns = str(configurable.get("checkpoint_ns", ""))
        checkpoint_id = str(checkpoint["id"])
        doc = layout.CheckpointDoc(
            thread_id=thread_id,
            checkpoint_ns=checkpoint_ns,
            checkpoint_id=checkpoint_id,
            parent_checkpoint_id=configurable.get("checkpoint_id"),
            checkpoint=layout.Typed.dump(self.serde, checkpoint),
            metadata=layout.Typed.dump(self.serde, get_checkpoint_metadata(config, metadata)),
        )
        key = layout.checkpoint_key(thread_id, checkpoint_ns, checkpoint_id)
        lease = self._leases.get(thread_id)
        if lease is not None and lease.fenced:
            raise FencedError(
                layout.head_session_id(thread_id),
                f"the lease of {lease.owner!r} was superseded; acquire the thread again",
            )
        created = await self._create_checkpoint(key, doc)
        try:
            if lease is not None:
                await lease._advance(checkpoint_ns, checkpoint_id)
            else:
                await self._advance_head(thread_id, checkpoint_ns, checkpoint_id)
        except FencedError:
            if created is not None:
                # Superseded: take back the checkpoint this call wrote, so nothing changed.
                await self._checkpoints.delete(key, expected_version=created)
            raise
        return {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": checkpoint_ns,
                "checkpoint_id": checkpoint_id,
            }
        }

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        checkpoint_ns = str(configurable.get("checkpoint_ns", ""))
        checkpoint_id = str(configurable["checkpoint_id"])
        docs: dict[int, layout.WriteDoc] = {}
        for position, (channel, value) in enumerate(writes):
            idx = WRITES_IDX_MAP.get(channel, position)
            docs[idx] = layout.WriteDoc(
                task_id=task_id,
                idx=idx,
                channel=channel,
                task_path=task_path,
                value=layout.Typed.dump(self.serde, value),
            )

        async def store_one(idx: int, doc: layout.WriteDoc) -> None:
            key = layout.write_key(thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
            if idx < 0:  # special writes (error, interrupt, ...) replace
                await self._writes.save(key, doc)
                return
            # Regular writes are inserted if absent: a retry changes nothing.
            with contextlib.suppress(ConflictError):
                await self._writes.save(key, doc, expected_version=None)

        await _gather_limited(store_one(idx, doc) for idx, doc in docs.items())

    async def adelete_thread(self, thread_id: str) -> None:
        # The head first: from then on the thread reads as empty (and its lease is fenced).
        await self.store.delete(layout.head_session_id(thread_id))
        self._head_cache.pop(thread_id, None)
        listing = self._checkpoints.list(layout.thread_prefix(thread_id))
        keys = [entry.key async for entry in listing]
        await _gather_limited(self._checkpoints.delete(key) for key in keys)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint and pending write, then point the target's heads.

        Copies are create-only: a checkpoint or write the target already has is kept.
        """
        entries = [
            entry async for entry in self._checkpoints.list(layout.thread_prefix(source_thread_id))
        ]
        target = layout.encode_segment(target_thread_id)

        async def copy_one(entry: DocumentEntry) -> None:
            new_key = (entry.key[0], target, *entry.key[2:])
            if _kind(entry) == layout.CHECKPOINTS:
                doc = await self._checkpoints.load(entry.key)
                if doc is None:
                    return
                copied = doc.model_copy(update={"thread_id": target_thread_id})
                with contextlib.suppress(ConflictError):
                    await self._checkpoints.save(new_key, copied, expected_version=None)
            elif _kind(entry) == layout.WRITES:
                write = await self._writes.load(entry.key)
                if write is None:
                    return
                with contextlib.suppress(ConflictError):
                    await self._writes.save(new_key, write, expected_version=None)

        await _gather_limited(copy_one(entry) for entry in entries)
        for checkpoint_ns, checkpoint_id in (await self._read_heads(source_thread_id)).items():
            await self._advance_head(target_thread_id, checkpoint_ns, checkpoint_id)

    # ------------------------------------------------------------------ sync API

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return run_blocking(self.aget_tuple(config))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        async def collect() -> list[CheckpointTuple]:
            return [
                item async for item in self.alist(config, filter=filter, before=before, limit=limit)
            ]

        yield from run_blocking(collect())

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return run_blocking(self.aput(config, checkpoint, metadata, new_versions))

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        run_blocking(self.aput_writes(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        run_blocking(self.adelete_thread(thread_id))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        run_blocking(self.acopy_thread(source_thread_id, target_thread_id))

    # ------------------------------------------------------------------ internals

    async def _create_checkpoint(
        self, key: tuple[str, ...], doc: layout.CheckpointDoc
    ) -> str | None:
        """Write a checkpoint create-only; its version, or None if this exact one was stored.

        A checkpoint is immutable: a second ``put`` of the same id with the same content
        (a retried ``put``) is accepted; with different content it is a ConflictError.
        """
        try:
            return await self._checkpoints.save(key, doc, expected_version=None)
        except ConflictError:
            stored = await self._checkpoints.load(key)
            if stored != doc:
                raise
            return None

    async def _read_heads(self, thread_id: str) -> dict[str, str]:
        """The thread's heads, read from the store (one request)."""
        current = await self.store.load_versioned(layout.head_session_id(thread_id))
        if current is None:
            self._head_cache.pop(thread_id, None)
            return {}
        heads = layout.head_heads(current.snapshot)
        self._head_cache[thread_id] = (current.version, heads)
        return heads

    async def _advance_head(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> None:
        """Make ``checkpoint_id`` the namespace's head if it is newer (compare-and-swap).

        Tries the head version this saver last saw (one request); after a conflict, reads
        the head and tries again. Forks are accepted: the head is the newest checkpoint
        id of the namespace, whatever its parent.
        """
        session_id = layout.head_session_id(thread_id)
        cached = self._head_cache.get(thread_id)
        for attempt in range(MAX_HEAD_ATTEMPTS):
            if cached is None:
                current = await self.store.load_versioned(session_id)
                version = None if current is None else current.version
                heads = layout.head_heads(None if current is None else current.snapshot)
            else:
                version, heads = cached
            if heads.get(checkpoint_ns, "") >= checkpoint_id:
                return  # a newer checkpoint is already the head
            new_heads = {**heads, checkpoint_ns: checkpoint_id}
            try:
                new_version = await self.store.save(
                    session_id,
                    layout.head_snapshot(thread_id, new_heads),
                    expected_version=version,
                )
            except ConflictError:
                cached = None
                self._head_cache.pop(thread_id, None)
                if attempt + 1 < MAX_HEAD_ATTEMPTS:
                    await contention_backoff(attempt)
                continue
            self._head_cache[thread_id] = (new_version, new_heads)
            return
        raise ConflictError(session_id, f"head update gave up after {MAX_HEAD_ATTEMPTS} races")

    async def _load_writes(self, keys: Sequence[tuple[str, ...]]) -> builtins.list[layout.WriteDoc]:
        loaded = await _gather_limited(self._writes.load(key) for key in keys)
        docs = [doc for doc in loaded if doc is not None]
        docs.sort(key=lambda doc: writes_sort_key(doc.task_path, doc.task_id, doc.idx))
        return docs

    def _tuple(
        self,
        doc: layout.CheckpointDoc,
        writes: Sequence[layout.WriteDoc],
        metadata: dict[str, Any] | None = None,
    ) -> CheckpointTuple:
        def config_of(checkpoint_id: str) -> RunnableConfig:
            return {
                "configurable": {
                    "thread_id": doc.thread_id,
                    "checkpoint_ns": doc.checkpoint_ns,
                    "checkpoint_id": checkpoint_id,
                }
            }

        pending: list[PendingWrite] = [
            (write.task_id, write.channel, write.value.load(self.serde)) for write in writes
        ]
        return CheckpointTuple(
            config=config_of(doc.checkpoint_id),
            checkpoint=cast("Checkpoint", doc.checkpoint.load(self.serde)),
            metadata=cast(
                "CheckpointMetadata",
                metadata if metadata is not None else doc.metadata.load(self.serde),
            ),
            parent_config=(
                config_of(doc.parent_checkpoint_id) if doc.parent_checkpoint_id else None
            ),
            pending_writes=pending,
        )


def _kind(entry: DocumentEntry) -> str | None:
    """``c`` for a checkpoint key, ``w`` for a pending write's, None for anything else."""
    key = entry.key
    if len(key) == 5 and key[0] == layout.ROOT and key[3] == layout.CHECKPOINTS:
        return layout.CHECKPOINTS
    if len(key) == 7 and key[0] == layout.ROOT and key[3] == layout.WRITES:
        return layout.WRITES
    return None


async def _gather_limited(awaitables: Any) -> list[Any]:
    """Await every awaitable, at most :data:`CONCURRENCY` at a time; results in order."""
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one(awaitable: Any) -> Any:
        async with semaphore:
            return await awaitable

    return list(await asyncio.gather(*(one(a) for a in awaitables)))
