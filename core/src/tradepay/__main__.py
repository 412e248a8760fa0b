"""``python -m tradepay``: the command line."""

from ._cli.main import main

main()
