"""`python -m launcher`: the `devopness-server` command line."""

from launcher.cli import main

main()
