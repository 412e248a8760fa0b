"""Agreements on each database: signing, every transition (legal and illegal), expiry on an injected clock,
races between signings and transitions, and the database itself."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from agreement_support import FakeClock

from tradepay import ConfigError, InvalidInput
from tradepay_agreement import Agreement, AgreementError, AgreementNotFound, AgreementStatus, AgreementStore
from tradepay_agreement._schema import SCHEMA_VERSION

MINUTE = 60.0


@pytest.fixture
def in_status(store: AgreementStore, clock: FakeClock) -> Callable[[str], Agreement]:
    """``in_status("expired")``: an agreement of alice with shop brought to that status the legal way."""

    def make(status: str) -> Agreement:
        agreement = store.sign("alice", "shop", "USD", expires_in=MINUTE)
        if status == "active":
            store.activate(agreement.agreement_id)
        elif status == "revoked":
            store.revoke(agreement.agreement_id)
        elif status == "expired":
            clock.advance(MINUTE)
        made = store.get(agreement.agreement_id)
        assert made.status == status
        return made

    return make


# --- signing -----------------------------------------------------------------------------------------------


def test_sign_stores_a_pending_agreement_with_its_limits(store: AgreementStore, clock: FakeClock) -> None:
    signed = store.sign(
        "alice", "shop", "USD", per_payment_limit=500, cumulative_limit=2000, count_limit=3, expires_in=MINUTE
    )

    assert signed.status is AgreementStatus.PENDING
    assert signed.scope == "AGREEMENT_PAY"
    assert (signed.per_payment_limit, signed.cumulative_limit, signed.count_limit) == (500, 2000, 3)
    assert (signed.used_amount, signed.used_count) == (0, 0)
    assert signed.expires_at == clock.now + MINUTE
    assert signed.agreement_id.startswith("agr_")
    assert store.get(signed.agreement_id) == signed
    assert store.agreements() == [signed]


def test_limits_and_expiry_are_optional(store: AgreementStore) -> None:
    signed = store.sign("alice", "shop", "JPY")

    assert (signed.per_payment_limit, signed.cumulative_limit, signed.count_limit, signed.expires_at) == (
        None,
        None,
        None,
        None,
    )


def test_access_tokens_are_random_long_and_never_in_repr(store: AgreementStore) -> None:
    first = store.sign("alice", "shop", "USD")
    second = store.sign("bob", "shop", "USD")

    assert first.access_token != second.access_token
    assert len(first.access_token) >= 32
    assert first.token_last4 == first.access_token[-4:]
    assert first.access_token not in repr(first)
    assert first.access_token not in str(store.agreements())


def test_a_pair_has_at_most_one_pending_or_active_agreement(store: AgreementStore) -> None:
    first = store.sign("alice", "shop", "USD")

    with pytest.raises(AgreementError, match=rf"already has agreement {first.agreement_id} \(pending\)"):
        store.sign("alice", "shop", "EUR")
    store.activate(first.agreement_id)
    with pytest.raises(AgreementError, match=r"\(active\).*revoke it"):
        store.sign("alice", "shop", "USD")

    assert len(store.agreements()) == 1
    assert store.sign("alice", "other-shop", "USD").status is AgreementStatus.PENDING
    assert store.sign("bob", "shop", "USD").status is AgreementStatus.PENDING


def test_a_pair_may_sign_again_once_its_agreement_is_revoked_or_expired(
    store: AgreementStore, clock: FakeClock
) -> None:
    store.revoke(store.sign("alice", "shop", "USD").agreement_id)
    store.sign("alice", "shop", "USD", expires_in=MINUTE)
    clock.advance(MINUTE)

    third = store.sign("alice", "shop", "USD")

    assert [a.status for a in store.agreements("alice")] == ["revoked", "expired", "pending"]
    assert store.agreements("alice")[-1] == third


BAD_PARTY_IDS = ["", " ", "a" * 65, "ali ce", "alice'; DROP TABLE agreements; --", "ålice", "\x00", "al/ice"]


@pytest.mark.parametrize("payer", [*BAD_PARTY_IDS, 42, None])
def test_a_bad_payer_is_refused_and_nothing_is_stored(store: AgreementStore, payer: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        store.sign(payer, "shop", "USD")  # type: ignore[arg-type]

    assert refused.value.field == "payer_id"
    assert store.agreements() == []


@pytest.mark.parametrize("merchant", BAD_PARTY_IDS)
def test_a_bad_merchant_is_refused_and_nothing_is_stored(store: AgreementStore, merchant: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        store.sign("alice", merchant, "USD")

    assert refused.value.field == "merchant_id"
    assert store.agreements() == []


@pytest.mark.parametrize("currency", ["usd", "XXX", "", "US", "USDX", "€", 840, None])
def test_a_bad_currency_is_refused_and_nothing_is_stored(store: AgreementStore, currency: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        store.sign("alice", "shop", currency)  # type: ignore[arg-type]

    assert refused.value.field == "currency"
    assert store.agreements() == []


@pytest.mark.parametrize("limit", ["per_payment_limit", "cumulative_limit", "count_limit"])
@pytest.mark.parametrize(
    "value",
    [0, -1, 10**18, True, 1.5, "100", pytest.param(10**5000, id="huge-int"), pytest.param("x" * 10**6, id="huge-str")],
)
def test_a_bad_limit_is_refused_and_nothing_is_stored(store: AgreementStore, limit: str, value: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        store.sign("alice", "shop", "USD", **{limit: value})  # type: ignore[arg-type]

    assert refused.value.field == limit
    assert store.agreements() == []


@pytest.mark.parametrize("value", [0, -1, 100 * 365 * 24 * 3600 + 1, float("inf"), float("nan"), True, "60"])
def test_a_bad_expiry_is_refused_and_nothing_is_stored(store: AgreementStore, value: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        store.sign("alice", "shop", "USD", expires_in=value)  # type: ignore[arg-type]

    assert refused.value.field == "expires_in"
    assert store.agreements() == []


def test_the_largest_limits_are_accepted(store: AgreementStore) -> None:
    signed = store.sign("alice", "shop", "USD", per_payment_limit=10**18 - 1, count_limit=10**18 - 1)

    assert signed.per_payment_limit == 10**18 - 1


# --- transitions -------------------------------------------------------------------------------------------

TRANSITIONS = [
    ("pending", "activate", "active"),
    ("pending", "revoke", "revoked"),
    ("active", "activate", None),
    ("active", "revoke", "revoked"),
    ("revoked", "activate", None),
    ("revoked", "revoke", None),
    ("expired", "activate", None),
    ("expired", "revoke", None),
]


@pytest.mark.parametrize(("status", "event", "reached"), TRANSITIONS)
def test_every_transition(
    store: AgreementStore, in_status: Callable[[str], Agreement], status: str, event: str, reached: str | None
) -> None:
    agreement = in_status(status)
    act = store.activate if event == "activate" else store.revoke

    if reached is None:
        with pytest.raises(AgreementError, match=rf"cannot {event} agreement {agreement.agreement_id}: it is {status}"):
            act(agreement.agreement_id)
        assert store.get(agreement.agreement_id) == agreement
    else:
        assert act(agreement.agreement_id).status == reached
        assert store.get(agreement.agreement_id).status == reached


def test_an_expired_pending_agreement_reads_expired_and_cannot_be_activated(
    store: AgreementStore, clock: FakeClock
) -> None:
    agreement = store.sign("alice", "shop", "USD", expires_in=MINUTE)
    clock.advance(MINUTE)

    with pytest.raises(AgreementError, match="it is expired"):
        store.activate(agreement.agreement_id)


@pytest.mark.parametrize("agreement_id", ["agr_0000000000000000", "", "' OR '1'='1", "agr_🙂"])
def test_an_unknown_agreement_is_not_found(store: AgreementStore, agreement_id: str) -> None:
    store.sign("alice", "shop", "USD")

    for act in (store.get, store.activate, store.revoke):
        with pytest.raises(AgreementNotFound, match="no agreement"):
            act(agreement_id)


def test_transitions_are_logged_without_the_token(store: AgreementStore, logs: list[dict[str, object]]) -> None:
    agreement = store.sign("alice", "shop", "USD")
    store.activate(agreement.agreement_id)
    store.revoke(agreement.agreement_id)

    assert [e["event"] for e in logs] == ["agreement.signed", "agreement.activated", "agreement.revoked"]
    assert all(e["agreement_id"] == agreement.agreement_id for e in logs)
    assert agreement.access_token not in str(logs)


# --- expiry --------------------------------------------------------------------------------------------------


def test_an_agreement_expires_exactly_when_its_expiry_passes(store: AgreementStore, clock: FakeClock) -> None:
    agreement = store.activate(store.sign("alice", "shop", "USD", expires_in=MINUTE).agreement_id)

    clock.advance(MINUTE - 0.001)
    assert store.get(agreement.agreement_id).status is AgreementStatus.ACTIVE
    clock.advance(0.001)
    assert store.get(agreement.agreement_id).status is AgreementStatus.EXPIRED
    assert store.agreements()[0].status is AgreementStatus.EXPIRED


def test_a_revoked_agreement_stays_revoked_past_its_expiry(store: AgreementStore, clock: FakeClock) -> None:
    agreement = store.revoke(store.sign("alice", "shop", "USD", expires_in=MINUTE).agreement_id)
    clock.advance(2 * MINUTE)

    assert store.get(agreement.agreement_id).status is AgreementStatus.REVOKED


def test_expiry_is_derived_at_read_time_for_every_process(tmp_path: Path, database: str, clock: FakeClock) -> None:
    writer = AgreementStore(database, base=tmp_path, clock=clock)
    later = FakeClock(clock.now + MINUTE)
    reader = AgreementStore(database, base=tmp_path, clock=later)
    try:
        agreement = writer.sign("alice", "shop", "USD", expires_in=MINUTE)

        assert writer.get(agreement.agreement_id).status is AgreementStatus.PENDING
        assert reader.get(agreement.agreement_id).status is AgreementStatus.EXPIRED
    finally:
        writer.close()
        reader.close()


# --- concurrency within a process (PostgreSQL: one pooled connection per thread, a real race) ---------------


def test_threads_signing_for_one_pair_get_one_live_agreement(store: AgreementStore) -> None:
    workers = 6
    barrier = threading.Barrier(workers)

    def sign(_: int) -> str:
        barrier.wait(timeout=30)
        try:
            return store.sign("alice", "shop", "USD").agreement_id
        except AgreementError:
            return "refused"

    with ThreadPoolExecutor(workers) as pool:
        outcomes = list(pool.map(sign, range(workers)))

    assert outcomes.count("refused") == workers - 1
    assert [a.status for a in store.agreements("alice")] == ["pending"]


def race(store: AgreementStore, agreement_id: str, events: list[str]) -> list[str]:
    """Run ``activate``/``revoke`` events of one agreement in threads released together: ``done`` or ``refused``."""
    barrier = threading.Barrier(len(events))

    def act(event: str) -> str:
        barrier.wait(timeout=30)
        try:
            (store.activate if event == "activate" else store.revoke)(agreement_id)
        except AgreementError:
            return "refused"
        return "done"

    with ThreadPoolExecutor(len(events)) as pool:
        return list(pool.map(act, events))


def test_a_racing_activate_and_revoke_always_end_revoked(store: AgreementStore) -> None:
    """Whichever runs first, revoke wins: an activate that read ``pending`` before a revoke committed must not
    bring the revoked agreement back to life."""
    for _ in range(5):
        agreement = store.sign("alice", "shop", "USD")  # the last round's agreement is revoked

        activated, revoked = race(store, agreement.agreement_id, ["activate", "revoke"])

        assert revoked == "done"
        assert activated in {"done", "refused"}
        assert store.get(agreement.agreement_id).status is AgreementStatus.REVOKED


# --- the database ------------------------------------------------------------------------------------------


def test_the_file_is_wal_with_a_schema_version_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "agreements.sqlite3"
    first = AgreementStore(path)
    agreement = first.sign("alice", "shop", "USD")
    first.close()

    probe = sqlite3.connect(path)
    try:
        assert probe.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert probe.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    finally:
        probe.close()
    again = AgreementStore(path)
    try:
        assert again.get(agreement.agreement_id) == agreement
    finally:
        again.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "agreement.sqlite3"
    probe = sqlite3.connect(path)
    probe.execute("PRAGMA user_version = 99")
    probe.close()

    with pytest.raises(ConfigError, match="schema version 99, newer") as refused:
        AgreementStore(path)
    assert refused.value.key == "providers.agreement.database"


def test_the_store_is_reopened_on_the_same_database_and_closes_twice(
    tmp_path: Path, database: str, clock: FakeClock
) -> None:
    first = AgreementStore(database, base=tmp_path, clock=clock)
    signed = first.sign("alice", "shop", "USD", count_limit=3)
    first.close()
    first.close()

    again = AgreementStore(database, base=tmp_path, clock=clock)
    try:
        assert again.agreements() == [signed]
    finally:
        again.close()


@pytest.mark.parametrize("agreement_id", ["agr_\x00", "\x00"])
def test_a_nul_in_an_id_is_simply_not_found(store: AgreementStore, agreement_id: str) -> None:
    store.sign("alice", "shop", "USD")

    with pytest.raises(AgreementNotFound):
        store.get(agreement_id)
    with pytest.raises(AgreementNotFound):
        store.revoke(agreement_id)
    assert store.agreements("ali\x00ce") == []
