"""``tradepay demo``: the stories of the chain ``agreement -> wallet -> card``, on a real SQLite workspace:
payments, then a refund.

The demo sets each story up through the providers' own commands (the same ones a person would type), pays
through the real chain, and prints every payment's timeline. It imports no plugin: the providers are found
through their entry points, as in any installation.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import click

from .._config import load_config
from .._host import Host
from .._ledger.orders import Order
from .._ledger.records import Payment
from .._refunding import RefundService
from .._service import PaymentService
from .._spi.cards import redact_card_numbers
from .._spi.errors import DiscoveryError, TradePayError
from .._spi.models import APIContext, MiniProgramMetaData, PaymentAmount, PaymentRequest, PaymentResult, PaymentType
from .refund_commands import refund_line
from .starter_config import write_config_file
from .timeline import render_payment

__all__ = ["DEMO_CHAIN", "REFUND_STORIES", "STORIES", "DemoOutcome", "RefundStory", "Story", "run_demo"]

DEMO_CHAIN = ("agreement", "wallet", "card")
MERCHANT = "m-coffee"
_CONFIG = """\
# Written by `tradepay demo`.
[chain]
providers = ["agreement", "wallet", "card"]
provider_deadline_s = 2.0
inquiry_attempts = 3
inquiry_interval_s = 0.05

[host]
data_dir = "state"
"""


@dataclass(frozen=True, slots=True)
class Story:
    """One demo story: set-up commands, then a payment of ``amount`` minor units by ``payer``."""

    title: str
    payer: str
    amount: str
    setup: tuple[str, ...] = ()
    repeat_of: int | None = None  # pay the order of that earlier story again


STORIES: tuple[Story, ...] = (
    Story(
        "An active agreement pays without a cashier",
        "frank",
        "900",
        (f"agreement sign frank {MERCHANT} --currency USD --per-payment-limit 5000", "agreement activate {last}"),
    ),
    Story(
        "The agreement is still pending, so the wallet pays",
        "alice",
        "1250",
        (f"agreement sign alice {MERCHANT} --currency USD", "wallet topup alice USD 5000"),
    ),
    Story(
        "The wallet is short of balance, so the card pays",
        "bob",
        "2500",
        ("wallet topup bob USD 100", "card add bob 4242424242424242 --exp 12/30 --cvc 123"),
    ),
    Story(
        "The user cancels at the wallet's cashier: the card is never tried",
        "carol",
        "1000",
        (
            "wallet topup carol USD 5000",
            "wallet fault set carol user_cancel",
            "card add carol 5555555555554444 --exp 12/30 --cvc 123",
        ),
    ),
    Story(
        "A stolen card stops the chain",
        "dave",
        "700",
        ("card add dave 4000000000009979 --exp 12/30 --cvc 123",),
    ),
    Story(
        "The wallet charges but answers a timeout: inquiry finds the money, nothing else is charged",
        "erin",
        "1500",
        (
            "wallet topup erin USD 5000",
            "wallet fault set erin late_success",
            "card add erin 4242424242424242 --exp 12/30 --cvc 123",
        ),
    ),
    Story(
        "The paid order of the wallet story is paid again: the stored answer, no charge", "alice", "1250", repeat_of=1
    ),
)


@dataclass(frozen=True, slots=True)
class RefundStory:
    """A refund after the payment stories: ``amount`` minor units of the order of story ``of_story`` (1-based),
    under the merchant's ``request_id``."""

    title: str
    of_story: int
    amount: str
    request_id: str
    reason: str


REFUND_STORIES: tuple[RefundStory, ...] = (
    RefundStory(
        "The card paid after the wallet declined: a partial refund goes back to the card, never the wallet",
        3,
        "1000",
        "refund-bob-1",
        "one item returned",
    ),
)


@dataclass(frozen=True, slots=True)
class DemoOutcome:
    """What one story ended with."""

    story: Story
    order: Order
    result: PaymentResult
    payment: Payment | None


class _Commands:
    """The providers' command-line commands, run in-process with their output captured."""

    def __init__(self, host: Host) -> None:
        self.group = click.Group("tradepay")
        host.pm.hook.add_cli_commands(cli=self.group)
        self.last = ""

    def run(self, line: str) -> str:
        args = shlex.split(line.format(last=self.last))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                self.group.main(args, prog_name="tradepay", standalone_mode=False)
            except click.ClickException as exc:
                raise TradePayError(f"demo set-up `tradepay {line}` failed: {exc.format_message()}") from None
        text = out.getvalue().strip()
        # The command's own answer is its last line (an application may log to standard output before it).
        self.last = text.splitlines()[-1].split()[0] if text else ""
        return text


def _shown(line: str) -> str:
    """A command as the demo prints it: card numbers masked and the CVC hidden, as in any log."""
    return re.sub(r"(--cvc[ =])\S+", r"\1***", redact_card_numbers(line))


@contextlib.contextmanager
def _workspace(path: Path | None) -> Iterator[Path]:
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="tradepay-demo-") as tmp:
        yield Path(tmp)


def run_demo(workspace: Path | None, echo: Callable[[str], object]) -> list[DemoOutcome]:
    """Run every story in ``workspace`` (default: a temporary folder removed afterwards), echoing each
    set-up command and payment timeline; return the outcomes."""
    outcomes: list[DemoOutcome] = []
    with _workspace(workspace) as root:
        if (root / "tradepay.toml").exists() or (root / "state").exists():
            raise TradePayError(f"{root} already holds a demo: use an empty folder")
        config_path = root / "tradepay.toml"
        write_config_file(config_path, _CONFIG)
        try:
            host = Host.from_config(load_config(config_path))
        except DiscoveryError as exc:
            raise TradePayError(
                f"the demo needs the providers {', '.join(DEMO_CHAIN)}: {exc} "
                "(pip install ./plugins/tradepay-agreement ./plugins/tradepay-wallet ./plugins/tradepay-card)"
            ) from None
        commands = _Commands(host)
        echo(f"workspace: {root}  chain: {' -> '.join(DEMO_CHAIN)}\n")
        with PaymentService(host) as service:
            for number, story in enumerate(STORIES, 1):
                echo(f"{number}. {story.title}")
                for line in story.setup:
                    commands.run(line)
                    echo(f"   $ tradepay {_shown(line.format(last=commands.last))}")
                if story.repeat_of is not None:
                    order = outcomes[story.repeat_of].order
                else:
                    order = host.ledger.create_order(
                        PaymentAmount("USD", story.amount), merchant_id=MERCHANT, payer_id=story.payer
                    )
                context = APIContext(
                    "demo",
                    MiniProgramMetaData(app_id="2021000000000001", merchant_id=MERCHANT),
                    {"userId": story.payer},
                )
                result = service.pay_blocking(PaymentRequest(PaymentType.ORDER_ID, order.trade_no), context)
                payment = host.ledger.get_payment(result.extended_info.get("paymentId", ""))
                earlier = outcomes[story.repeat_of].payment if story.repeat_of is not None else None
                stored = earlier is not None and payment is not None and earlier.payment_id == payment.payment_id
                outcomes.append(DemoOutcome(story, order, result, payment))
                for line in render_payment(order, result, payment, stored=stored).splitlines():
                    echo(f"   {line}")
                echo("")
            _refund_stories(host, outcomes, echo)
            for payer in sorted({s.payer for s in STORIES}):
                echo(f"   $ tradepay wallet balance {payer}\n   {commands.run(f'wallet balance {payer}')}")
        echo("")
        echo(_next_steps())
    return outcomes


def _refund_stories(host: Host, outcomes: list[DemoOutcome], echo: Callable[[str], object]) -> None:
    """Run :data:`REFUND_STORIES`, each numbered after the payment stories, echoing the command and its answer."""
    service = RefundService(host)
    for number, story in enumerate(REFUND_STORIES, len(STORIES) + 1):
        order = outcomes[story.of_story - 1].order
        echo(f"{number}. {story.title}")
        echo(
            f"   $ tradepay refund {order.trade_no} --amount {story.amount} --request-id {story.request_id}"
            f" --reason {shlex.quote(story.reason)}"
        )
        answer = service.refund(order.trade_no, story.amount, story.request_id, story.reason)
        echo(f"   {answer.result_status.value} {answer.result_code}: {answer.result_message}")
        if answer.refund is not None:
            echo(f"     {refund_line(answer.refund)}")
        echo("")


def _next_steps() -> str:
    """Where the ``tradepay`` command of this installation is, and how to call it: a virtual environment's
    scripts are not on the PATH until it is activated (``python3 tasks.py demo`` makes ``./.venv``)."""
    scripts = Path(sys.executable).parent
    script = scripts / "tradepay"
    found = shutil.which("tradepay")
    if found is not None and Path(found).resolve() == script.resolve():
        return "next: `tradepay --help` lists the commands; `tradepay init` writes a configuration of your own"
    try:
        shown = f"./{script.relative_to(Path.cwd())}"
        activate = f"./{(scripts / 'activate').relative_to(Path.cwd())}"
    except ValueError:  # not under the working directory
        shown, activate = str(script), str(scripts / "activate")
    return (
        f"next: `{shown} --help` lists the commands (`tradepay` alone needs `source {activate}` first); "
        f"`{shown} init` writes a configuration of your own"
    )
