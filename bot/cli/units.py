"""Unit codes on the command line are read whatever their case: `so_xd` is config.yml's SO_XD.

An operator typed `flask inquiries assign QN-2026-000123 so_xd` and got "unknown unit so_xd"
(a walkthrough): codes are identifiers chosen in config.yml, never two that differ only in
case, so the case carries nothing. A code that matches none is passed on as typed, and the
command refuses it with its usual message ("unknown unit …")."""
from __future__ import annotations

from typing import Optional, Union

import click
from flask.cli import ScriptInfo


def unit_code(ctx: click.Context, param: click.Parameter,
              value: Union[None, str, tuple]) -> Union[None, str, tuple]:
    """click callback for a unit code option or argument (one, or several with nargs=-1)."""
    if value is None:
        return None
    if isinstance(value, tuple):
        return tuple(unit_code(ctx, param, v) for v in value)
    return _canonical(ctx, value)


def _canonical(ctx: click.Context, value: str) -> str:
    settings = ctx.ensure_object(ScriptInfo).load_app().config["DDCI_SETTINGS"]
    codes = {u.code.casefold(): u.code for u in settings.config.units}
    found: Optional[str] = codes.get(value.strip().casefold())
    return found or value
