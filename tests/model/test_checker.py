"""The checker's self-test: it accepts correct histories and reports planted violations."""

from __future__ import annotations

import itertools

import pytest

from model.history import ANY, Op, Value, check_history, check_outcome_unknown, check_session

_ids = itertools.count()


def op(kind: str, start: float, end: float | None, outcome: str = "ok", **fields: object) -> Op:
    fields.setdefault("session", "s")
    fields.setdefault("client", "c")
    return Op(
        id=next(_ids),
        kind=kind,  # type: ignore[arg-type]
        invoked=start,
        completed=end,
        outcome=outcome,  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )


def rules(ops: list[Op]) -> list[str]:
    return [v.rule for v in check_history(ops)]


# ------------------------------------------------------------ accepted histories


def test_sequential_cas_history_is_accepted() -> None:
    ops = [
        op("save", 0, 1, tag="a", expected=None, result="v1"),
        op("load_versioned", 2, 3, result=("a", "v1")),
        op("save", 4, 5, tag="b", expected="v1", result="v2"),
        op("save", 6, 7, "conflict", tag="c", expected="v1"),
        op("delete", 8, 9, expected="v2"),
        op("load", 10, 11, result=None),
        op("exists", 12, 13, result=False),
    ]
    assert rules(ops) == []


def test_concurrent_writes_may_linearize_in_either_order() -> None:
    ops = [
        op("save", 0, 10, tag="a", result="va"),
        op("save", 1, 9, tag="b", result="vb"),
        op("load", 11, 12, result="a"),  # a linearized last
    ]
    assert rules(ops) == []


def test_unknown_write_may_or_may_not_have_landed() -> None:
    landed = [
        op("save", 0, 1, "unknown", tag="a", expected=None),
        op("load_versioned", 2, 3, result=("a", "va")),
        op("save", 4, 5, tag="b", expected="va", result="vb"),  # binds the placeholder
    ]
    not_landed = [
        op("save", 0, 1, "unknown", tag="a", expected=None, may_stall=True),
        op("load", 2, 3, result=None),
    ]
    assert rules(landed) == []
    assert rules(not_landed) == []


def test_late_landing_of_an_unknown_write_is_allowed_unless_bounded() -> None:
    late = [
        op("save", 0, 1, "unknown", tag="a"),
        op("save", 2, 3, tag="b", result="vb"),
        op("load", 4, 5, result="a"),
    ]
    assert check_session(late, "s") is None
    for o in late[:1]:
        o.bounded = True  # a cancelled call that must not land after its TimeoutError
    violation = check_session(late, "s")
    assert violation is not None


def test_a_cancelled_delete_that_was_sent_may_land_after_a_read() -> None:
    # Found on GCS (soak, --hypothesis-seed=1): a conditional delete cancelled at once had
    # reached its worker; a read right after the cancellation still saw the session, and
    # the DELETE landed a few ms later, so the next update found nothing. As documented
    # (README, *Cancellation*) on every backend with worker threads; the checker used to
    # bound every cancelled write by its cancellation and reported this history.
    history = [
        op("save", 0, 1, tag="t6", result="v6"),
        op("delete", 2, 3, "unknown", expected="v6", note="cancelled after 0.0 ms"),
        op("load_versioned", 4, 5, result=("t6", "v6")),
        op("update", 6, 7, tag="t10", seen=None, result="v10"),
    ]
    assert rules(history) == []
    history[1].bounded = True  # memory: a cancelled call cannot land after it returned
    assert rules(history) == ["no linearization as a fenced CAS register"]


def test_a_repeated_idempotency_key_writes_nothing_and_returns_the_stored_version() -> None:
    ops = [
        op("save", 0, 1, tag="a", expected=None, idempotency_key="k", result="va"),
        # The repeat expects absent, yet succeeds: its key is recorded, nothing is written.
        op("save", 2, 3, tag="a2", expected=None, idempotency_key="k", result="va"),
        op("save", 4, 5, tag="b", expected="va", idempotency_key="k2", result="vb"),
        op("save", 6, 7, tag="a3", expected="va", idempotency_key="k", result="vb"),  # carried
        op("load_versioned", 8, 9, result=("b", "vb")),
    ]
    assert rules(ops) == []


def test_a_keyed_save_returns_the_version_of_an_unknown_write_with_its_key() -> None:
    # Found on the filesystem: a keyed create-only save was cancelled but landed; its
    # redelivery found the key and returned the stored version, the cancelled write's.
    ops = [
        op("save", 0, 1, "unknown", tag="t0", expected=None, idempotency_key="k"),
        op("save", 2, 3, tag="t1", expected=None, idempotency_key="k", result="v"),
        op("load_versioned", 4, 5, result=("t0", "v")),
    ]
    assert rules(ops) == []


def test_a_conflict_after_a_keyed_save_is_justified_by_a_later_unknown_write() -> None:
    # Found on S3 (document soak): the keyed save's version cannot also be the version of
    # the cancelled save that landed after it, so the conflict is justified.
    ops = [
        op("save", 0, 1, tag="t3", idempotency_key="k", result="v3"),
        op("save", 2, 3, "unknown", tag="t6", note="cancelled"),
        op("save", 4, 5, "conflict", tag="t10", expected="v3"),
    ]
    assert rules(ops) == []


def test_a_repeated_idempotency_key_that_wrote_again_is_reported() -> None:
    ops = [
        op("save", 0, 1, tag="a", idempotency_key="k", result="va"),
        op("save", 2, 3, tag="a2", idempotency_key="k", result="va2"),
    ]
    assert rules(ops) == ["no linearization as a fenced CAS register"]


def test_an_unkeyed_save_or_a_delete_forgets_the_keys() -> None:
    for forget in (op("save", 2, 3, tag="x", result="vx"), op("delete", 2, 3)):
        ops = [
            op("save", 0, 1, tag="a", idempotency_key="k", result="va"),
            forget,
            op("save", 4, 5, tag="a2", idempotency_key="k", result="va2"),  # applies again
            op("load", 6, 7, result="a2"),
        ]
        assert rules(ops) == []
        ops[2].result = "vx" if forget.kind == "save" else None
        ops[3].result = "x" if forget.kind == "save" else None
        assert rules(ops) != []  # still remembered: a fresh key would have been forgotten


def test_a_keyed_save_resolved_by_a_newer_body_may_return_its_version() -> None:
    # Its response was lost and another keyed save rewrote the body (carrying its key)
    # before the read-back: it returns the newer body's version. Only after a fault.
    ops = [
        op("save", 0, 10, tag="a", idempotency_key="k", result="vb", may_resolve=True),
        op("load_versioned", 1, 2, result=("a", "va")),  # its own write's version
        op("save", 3, 5, tag="b", idempotency_key="k2", result="vb"),
        op("load_versioned", 11, 12, result=("b", "vb")),
    ]
    assert rules(ops) == []
    ops[0].may_resolve = False
    assert rules(ops) != []


def test_a_lease_adopts_its_cancelled_write_that_landed() -> None:
    # Found on GCS (soak): a cancelled lease save landed; the lease's next call found its
    # write id stored and adopted it, so it expected that write's version, not the one it
    # had before the cancelled call.
    ops = [
        op("acquire", 0, 1, owner="A", lease=1, result=(1, "v1")),
        op("lease_save", 2, 3, "unknown", lease=1, tag="x", expected="v1", note="cancelled"),
        op("lease_load", 4, 5, lease=1, expected="v1", result="x"),
        op("lease_save", 6, 7, lease=1, tag="y", expected="v2", result="v3"),
    ]
    assert rules(ops) == ["no linearization as a fenced CAS register"]
    ops[2].pending = (ops[1].id,)  # its answer settles it: the next call expects "v2"
    assert rules(ops) == []


def test_a_release_after_an_adopted_save_writes_that_save_back() -> None:
    # Found on S3 (soak): a cancelled lease save landed; the lease's release adopted it
    # and wrote its body (t12) back, not the one the lease had saved before (t6).
    ops = [
        op("acquire", 0, 1, owner="A", lease=1, result=(1, "v1")),
        op("lease_save", 2, 3, "unknown", lease=1, tag="t12", expected="v1", note="cancelled"),
        op("lease_release", 4, 5, lease=1, tag="t6", expected="v1", result="v3"),
        op("load_versioned", 6, 7, result=("t12", "v3")),
    ]
    assert rules(ops) == ["no linearization as a fenced CAS register"]
    ops[2].pending = (ops[1].id,)
    assert rules(ops) == []


def test_a_lease_that_adopts_its_cancelled_release_is_released() -> None:
    # Found on the filesystem (CI search): a cancelled release landed; the lease's next
    # call found it and refused (released), which only that landing justifies here.
    ops = [
        op("save", 0, 1, tag="a", result="v0"),
        op("acquire", 2, 3, owner="A", lease=1, result=(1, "v1")),
        op("lease_release", 4, 5, "unknown", lease=1, tag="a", expected="v1", note="cancelled"),
        op("load_versioned", 6, 7, result=("a", "v2")),  # the release landed
        op("lease_load", 8, 9, "fenced", lease=1, expected="v1"),
    ]
    ops[4].pending = ops[4].pending_releases = (ops[2].id,)
    assert rules(ops) == []
    ops[4].outcome, ops[4].result = "ok", "a"  # a released lease must not load
    assert rules(ops) == ["no linearization as a fenced CAS register"]


def test_a_restore_may_bring_back_the_version_of_an_unknown_write() -> None:
    # Found on S3 (soak): a cancelled save landed unseen by its caller; a read saw it;
    # a foreign program then restored those exact bytes (the same content-derived version).
    ops = [
        op("save", 0, 1, "unknown", tag="t12", note="cancelled"),
        op("load_versioned", 2, 3, result=("t12", "v")),
        op("foreign_write", 4, 5, value=Value("t12", "v"), result="v", note="restore"),
        op("load_versioned", 6, 7, result=("t12", "v")),
    ]
    assert rules(ops) == []
    ops[2].note = "seed"  # a new body: its version is its own, the read saw another write
    assert rules(ops) == ["no linearization as a fenced CAS register"]


def test_a_claim_lease_release_is_judged_not_crashed_on() -> None:
    # Found on GCS (soak, --hypothesis-seed=17): a killed worker's save may land before
    # an acquire that, in fact, claimed a missing session (nothing to write back on
    # release). The path where the acquire saw the worker's snapshot has no successor
    # for the release; the search must go on, not fail on an assertion.
    ops = [
        op("save", 0, 1, "unknown", tag="p0", note="SIGKILL while saving"),
        op("acquire", 2, 3, owner="A", lease=1, result=(1, "v1")),
        op("lease_release", 4, 5, lease=1, tag=None, expected="v1", result="v1"),
        op("load", 6, 7, result="p0"),  # the killed save landed after the release
    ]
    assert rules(ops) == []


def test_lease_handoff_is_accepted() -> None:
    acquire = op("acquire", 2, 3, owner="A", lease=1, result=(1, "v2"))
    ops = [
        op("save", 0, 1, tag="x", result="v1"),
        acquire,
        op("lease_save", 4, 5, lease=1, tag="y", expected="v2", result="v3"),
        op("lease_release", 6, 7, lease=1, tag="y", expected="v3", result="v4"),
        op("acquire", 8, 9, owner="B", lease=2, result=(2, "v5")),
        op("lease_save", 10, 11, "fenced", lease=1, tag="z", expected="v4"),
        op("lease_save", 12, 13, lease=2, tag="w", expected="v5", result="v6"),
    ]
    assert rules(ops) == []


# ----------------------------------------------------------- planted violations


def test_reports_a_lost_acknowledged_write() -> None:
    ops = [
        op("save", 0, 1, tag="a", result="va"),
        op("save", 2, 3, tag="b", result="vb"),
        op("load", 4, 5, result="a"),  # b was acknowledged and is gone
    ]
    violation = check_session(ops, "s")
    assert violation is not None
    assert "no linearization" in violation.rule
    assert [o.kind for o in violation.history] == ["save", "save", "load"]


def test_reports_a_forked_chain() -> None:
    ops = [
        op("save", 0, 1, tag="a", result="va"),
        op("save", 2, 5, tag="b", expected="va", result="vb"),
        op("save", 3, 6, tag="c", expected="va", result="vc"),  # both won on va
    ]
    violation = check_session(ops, "s")
    assert violation is not None
    assert len(violation.history) == 3


def test_reports_a_stale_epoch() -> None:
    ops = [
        op("save", 0, 1, tag="a", result="va"),
        op("acquire", 2, 3, owner="A", lease=1, result=(1, "v1")),
        op("acquire", 4, 5, owner="B", force=True, lease=2, result=(1, "v2")),  # not > 1
    ]
    assert check_session(ops, "s") is not None


def test_reports_a_fenced_lease_that_wrote() -> None:
    ops = [
        op("acquire", 0, 1, owner="A", lease=1, result=(1, "c1")),  # a claim
        op("save", 2, 3, tag="other", expected=None, result="v1"),  # replaces the claim
        op("delete", 4, 5),
        # Rule (b): once someone else wrote or deleted, the lease never writes again.
        op("lease_save", 6, 7, lease=1, tag="zombie", expected="c1", result="v2"),
    ]
    violation = check_session(ops, "s")
    assert violation is not None
    assert violation.history[-1].tag == "zombie"


def test_reports_two_leases_writing_a_new_session() -> None:
    ops = [
        op("acquire", 0, 1, owner="A", lease=1, result=(1, "c1")),
        op("acquire", 0, 1, owner="B", force=True, lease=2, result=(2, "c2")),
        op("lease_save", 2, 3, lease=1, tag="a", expected="c1", result="va"),
        op("lease_save", 4, 5, lease=2, tag="b", expected="c2", result="vb"),
    ]
    assert check_session(ops, "s") is not None


def test_reports_a_conflict_without_cause() -> None:
    ops = [
        op("save", 0, 1, tag="a", result="va"),
        op("save", 2, 3, "conflict", tag="b", expected="va"),
    ]
    assert check_session(ops, "s") is not None


def test_reports_a_failed_write_that_landed() -> None:
    ops = [
        op("save", 0, 1, "failed", tag="a"),
        op("load", 2, 3, result="a"),
    ]
    assert check_session(ops, "s") is not None


def test_reports_a_decidable_outcome_unknown() -> None:
    ops = [
        op("save", 0, 1, "unknown", tag="a", raised_unknown=True),
        op("load", 2, 3, result="a"),
    ]
    found = check_outcome_unknown(ops)
    assert len(found) == 1
    assert "OutcomeUnknown" in found[0].rule
    ops[0].may_stall = True
    assert check_outcome_unknown(ops) == []


def test_minimal_history_drops_unrelated_reads() -> None:
    ops = [
        op("save", 0, 1, tag="a", result="va"),
        op("load", 1.5, 1.8, result="a"),
        op("load", 1.9, 1.95, result="a"),
        op("save", 2, 3, tag="b", result="vb"),
        op("load", 4, 5, result="a"),
    ]
    violation = check_session(ops, "s")
    assert violation is not None
    assert len(violation.history) == 3
    assert "tag=b" in str(violation)


def test_foreign_restore_is_a_write_by_someone_else() -> None:
    ops = [
        op("acquire", 0, 1, owner="A", lease=1, result=(1, "c1")),
        op("lease_save", 2, 3, lease=1, tag="a", expected="c1", result="va"),
        op("foreign_write", 4, 5, value=Value("seed", "vs")),
        op("lease_save", 6, 7, lease=1, tag="b", expected="va", result="vb"),
    ]
    assert check_session(ops, "s") is not None


@pytest.mark.parametrize("expected", [ANY, None])
def test_failed_reads_constrain_nothing(expected: object) -> None:
    ops = [
        op("save", 0, 1, tag="a", expected=expected, result="va"),
        op("load", 2, 3, "failed"),
        op("load", 4, 5, result="a"),
    ]
    assert rules(ops) == []


def test_a_foreign_restore_of_a_leases_own_body_revives_that_lease() -> None:
    """Fencing is by version: restoring the lease's last body brings its version back."""
    ops = [
        op("save", 0, 1, tag="x", result="v0"),
        op("acquire", 2, 3, owner="A", lease=1, result=(1, "v1")),
        op("lease_save", 4, 5, lease=1, tag="a", expected="v1", result="v2"),
        op("save", 6, 7, tag="other", result="v3"),
        op("foreign_write", 8, 9, value=Value("a", "v2", "A", 1, True)),
        op("lease_save", 10, 11, lease=1, tag="b", expected="v2", result="v4"),
    ]
    assert check_session(ops, "s") is None


def test_an_injected_refusal_needs_no_justification() -> None:
    ops = [
        op("save", 0, 1, tag="a", result="va"),
        op("save", 2, 3, "conflict", tag="b", expected="va", refusal_injected=True),
    ]
    assert check_session(ops, "s") is None


def test_expect_absent_delete_of_a_claim_fences_nobody() -> None:
    ops = [
        op("acquire", 0, 1, owner="A", lease=1, result=(1, "c1")),
        op("load", 2, 3, result=None),  # a claim reads as absent
        op("delete", 4, 5, expected=None),  # "expect absent" holds, and changes nothing
        op("lease_save", 6, 7, lease=1, tag="a", expected="c1", result="va"),
    ]
    assert check_session(ops, "s") is None


def test_an_unconditional_delete_of_a_claim_fences_its_lease() -> None:
    ops = [
        op("acquire", 0, 1, owner="A", lease=1, result=(1, "c1")),
        op("delete", 2, 3),
        op("lease_save", 4, 5, lease=1, tag="a", expected="c1", result="va"),
    ]
    assert check_session(ops, "s") is not None


def test_an_acquire_of_a_missing_session_must_leave_a_claim() -> None:
    ops = [op("acquire", 0, 1, owner="A", lease=1, result=(1, None))]
    assert check_session(ops, "s") is not None
