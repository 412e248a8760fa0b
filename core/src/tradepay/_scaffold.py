"""Files the command line writes: the starter configuration."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path

__all__ = ["starter_config", "write_config_file"]


def starter_config(chain: list[str]) -> str:
    """A configuration naming ``chain``, with every host setting at its documented default."""
    providers = json.dumps(chain)
    tables = "\n".join(
        f"[providers.{name}]\n# deadline_s = 10.0    # this provider's deadline; its own settings follow\n"
        for name in chain
    )
    return f"""# tradepay configuration. Every key is documented in docs/configuration.md.

[chain]
providers = {providers}    # tried in this order
deadline_s = 30.0              # the whole payment
provider_deadline_s = 10.0     # each provider call, unless [providers.NAME] deadline_s says otherwise
inquiry_attempts = 3           # inquiries (and cancels) of an ambiguous attempt
inquiry_interval_s = 1.0       # pause between inquiries

[host]
data_dir = ".tradepay"         # where providers keep their files (relative to this file)
provider_threads = 32          # threads for sync providers; a hung call holds one until it returns
cashier_url = "https://cashier.tradepay.invalid/pay"

{tables}
# Rule overrides come before the shipped defaults (see `tradepay explain`):
# [[rules]]
# provider = "card"
# result_code = "4000"
# detail = "DO_NOT_HONOR"
# decision = "stop"
"""


def write_config_file(target: Path, text: str) -> None:
    """Put ``text`` at ``target`` whole or not at all: written to a new file beside it, then renamed over it.

    Whatever was at ``target`` is replaced, not written through: a symbolic link is replaced by the new file
    and its target is left as it was. The file gets the mode a new file gets (``0o666`` less the umask). On a
    failure (a full disk, a folder that cannot be written) ``target`` is unchanged and ``OSError`` is raised,
    naming ``target`` when the system named no file.
    """
    staged = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(staged, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            staged.unlink()
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = os.fspath(target)  # a failed write() names no file: say which one
        raise
