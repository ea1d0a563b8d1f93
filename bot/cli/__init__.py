"""Command line through Flask's CLI, one module per group: `flask db|nlu|deadline|inquiries|
routing|worker|scheduler|report|officers|users|devmail` here, and each channel's own (`flask
messenger`) from its plug-in."""
from __future__ import annotations

from flask import Flask

from bot.cli.db import db_cli
from bot.cli.deadline import deadline_cli
from bot.cli.inquiries import inquiries_cli
from bot.cli.routing import routing_cli
from bot.cli.nlu import nlu_cli
from bot.cli.officers import officers_cli
from bot.cli.reports import report_cli
from bot.cli.scheduler import scheduler_command
from bot.cli.users import users_cli
from bot.cli.worker import devmail_command, sender_command, worker_command


def init_app(app: Flask) -> None:
    for command in (nlu_cli, deadline_cli, inquiries_cli, db_cli, worker_command, sender_command, scheduler_command,
                    devmail_command, routing_cli, report_cli, officers_cli, users_cli):
        app.cli.add_command(command)
