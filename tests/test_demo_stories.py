"""The demo's stories, asserted on the providers' own state rather than on printed text.

For every attempt of every story, the provider that received it is asked (through its inquiry hook) whether
money moved: at most one provider holds money for an order, and one does exactly when the answer was 9000.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tradepay import (
    Order,
    PaymentStatus,
    ProviderConfig,
    ProviderStatus,
    RefundOutcome,
    RefundStatus,
    ResultCode,
    SQLiteLedger,
)
from tradepay._cli.demo import REFUND_STORIES, STORIES, DemoOutcome, run_demo
from tradepay_agreement import AgreementProvider
from tradepay_card import CardProvider
from tradepay_wallet import WalletProvider


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[DemoOutcome], list[str]]:
    root = tmp_path_factory.mktemp("demo")
    cwd = os.getcwd()
    os.chdir(root)
    lines: list[str] = []
    try:
        outcomes = run_demo(root / "workspace", lines.append)
    finally:
        os.chdir(cwd)
    return root, outcomes, lines


@pytest.fixture(scope="module")
def providers(demo: tuple[Path, list[DemoOutcome], list[str]]) -> Any:
    state = demo[0] / "workspace" / "state"
    opened: dict[str, Any] = {
        "agreement": AgreementProvider(ProviderConfig("agreement", {}, state)),
        "wallet": WalletProvider(ProviderConfig("wallet", {}, state)),
        "card": CardProvider(ProviderConfig("card", {}, state)),
    }
    yield opened
    for provider in opened.values():
        provider.close()


def moved(providers: dict[str, Any], order: Order, outcome: DemoOutcome) -> dict[str, ProviderStatus]:
    """provider -> what its inquiry says about this payment's attempt with it."""
    assert outcome.payment is not None
    found = {}
    for record in outcome.payment.attempts:
        answer = providers[record.attempt.provider].inquire(order=order, attempt=record.attempt)
        found[record.attempt.provider] = asyncio.run(answer) if inspect.iscoroutine(answer) else answer
    return found


def story(demo: tuple[Path, list[DemoOutcome], list[str]], number: int) -> DemoOutcome:
    return demo[1][number - 1]


def test_every_story_ran(demo: tuple[Path, list[DemoOutcome], list[str]]) -> None:
    assert len(demo[1]) == len(STORIES) == 7


def test_at_most_one_provider_holds_money_and_only_for_a_success(
    demo: tuple[Path, list[DemoOutcome], list[str]], providers: dict[str, Any]
) -> None:
    for outcome in demo[1]:
        statuses = moved(providers, outcome.order, outcome)
        paid = [name for name, status in statuses.items() if status is ProviderStatus.PAID]
        expected = 1 if outcome.result.result_code is ResultCode.SUCCESS else 0
        assert len(paid) == expected, (outcome.story.title, statuses)
        assert ProviderStatus.UNKNOWN not in statuses.values()


def test_an_active_agreement_pays(demo: Any, providers: dict[str, Any]) -> None:
    frank = story(demo, 1)
    assert frank.result.result_code is ResultCode.SUCCESS
    assert moved(providers, frank.order, frank) == {"agreement": ProviderStatus.PAID}


def test_a_pending_agreement_falls_through_to_the_wallet(demo: Any, providers: dict[str, Any]) -> None:
    alice = story(demo, 2)
    assert moved(providers, alice.order, alice) == {"agreement": ProviderStatus.NOT_PAID, "wallet": ProviderStatus.PAID}
    assert providers["wallet"].balance("alice", "USD") == 5000 - 1250


def test_a_short_wallet_falls_through_to_the_card(demo: Any, providers: dict[str, Any]) -> None:
    bob = story(demo, 3)
    assert bob.result.extended_info["provider"] == "card"
    assert moved(providers, bob.order, bob)["card"] is ProviderStatus.PAID
    assert providers["wallet"].balance("bob", "USD") == 100


def test_a_user_cancel_never_reaches_the_card(demo: Any, providers: dict[str, Any]) -> None:
    carol = story(demo, 4)
    assert carol.result.result_code is ResultCode.USER_CANCEL
    assert carol.payment is not None
    assert carol.payment.status is PaymentStatus.CANCELLED
    assert [r.attempt.provider for r in carol.payment.attempts] == ["agreement", "wallet"]
    assert providers["wallet"].balance("carol", "USD") == 5000


def test_a_stolen_card_stops(demo: Any, providers: dict[str, Any]) -> None:
    dave = story(demo, 5)
    assert dave.result.result_code is ResultCode.FAILED
    assert dave.result.reason == "STOLEN_CARD"
    assert dave.payment is not None
    assert dave.payment.attempts[-1].rule == "risk-decline"


def test_a_late_success_is_found_and_nothing_else_is_charged(demo: Any, providers: dict[str, Any]) -> None:
    erin = story(demo, 6)
    assert erin.result.result_code is ResultCode.SUCCESS
    assert erin.payment is not None
    assert [r.attempt.provider for r in erin.payment.attempts] == ["agreement", "wallet"]
    assert "inquiry: paid" in erin.payment.attempts[-1].detail
    assert providers["wallet"].balance("erin", "USD") == 5000 - 1500


def test_a_repeat_charges_nothing(demo: Any, providers: dict[str, Any]) -> None:
    first, repeat = story(demo, 2), story(demo, 7)
    assert repeat.result == first.result
    assert repeat.payment == first.payment
    assert providers["wallet"].balance("alice", "USD") == 5000 - 1250


def test_the_demo_leaves_nothing_outside_its_workspace(demo: Any) -> None:
    root: Path = demo[0]
    assert sorted(p.name for p in root.iterdir()) == ["workspace"]
    text = "\n".join(demo[2])
    assert "4242424242424242" not in text
    assert "card add bob 424242******4242 --exp 12/30 --cvc ***" in text


def test_amounts_print_one_way_and_never_glued_to_a_result_code(demo: Any) -> None:
    lines = "\n".join(demo[2]).splitlines()
    text = "\n".join(line for line in lines if not line.strip().startswith("$"))  # typed commands: minor units
    assert "USD  USD" not in text
    assert "minor units" not in text
    assert not re.search(r"\b\d{4} USD\b", text), "a result code glued to an amount"
    # Every amount is the code once and major units: USD 37.50.
    assert re.findall(r"USD [\d.]+", text) == re.findall(r"USD \d+\.\d\d\b", text)
    at = lines.index("   $ tradepay wallet balance alice")
    assert lines[at + 1] == "   USD 37.50"  # alice: 5000 less 1250


def test_the_repeat_says_it_is_the_stored_answer(demo: Any) -> None:
    first, repeat = story(demo, 2), story(demo, 7)
    assert repeat.payment is not None
    lines = demo[2]
    at = next(i for i, line in enumerate(lines) if line.startswith("7. "))
    shown = lines[at + 1 : at + 4]
    assert (
        shown[0]
        == f"   payment {repeat.payment.payment_id} of order {first.order.trade_no}: USD 12.50 from alice to m-coffee"
    )
    assert shown[1].startswith("     no provider called: the stored answer of this payment")
    assert shown[2] == "     => 9000 succeeded: paid from wallet balance"


def test_the_demo_ends_saying_how_to_run_tradepay(demo: Any) -> None:
    last = demo[2][-1]
    script = Path(sys.executable).parent / "tradepay"
    found = shutil.which("tradepay")
    if found is not None and Path(found).resolve() == script.resolve():
        assert last.startswith("next: `tradepay --help` lists the commands")
    else:  # a virtual environment that is not activated: its scripts are not on the PATH
        assert last.startswith("next: `")
        assert "tradepay` alone needs `source " in last
        assert "/activate` first" in last


def test_a_providers_decline_names_the_amount_in_major_units(demo: Any) -> None:
    bob = story(demo, 3)
    assert bob.payment is not None
    wallet = bob.payment.attempts[1]
    assert wallet.attempt.provider == "wallet"
    assert wallet.result is not None
    assert wallet.result.result_error is not None
    assert wallet.result.result_error.error_desc == "the payer's USD balance is below USD 25.00"


def test_a_partial_refund_goes_to_the_card_never_the_wallet(demo: Any, providers: dict[str, Any]) -> None:
    bob = story(demo, 3)
    assert bob.payment is not None
    [wallet_attempt, card_attempt] = [r.attempt for r in bob.payment.attempts if r.attempt.provider != "agreement"]
    assert (wallet_attempt.provider, card_attempt.provider) == ("wallet", "card")
    ledger = SQLiteLedger(demo[0] / "workspace" / "state" / "ledger.sqlite3")
    try:
        [refund] = ledger.refunds(trade_no=bob.order.trade_no)
    finally:
        ledger.close()
    [told] = REFUND_STORIES
    assert (refund.status, refund.amount.value, refund.request_id) == (RefundStatus.SUCCEEDED, "1000", told.request_id)
    assert refund.attempt == card_attempt
    # The card gave the money back under the refund's key; the wallet, which took nothing, was never asked.
    assert providers["card"].inquire_refund(order=bob.order, attempt=card_attempt, refund=refund) is (
        RefundOutcome.SUCCEEDED
    )
    assert providers["wallet"].refunds() == []
    assert providers["wallet"].balance("bob", "USD") == 100
    lines = demo[2]
    at = next(i for i, line in enumerate(lines) if line.startswith(f"{len(STORIES) + 1}. "))
    assert lines[at + 2] == "   S SUCCESS: refunded USD 10.00"
    assert "to #3 card  succeeded" in lines[at + 3]
