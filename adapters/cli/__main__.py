"""``python -m adapters.cli``: the mechbus command line."""

from adapters.cli import main

main()
