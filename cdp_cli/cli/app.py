"""The ``cdp`` command: joins the command groups. Heavy libraries load only inside commands."""

from __future__ import annotations

from typing import Annotated

import typer

from cdp_cli import __version__
from cdp_cli.cli import audiences as audiences_cli
from cdp_cli.cli import collect as collect_cli
from cdp_cli.cli import events as events_cli
from cdp_cli.cli import plan as plan_cli
from cdp_cli.cli import privacy as privacy_cli
from cdp_cli.cli import profiles as profiles_cli
from cdp_cli.cli import rules as rules_cli
from cdp_cli.cli import run as run_cli
from cdp_cli.cli import samples as samples_cli
from cdp_cli.cli import traits as traits_cli
from cdp_cli.cli.common import state

app = typer.Typer(
    name="cdp",
    help="cdp: an offline customer-data-platform toolkit for Segment-spec event data.\n\n"
    "Tracking plans in git, event-log linting and replay, identity resolution, traits and audiences, a "
    "local collector and privacy requests: on files, no SaaS. Exit codes: 0 clean, 1 findings, 2 usage or "
    "input error.\n\n"
    "Example: cdp run samples/",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cdp {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit. Example: cdp --version"
        ),
    ] = False,
    traceback: Annotated[
        bool,
        typer.Option(
            "--traceback",
            help="On an error, show the Python traceback (for bug reports). "
            "Example: cdp --traceback plan validate plans/",
        ),
    ] = False,
) -> None:
    state.traceback = traceback


app.add_typer(plan_cli.app, name="plan")
app.add_typer(events_cli.app, name="events")
app.add_typer(profiles_cli.app, name="profiles")
app.add_typer(samples_cli.app, name="samples")
app.add_typer(traits_cli.app, name="traits")
app.add_typer(audiences_cli.app, name="audiences")
app.add_typer(privacy_cli.app, name="privacy")
app.command("rules")(rules_cli.rules)
app.command("run")(run_cli.run)
collect_cli.register(app)


def main() -> None:
    import logging
    import sys

    from cdp_cli.cli.common import LogHandler, install_signal_policy
    from cdp_cli.errors import Interrupted

    install_signal_policy()
    logging.getLogger("cdp").addHandler(LogHandler())
    logging.getLogger("cdp").setLevel(logging.INFO)
    try:
        app(prog_name="cdp")
    except Interrupted as e:  # before or after a command body (parsing options, importing)
        sys.exit(e.exit_code)
