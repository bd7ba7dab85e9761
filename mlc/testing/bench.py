"""Shared plumbing of the scripts in benchmarks/: printing their tables."""

from __future__ import annotations


def print_wide(table, width: int = 220) -> None:
    """Print a rich table; in a file or CI log use ``width`` columns instead of squeezing to 80."""
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console = Console(width=width)
    console.print(table)
