"""Who is signed in: the ``authenticate`` hook asked for a request of the client API or the cashier page."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from .._ledger.orders import check_trade_no
from .._spi.errors import InvalidInput
from .errors import ApiError
from .state import state_of
from .tokens import TokenAuthenticator

__all__ = ["signed_in_user"]

NOT_SIGNED_IN = "no signed-in user: send 'Authorization: Bearer <token>' (tradepay tokens issue USER)"


async def signed_in_user(request: Request, authorization: str | None = None) -> str:
    """The user the ``authenticate`` hook names for ``request`` (``authorization`` stands in for its
    ``Authorization`` header when given: the cashier page's form); :class:`ApiError` 401 when nobody does."""
    state = state_of(request)
    headers = {name.lower(): value for name, value in request.headers.items()}
    given = authorization if authorization is not None else request.headers.get("authorization")
    hook = state.host.pm.hook.authenticate
    if all(isinstance(impl.plugin, TokenAuthenticator) for impl in hook.get_hookimpls()):
        user = hook(authorization=given, headers=headers)  # the built-in check alone: a signature, no I/O
    else:
        # A plugin's session check may block (a database, a call): off the event loop.
        user = await run_in_threadpool(hook, authorization=given, headers=headers)
    if user is None:
        raise ApiError(401, "UNAUTHORIZED", NOT_SIGNED_IN)
    try:
        request.state.user = check_trade_no(user, "user")  # for the request log
        return str(request.state.user)
    except InvalidInput as exc:
        raise ApiError(401, "UNAUTHORIZED", f"the authenticator answered no usable user id: {exc.reason}") from None
