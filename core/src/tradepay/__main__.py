"""``python -m tradepay``: the command line."""

from ._cli import main

main()
