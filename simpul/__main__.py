"""`python -m simpul` is the `simpul` command."""

from simpul.cli import main

main()
