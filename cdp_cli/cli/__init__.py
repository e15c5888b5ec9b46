"""The Typer command-line layer. Nothing outside this package imports typer."""
