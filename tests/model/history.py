"""Operation histories and the checker that judges them.

A history is every operation the model run made (and every foreign actor's
write), each with its invocation time, completion time and result. The checker
projects it per session (a list names sessions too: each listed or unlisted id
is one read of that session) and searches, Wing & Gong style with memoised
states (as Porcupine does), for a linearization of the session's operations as
one register with compare-and-swap and lease fencing:

* the register holds nothing or a :class:`Value`: the snapshot's tag (every
  snapshot the model writes carries a unique ``state["tag"]``), the version and
  the lease metadata (owner, epoch, held);
* a write whose outcome is undetermined (``OutcomeUnknown``, a cancelled call,
  a killed process) may take effect at most once, anywhere after its
  invocation (before its completion when ``bounded``), or never; its version is
  a placeholder bound by the first load that sees it;
* a definite failure (conflict, fenced, busy, any other error) must take no
  effect, and a conflict / fenced / busy answer must be justified by the state
  at its linearization point;
* lease rules: (a)+(b) once anyone else wrote or deleted the session after a
  lease's acquire, no write of that lease may take effect (the model keeps a
  set of fenced leases; "anyone else" includes foreign programs); (c) an
  acquire's epoch is greater than every epoch handed out before it;
* idempotency keys: the register also holds the keys the stored body records. A keyed
  save whose key is recorded writes nothing and returns the stored version (whatever
  it expected); otherwise it is a save that records its key with the keys stored
  before it (an unkeyed save or a delete forgets them).

Separately, :func:`check_outcome_unknown` flags an ``OutcomeUnknown`` the
library could have decided (its write was stored and nobody else could have
written until a read saw it).

A violation is reported with a minimal history: operations that cannot change
the register (reads, refused writes) are dropped one by one while the history
still has no linearization.
"""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass, field, replace
from typing import Literal

# The search recurses once per operation of a session's history.
sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

__all__ = [
    "ANY",
    "Op",
    "Outcome",
    "Value",
    "Violation",
    "check_history",
    "check_outcome_unknown",
    "check_session",
    "configure",
    "format_history",
]


class _Any(enum.Enum):
    ANY = "ANY"

    def __repr__(self) -> str:
        return "ANY"


ANY = _Any.ANY
"""``expected`` of an unconditional save or delete."""

Expected = str | None | Literal[_Any.ANY]

Outcome = Literal[
    "ok",  # returned normally
    "conflict",  # ConflictError: precondition failed, nothing changed
    "fenced",  # FencedError: lease superseded or released, nothing changed
    "busy",  # SessionBusy: held by another owner, nothing changed
    "failed",  # any other error: nothing changed
    "unknown",  # OutcomeUnknown / cancelled / killed: maybe applied (once), maybe not
]

Kind = Literal[
    "save",  # tag, expected
    "delete",  # expected
    "load",  # result: tag | None
    "load_versioned",  # result: (tag, version) | None
    "exists",  # result: bool (a list, projected on one session)
    "update",  # tag (the new snapshot's), seen (tag fn saw on its last call)
    "acquire",  # owner, force, stale, lease; result: (epoch, version | None)
    "lease_save",  # lease, tag, expected (the lease's version before the call)
    "lease_release",  # lease, tag (of the lease's snapshot), expected
    "lease_load",  # lease, expected; result: tag | None
    "foreign_write",  # value (what the foreign body decodes to, with its version)
]


CLAIM = "<claim>"
"""The tag of a claim: what an acquire of a missing session stores (reads as absent)."""


@dataclass(frozen=True)
class Value:
    """What the register holds: snapshot tag, version and lease metadata."""

    tag: str
    version: str
    owner: str | None = None
    epoch: int = 0
    held: bool = False
    keys: frozenset[str] = frozenset()
    """Idempotency keys the stored body records (the model never uses 32, the window)."""


def _visible(value: Value | None) -> Value | None:
    """What a read reports: a claim reads as absent."""
    return None if value is None or value.tag == CLAIM else value


@dataclass
class Op:
    """One operation of the history."""

    id: int
    client: str
    session: str
    kind: Kind
    invoked: float
    completed: float | None = None
    outcome: Outcome = "unknown"
    tag: str | None = None
    expected: Expected = ANY
    owner: str | None = None
    force: bool = False
    stale: bool = False
    lease: int | None = None
    seen: str | None = None
    value: Value | None = None
    result: object = None
    bounded: bool = False
    """An undetermined outcome that cannot take effect after ``completed``."""
    note: str = ""
    may_stall: bool = False
    """A stall fault was armed while it ran: its request may land late."""
    raised_unknown: bool = False
    """The library itself answered OutcomeUnknown (not a cancellation or a kill)."""
    refusal_injected: bool = False
    """The server refused it without deciding its precondition (S3's 409
    ConditionalRequestConflict): a conflict answer needs no justification then."""
    idempotency_key: str | None = None
    """A keyed save's key."""
    pending: tuple[int, ...] = ()
    """Lease operations: ids of this lease's earlier writes whose outcome it never learnt
    (cancelled, OutcomeUnknown). The lease resolves them before it acts and adopts one
    that landed: then it expects that write's version, not ``expected``."""
    pending_releases: tuple[int, ...] = ()
    """Those of ``pending`` that are releases: a lease that adopts one is released, and
    refuses everything (FencedError)."""
    may_resolve: bool = False
    """A fault was armed on it: a keyed save whose response was lost and whose body was
    rewritten before the read-back is resolved by finding its key in the newer body, and
    returns *that* body's version (documented: the stored result). Its effect is still
    checked; the version it returns is then not its write's."""

    @property
    def writes(self) -> bool:
        return self.kind in {
            "save",
            "delete",
            "update",
            "acquire",
            "lease_save",
            "lease_release",
            "foreign_write",
        }

    @property
    def optional(self) -> bool:
        return self.outcome == "unknown"

    @property
    def deadline(self) -> float:
        """Latest linearization point: completion, or never for an undetermined write."""
        if self.completed is None or (self.optional and not self.bounded):
            return float("inf")
        return self.completed


@dataclass(frozen=True)
class Violation:
    session: str
    rule: str
    history: list[Op] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.rule} (session {self.session!r}); minimal history:\n"
            f"{format_history(self.history)}"
        )


# ---------------------------------------------------------------- the model


@dataclass(frozen=True)
class _State:
    value: Value | None
    fenced: frozenset[int]  # leases someone else has written past
    bindings: tuple[tuple[str, str], ...]  # placeholder -> observed version
    top_epoch: int  # highest epoch handed out so far
    # Fenced leases a foreign restore made current again: they may write (CAS passes),
    # or refuse because they had learnt they were fenced (sticky); both are allowed.
    revived: frozenset[int] = frozenset()
    # Versions keyed saves wrote so far (a keyed save's result is not in the matcher's
    # known set: it may be a no-op's, the stored version), which placeholders cannot be.
    written: frozenset[str] = frozenset()

    def bound(self, version: str) -> str | None:
        for placeholder, observed in self.bindings:
            if placeholder == version:
                return observed
        return None


def _placeholder(op: Op) -> str:
    return _placeholder_of(op.id)


def _placeholder_of(op_id: int) -> str:
    return f"?op{op_id}"


class _Matcher:
    """Version comparison with placeholders for writes whose version was never seen."""

    def __init__(self, known_versions: set[str]) -> None:
        self.known = known_versions

    def same(self, state: _State, stored: str, observed: str) -> tuple[bool, _State]:
        if not stored.startswith("?"):
            return stored == observed, state
        bound = state.bound(stored)
        if bound is not None:
            return bound == observed, state
        if (
            observed in self.known
            or observed in state.written
            or any(v == observed for _, v in state.bindings)
        ):
            return False, state
        return True, replace(state, bindings=(*state.bindings, (stored, observed)))


def _precondition(m: _Matcher, state: _State, expected: Expected) -> tuple[bool, _State]:
    if expected is ANY:
        return True, state
    if expected is None:
        return _visible(state.value) is None, state
    if state.value is None:
        return False, state
    return m.same(state, state.value.version, expected)


def _new_version(op: Op) -> str:
    if op.outcome == "ok" and isinstance(op.result, str):
        return op.result
    if op.kind == "acquire" and op.outcome == "ok" and isinstance(op.result, tuple):
        version = op.result[1]
        if isinstance(version, str):
            return version
    return _placeholder(op)


def _fence_others(state: _State, leases: dict[int, Op], lease: int | None) -> frozenset[int]:
    return frozenset(lease_id for lease_id in leases if lease_id != lease) | state.fenced


def _lease_precondition(m: _Matcher, state: _State, op: Op) -> tuple[bool, _State]:
    """A lease's condition: its version, or that of a pending write of its that landed
    (which it adopts; a pending release that landed leaves it released: False)."""
    ok, after = _precondition(m, state, op.expected)
    if not ok and state.value is not None:
        adopted = {_placeholder_of(pending) for pending in op.pending}
        released = {_placeholder_of(pending) for pending in op.pending_releases}
        if state.value.version in adopted - released:
            return True, state
    return ok, after


def _step_read(m: _Matcher, state: _State, op: Op) -> list[_State]:
    value, kind = state.value, op.kind
    if kind == "lease_load":
        ok, state = _lease_precondition(m, state, op)
        if op.outcome == "fenced":
            # A lease a foreign restore revived may still know it was fenced (sticky).
            return [] if ok and op.lease not in state.revived else [state]
        if not ok:
            return []
    if op.outcome != "ok":
        return [state]
    if kind == "exists":  # a listing: a claim is listed
        return [state] if op.result == (value is not None) else []
    value = _visible(value)
    if kind in {"load", "lease_load"}:
        seen = None if value is None else value.tag
        return [state] if seen == op.result else []
    if op.result is None or value is None:  # load_versioned
        return [state] if op.result is None and value is None else []
    assert isinstance(op.result, tuple)
    tag, version = op.result
    if tag != value.tag:
        return []
    same, state = m.same(state, value.version, version)
    return [state] if same else []


def _acquired(op: Op) -> tuple[int, str | None]:
    """An acquire's recorded result: the lease's epoch and version."""
    assert isinstance(op.result, tuple)
    epoch, version = op.result
    assert isinstance(epoch, int)
    assert version is None or isinstance(version, str)
    return epoch, version


def _step_acquire(state: _State, op: Op, leases: dict[int, Op]) -> list[_State]:
    value = state.value
    assert op.lease is not None
    if op.outcome in {"conflict", "failed"}:
        return [state]
    holder_is_other = (
        value is not None and value.held and value.owner is not None and value.owner != op.owner
    )
    if op.outcome == "busy":
        return [state] if holder_is_other and not op.force else []
    if holder_is_other and not op.force and not op.stale:
        return []
    fenced = _fence_others(state, leases, op.lease) - {op.lease}
    if value is None:
        # A missing session gets a claim (create-only): epoch 1, read as absent.
        if op.outcome == "ok":
            epoch, version = _acquired(op)
            if version is None or epoch != 1:
                return []
            if epoch <= state.top_epoch and _EPOCH_RULE_ACROSS_DELETE:
                return []
        claim = Value(CLAIM, _new_version(op), op.owner, 1, True)
        claimed = replace(state, value=claim, fenced=fenced, top_epoch=max(state.top_epoch, 1))
        return [claimed, state] if op.outcome == "unknown" else [claimed]
    epoch = value.epoch + 1
    if op.outcome == "ok":
        got_epoch, version = _acquired(op)
        if got_epoch != epoch or version is None or got_epoch <= state.top_epoch:
            return []
    new = Value(value.tag, _new_version(op), op.owner, epoch, True)
    return [replace(state, value=new, fenced=fenced, top_epoch=max(state.top_epoch, epoch))]


def _step_lease(m: _Matcher, state: _State, op: Op, leases: dict[int, Op]) -> list[_State]:
    kind, applied = op.kind, op.outcome in {"ok", "unknown"}
    assert op.lease is not None
    acquire = leases[op.lease]
    if op.outcome == "ok" and kind == "lease_release" and op.expected is None:
        return [state]  # released a lease that never wrote: nothing written
    ok, after = _lease_precondition(m, state, op)
    # A pending save of its own that landed is adopted: a release writes that body back.
    adopted = state.value is not None and state.value.version in {
        _placeholder_of(pending) for pending in op.pending
    }
    tag = state.value.tag if adopted and state.value is not None else op.tag
    tolerated = op.expected is None and not _FENCE_CREATE_AFTER_DELETE
    allowed = ok and (op.lease not in state.fenced or tolerated)
    if op.outcome == "fenced":
        return [] if allowed and op.lease not in state.revived else [state]
    if not applied:
        return [state]
    if not allowed:
        return []
    fenced = _fence_others(after, leases, op.lease) - {op.lease}
    after = replace(after, revived=frozenset())
    if kind == "lease_release" and after.value is not None and after.value.tag == CLAIM:
        # Releasing a claim that was never saved deletes it: back to absent (and, like a
        # delete, epochs may start again).
        top = after.top_epoch if _EPOCH_RULE_ACROSS_DELETE else 0
        return [replace(after, value=None, fenced=fenced, top_epoch=top)]
    if kind == "lease_save":
        tag = op.tag
    if tag is None:
        # A release of a lease holding only its claim deletes that claim; a path on which
        # the register holds a snapshot under the lease's version is not a real one.
        return []
    epoch = acquire.result[0] if isinstance(acquire.result, tuple) else 0
    new = Value(tag, _new_version(op), acquire.owner, epoch, kind == "lease_save")
    # Its own write leaves the lease current (a tolerated re-create, too).
    return [replace(after, value=new, fenced=fenced, top_epoch=max(after.top_epoch, epoch))]


def _step(m: _Matcher, state: _State, op: Op, leases: dict[int, Op]) -> list[_State]:
    """Successor states if ``op`` linearizes now with its recorded outcome (empty: it can't)."""
    applied = op.outcome in {"ok", "unknown"}
    value = state.value
    kind = op.kind

    if not op.writes and op.outcome in {"failed", "unknown"}:
        return [state]
    if kind in {"load", "lease_load", "load_versioned", "exists"}:
        return _step_read(m, state, op)
    if op.refusal_injected and op.outcome in {"conflict", "fenced"}:
        return [state]
    if kind == "save" and op.idempotency_key is not None:
        return _step_keyed_save(m, state, op, leases)
    if kind in {"save", "delete"}:
        ok, after = _precondition(m, state, op.expected)
        if op.outcome == "conflict":
            return [] if ok else [state]
        if not applied:
            return [state]
        if not ok:
            return []
        if kind == "delete" and (after.value is None or op.expected is None):
            # Deleting nothing changes nothing, and "expect absent" only checks (a claim
            # reads as absent and stays): no one is fenced by it.
            return [after]
        fenced = _fence_others(after, leases, None)
        # A plain save stores no lease fields (epoch 0) and a delete stores nothing.
        top = after.top_epoch if _EPOCH_RULE_ACROSS_DELETE else 0
        if kind == "delete":
            return [replace(after, value=None, fenced=fenced, top_epoch=top)]
        assert op.tag is not None
        new = Value(op.tag, _new_version(op))
        return [replace(after, value=new, fenced=fenced, top_epoch=top)]

    if kind == "foreign_write":
        assert op.value is not None
        fenced = _fence_others(state, leases, None)
        # Fencing is by version: a foreign program that restores a body's exact bytes
        # brings its version back (content-derived on memory, files and S3), and with it
        # any lease whose version that is. Not a library bug: see the README.
        revived = {
            lid for lid, versions in _lease_versions(leases).items() if op.value.version in versions
        }
        # What the body says is all the library can know: epochs go on from its epoch.
        return [
            replace(
                state,
                value=op.value,
                fenced=fenced - revived,
                top_epoch=op.value.epoch,
                revived=frozenset(revived & state.fenced),
            )
        ]

    if kind == "update":
        if op.outcome in {"conflict", "failed"}:
            return [state]
        visible = _visible(value)
        seen = None if visible is None else visible.tag
        if op.outcome == "ok" and op.seen != seen:
            return []
        assert op.tag is not None
        keep = value or Value("", "")
        new = Value(op.tag, _new_version(op), keep.owner, keep.epoch, keep.held, keep.keys)
        return [replace(state, value=new, fenced=_fence_others(state, leases, None))]

    if kind == "acquire":
        return _step_acquire(state, op, leases)
    if kind in {"lease_save", "lease_release"}:
        return _step_lease(m, state, op, leases)
    raise AssertionError(f"unknown kind {kind}")


def _step_keyed_save(m: _Matcher, state: _State, op: Op, leases: dict[int, Op]) -> list[_State]:
    """A save with an idempotency key: a no-op if the key is recorded, else a save."""
    key = op.idempotency_key
    assert key is not None
    assert op.tag is not None
    current = _visible(state.value)
    if current is not None and key in current.keys:
        if op.outcome == "ok":  # writes nothing, returns the stored version
            same, after = m.same(state, current.version, str(op.result))
            return [after] if same else []
        return [] if op.outcome == "conflict" else [state]
    ok, after = _precondition(m, state, op.expected)
    if op.outcome == "conflict":
        return [] if ok else [state]
    if op.outcome not in {"ok", "unknown"}:
        return [state]
    if not ok:
        return []
    keys = (current.keys if current is not None else frozenset()) | {key}
    versions = [_new_version(op)]
    if op.outcome == "ok" and op.may_resolve:
        versions.append(_placeholder(op))  # resolved by a newer body holding its key
    fenced = _fence_others(after, leases, None)
    top = after.top_epoch if _EPOCH_RULE_ACROSS_DELETE else 0
    return [
        replace(
            after,
            value=Value(op.tag, v, keys=keys),
            fenced=fenced,
            top_epoch=top,
            written=after.written if v.startswith("?") else after.written | {v},
        )
        for v in versions
    ]


#: (c) as the issue states it: epochs strictly increase over all acquires of a session,
#: across delete and re-create and across plain saves (which store epoch 0). False
#: checks it only while the session keeps its lease fields.
_EPOCH_RULE_ACROSS_DELETE = True
#: (b) after delete: a fenced lease whose version is None (acquired on a missing
#: session) must not re-create the session. False tolerates that write.
_FENCE_CREATE_AFTER_DELETE = True


def configure(*, epochs_across_delete: bool, fence_create_after_delete: bool) -> None:
    """Gate rules that today's core is known to break (the model module's KNOWN_BUG flags)."""
    global _EPOCH_RULE_ACROSS_DELETE, _FENCE_CREATE_AFTER_DELETE
    _EPOCH_RULE_ACROSS_DELETE = epochs_across_delete
    _FENCE_CREATE_AFTER_DELETE = fence_create_after_delete


def _lease_versions(leases: dict[int, Op]) -> dict[int, set[str]]:
    """Every version each lease held (acquired or wrote), from the history."""
    return {lease_id: set(versions) for lease_id, versions in _LEASE_VERSIONS.items()}


#: Filled per search by _linearizable (lease id -> versions it held).
_LEASE_VERSIONS: dict[int, set[str]] = {}


# ---------------------------------------------------------------- the search


def _linearizable(ops: list[Op], initial: Value | None = None) -> bool:
    """Wing & Gong search with memoisation over (linearized set, state)."""
    ops = sorted(ops, key=lambda o: o.invoked)
    leases = {o.lease: o for o in ops if o.kind == "acquire" and o.lease is not None}
    _LEASE_VERSIONS.clear()
    for o in ops:
        if o.lease is None or o.outcome != "ok":
            continue
        held = _acquired(o)[1] if o.kind == "acquire" else o.result
        if isinstance(held, str):
            _LEASE_VERSIONS.setdefault(o.lease, set()).add(held)
    known: set[str] = set()
    for o in ops:
        if o.kind == "foreign_write" and o.note == "restore":
            # A restore writes an earlier body's exact bytes: on content-derived versions
            # it brings back that body's version, perhaps one only a placeholder stands for.
            continue
        if o.outcome == "ok":
            # A keyed save may have written nothing and returned the stored version.
            if isinstance(o.result, str) and o.writes and o.idempotency_key is None:
                known.add(o.result)
            if o.kind == "acquire" and isinstance(o.result, tuple) and o.result[1]:
                known.add(o.result[1])
        if o.kind == "foreign_write" and o.value is not None:
            known.add(o.value.version)
    matcher = _Matcher(known)
    required = 0
    for index, o in enumerate(ops):
        if not o.optional:
            required |= 1 << index
    start = _State(initial, frozenset(), (), 0)
    seen: set[tuple[int, _State]] = set()

    def search(done: int, state: _State) -> bool:
        if done & required == required:
            return True
        key = (done, state)
        if key in seen:
            return False
        seen.add(key)
        # Ops are minimal if invoked before every pending op's deadline.
        horizon = min(
            (o.deadline for i, o in enumerate(ops) if not done >> i & 1),
            default=float("inf"),
        )
        for index, o in enumerate(ops):
            if done >> index & 1 or o.invoked > horizon:
                continue
            for after in _step(matcher, state, o, leases):
                if search(done | 1 << index, after):
                    return True
            # An undetermined op may never take effect: drop it here, once.
            if o.optional and search(done | 1 << index, state):
                return True
        return False

    return search(0, start)


def check_session(ops: list[Op], session: str) -> Violation | None:
    """The session's history must linearize; if not, a minimal failing history."""
    mine = [o for o in ops if o.session == session]
    if _linearizable(mine):
        return None
    return Violation(session, "no linearization as a fenced CAS register", _minimise(mine))


def _minimise(ops: list[Op]) -> list[Op]:
    """Drop reads and refused writes while the rest still has no linearization.

    Only operations that cannot change the register are dropped: removing one only
    removes constraints, so what remains still shows the violation.
    """
    current = list(ops)
    changed = True
    while changed:
        changed = False
        for op in list(current):
            removable = not op.writes or op.outcome in {"conflict", "fenced", "busy", "failed"}
            if not removable:
                continue
            trial = [o for o in current if o is not op]
            if not _linearizable(trial):
                current = trial
                changed = True
    return sorted(current, key=lambda o: o.invoked)


def check_outcome_unknown(ops: list[Op]) -> list[Violation]:
    """``OutcomeUnknown`` only when undetermined: flag one the library could have decided.

    A write answered "unknown" whose effect a later read saw, while no other write of
    the session could have run between its invocation and that read, was stored
    when the library read it back (no stall fault could have delayed it): the write
    id was there to see, so the answer had to be success. A conditional delete leaves
    nothing to read back, so it is never decidable this way.
    """
    found: list[Violation] = []
    by_session: dict[str, list[Op]] = {}
    for o in ops:
        by_session.setdefault(o.session, []).append(o)
    for session, mine in by_session.items():
        for w in mine:
            if not (w.writes and w.raised_unknown and w.completed is not None):
                continue
            if w.may_stall or w.kind in {"acquire", "lease_release"}:
                continue
            if w.kind == "delete" and w.expected is not ANY:
                # A delete leaves no write id: absence cannot say whose delete it was (a
                # conditional one may have failed after another client's delete), so the
                # library must not claim it; OutcomeUnknown is the exact answer.
                continue
            effect: object = None if w.kind == "delete" else w.tag
            for r in mine:
                if r.kind not in {"load", "load_versioned"} or r.outcome != "ok":
                    continue
                if r.invoked < w.completed:
                    continue
                seen = r.result[0] if isinstance(r.result, tuple) else r.result
                if seen != effect or (effect is None and w.kind != "delete"):
                    continue
                others = [
                    o
                    for o in mine
                    if o is not w
                    and o.writes
                    and o.outcome in {"ok", "unknown"}
                    and o.invoked < (r.completed or float("inf"))
                    and o.deadline > w.invoked
                ]
                if not others:
                    found.append(
                        Violation(
                            session,
                            "OutcomeUnknown although the write was stored and nobody else wrote",
                            [w, r],
                        )
                    )
                break
    return found


def check_history(ops: list[Op]) -> list[Violation]:
    """Every rule, every session."""
    violations = [
        v for session in sorted({o.session for o in ops}) if (v := check_session(ops, session))
    ]
    return violations + check_outcome_unknown(ops)


def format_history(ops: list[Op]) -> str:
    if not ops:
        return "  (empty)"
    t0 = min(o.invoked for o in ops)
    lines = []
    for o in sorted(ops, key=lambda o: o.invoked):
        end = "…" if o.completed is None else f"{(o.completed - t0) * 1000:8.1f}"
        args = []
        if o.tag is not None:
            args.append(f"tag={o.tag}")
        if o.idempotency_key is not None:
            args.append(f"key={o.idempotency_key}")
        if o.kind in {"save", "delete", "lease_save", "lease_release", "lease_load"}:
            args.append(f"expected={o.expected!r}")
        if o.owner is not None:
            args.append(f"owner={o.owner}")
        if o.force:
            args.append("force")
        if o.stale:
            args.append("stale_after")
        if o.lease is not None:
            args.append(f"lease=L{o.lease}")
        if o.value is not None:
            args.append(f"body={o.value}")
        if o.seen is not None:
            args.append(f"fn saw {o.seen}")
        result = "" if o.result is None else f" -> {o.result!r}"
        note = f"  [{o.note}]" if o.note else ""
        lines.append(
            f"  #{o.id:<4} {(o.invoked - t0) * 1000:8.1f} .. {end} ms  {o.client:<10} "
            f"{o.kind}({', '.join(args)}) = {o.outcome}{result}{note}"
        )
    return "\n".join(lines)
