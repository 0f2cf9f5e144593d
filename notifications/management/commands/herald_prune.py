"""Retention: delete notifications older than N days (run it daily from cron or a timer)."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from notifications.services import notifications_prune


class Command(BaseCommand):
    help = "Delete notifications older than --days (replays of that range then answer replay_unavailable)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--days", type=float, required=True)

    def handle(self, *args, days: float, **options):  # type: ignore[no-untyped-def]
        if days < 0:
            raise CommandError("--days must be >= 0")
        deleted = notifications_prune(older_than=timedelta(days=days))
        self.stdout.write(f"pruned {deleted} notifications older than {days:g} days")
