"""``tradepay notify``: the delivery worker standalone (``--once``, ``--follow``), and the operators' commands
on the outbox (``notify list``, ``notify show ID``, ``notify retry ID``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from .._ledger.notifications import NotificationStatus
from .render import echo_json, echo_text, format_table, format_time, json_time

if TYPE_CHECKING:
    from .._ledger.notifications import Notification
    from .main import _State

__all__ = ["notification_to_dict", "register"]


def notification_to_dict(event: Notification) -> dict[str, Any]:
    """The event as JSON-ready data (see ``docs/cli.md`` for the conventions); ``payload`` the body posted to
    the merchant, as the string of JSON it is (the merchant's wire format, not the command line's)."""
    return {
        "notificationId": event.event_id,
        "kind": event.kind.value,
        "merchantId": event.merchant_id,
        "tradeNo": event.trade_no,
        "subjectId": event.subject_id,
        "sequence": event.sequence,
        "status": event.status.value,
        "attempts": event.attempts,
        "nextAttemptAt": json_time(event.next_attempt_at),
        "lastError": event.last_error,
        "leasedBy": event.leased_by,
        "leaseUntil": json_time(event.lease_until),
        "createdAt": json_time(event.created_at),
        "updatedAt": json_time(event.updated_at),
        "deliveredAt": json_time(event.delivered_at),
        "payload": event.payload,
    }


def _show(event: Notification) -> str:
    lines = [
        f"notification {event.event_id}  {event.kind.value}  {event.status.value}",
        f"  merchant {event.merchant_id}, order {event.trade_no} (event {event.sequence} of the order),"
        f" {event.subject_id}",
        f"  created {format_time(event.created_at)}; {event.attempts} attempt(s)",
    ]
    if event.delivered_at is not None:
        lines.append(f"  delivered {format_time(event.delivered_at)}")
    elif event.status is NotificationStatus.PENDING:
        lines.append(f"  next attempt {format_time(event.next_attempt_at)}")
    if event.last_error:
        lines.append(f"  last error: {event.last_error}")
    if event.leased_by and event.lease_until is not None:
        lines.append(f"  leased by {event.leased_by} until {format_time(event.lease_until)}")
    lines.append(f"  payload: {event.payload}")
    return "\n".join(lines)


def _outbox(state: _State) -> Any:
    return state.host().ledger


def _found(ledger: Any, event_id: str) -> Notification:
    """The notification ``event_id``, or the latest of the order whose trade number it is."""
    from .._spi.errors import InvalidInput

    try:
        event: Notification | None = ledger.get_notification(event_id)
    except InvalidInput:  # not the shape of a notification id: perhaps a trade number
        event = None
    if event is None:
        latest: list[Notification] = ledger.notifications(trade_no=event_id, limit=1)
        if not latest:
            raise click.BadParameter(f"no notification, nor order with a notification, {event_id!r}", param_hint="'ID'")
        event = latest[0]
    return event


def _deliver(state: _State, follow: bool) -> None:
    import asyncio
    from pathlib import Path

    try:
        from ..server.notify_worker import NotifyWorker
        from ..server.signing import load_host_key
    except ImportError:
        raise click.ClickException("delivering needs the server extra: pip install 'tradepay[server]'") from None
    config = state.load_config()
    host = state.host()
    key = load_host_key(Path(host.settings.data_dir))  # the key `tradepay serve` signs with
    worker = NotifyWorker(host.ledger, key, config.notifications)
    if not follow:
        made = asyncio.run(worker.run_once())
        echo_text(f"deliveries made: {made}")
        return

    async def follow_until_stopped() -> None:
        import signal

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await worker.run(stop)

    asyncio.run(follow_until_stopped())


def register(cli: click.Group) -> None:
    """Add ``notify`` to ``cli``."""

    @cli.group(invoke_without_command=True)
    @click.option("--once", is_flag=True, help="Deliver every notification that is due, then exit.")
    @click.option("--follow", is_flag=True, help="Deliver notifications as they come due, until SIGTERM or Ctrl-C.")
    @click.pass_context
    def notify(ctx: click.Context, once: bool, follow: bool) -> None:
        """Merchants' notifications: deliver them (--once, --follow), or list, show and retry them."""
        if ctx.invoked_subcommand is not None:
            if once or follow:
                raise click.UsageError("--once and --follow deliver: give them without a sub-command")
            return
        if once == follow:
            raise click.UsageError("give exactly one of --once and --follow (or a sub-command: list, show, retry)")
        _deliver(ctx.obj, follow)

    @notify.command("list")
    @click.option("--status", type=click.Choice([s.value for s in NotificationStatus]), help="Only this status.")
    @click.option("--dead", is_flag=True, help="Only the dead ones (--status dead).")
    @click.option("--trade-no", "trade_no", help="Only the notifications of this order.")
    @click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def list_notifications(
        state: _State, status: str | None, dead: bool, trade_no: str | None, limit: int, as_json: bool
    ) -> None:
        """List notifications, newest first (times in UTC)."""
        if dead and status not in (None, "dead"):
            raise click.UsageError(f"--dead and --status {status} contradict each other")
        wanted = NotificationStatus.DEAD if dead else (NotificationStatus(status) if status else None)
        found: list[Notification] = _outbox(state).notifications(status=wanted, trade_no=trade_no, limit=limit)
        if as_json:
            echo_json([notification_to_dict(event) for event in found])
            return
        if not found:
            echo_text("no notifications")
            return
        rows = [
            (
                e.event_id,
                format_time(e.created_at).removesuffix(" UTC"),
                e.kind.value,
                e.trade_no,
                str(e.sequence),
                e.status.value,
                str(e.attempts),
                e.last_error or "",
            )
            for e in found
        ]
        header = ("NOTIFICATION", "CREATED (UTC)", "KIND", "ORDER", "SEQ", "STATUS", "ATTEMPTS", "LAST ERROR")
        echo_text(format_table(header, rows))

    @notify.command("show")
    @click.argument("event_id", metavar="ID")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def show_notification(state: _State, event_id: str, as_json: bool) -> None:
        """Show notification ID: its order, state, attempts, last error and payload. ID is a notification id,
        or a trade number (its order's latest notification)."""
        event = _found(_outbox(state), event_id)
        if as_json:
            echo_json(notification_to_dict(event))
            return
        echo_text(_show(event))

    @notify.command("retry")
    @click.argument("event_id", metavar="ID")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def retry_notification(state: _State, event_id: str, as_json: bool) -> None:
        """Make notification ID (dead, or pending) due now: the next delivery worker delivers it. ID is a
        notification id, or a trade number (its order's latest notification)."""
        from .._ledger.states import IllegalTransition

        ledger = _outbox(state)
        found = _found(ledger, event_id)
        try:
            event: Notification = ledger.retry_notification(found.event_id)
        except IllegalTransition:
            raise click.ClickException(
                f"notification {found.event_id} was delivered already: nothing to retry"
            ) from None
        if as_json:
            echo_json(notification_to_dict(event))
            return
        echo_text(f"notification {event.event_id}: pending, due now ({event.attempts} attempt(s) so far)")
