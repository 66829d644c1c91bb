"""The `mailservice` command's entry point, kept free of imports.

The server's worker processes are started with multiprocessing's spawn method, which runs the parent's
main script again in each child before its task; that script imports only this module, so a child does
not import the whole command line (typer, the agent client) that it never uses.
"""

from __future__ import annotations


def main() -> None:
    from mailservice.cli.main import main as run_command

    run_command()
