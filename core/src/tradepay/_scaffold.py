"""Files the command line writes: the starter configuration."""

from __future__ import annotations

import json

__all__ = ["starter_config"]


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
