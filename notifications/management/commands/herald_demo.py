"""Create the demo admin and demo channel printed by scripts/run (idempotent)."""

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand

from notifications import services
from notifications.models import Channel


class Command(BaseCommand):
    help = "Create a demo admin (admin/admin unless given) and a public 'general' channel."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default="admin")

    def handle(self, *args, username: str, password: str, **options):  # type: ignore[no-untyped-def]
        admin, created = User.objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.com"}
        )
        if created:
            admin.set_password(password)
            admin.save()
        channel = Channel.objects.filter(slug="general").first()
        if channel is None:
            channel = services.channel_create(
                owner=admin, slug="general", name="General", description="Announcements for everyone."
            )
            services.channel_subscribe(channel=channel, user=admin)
        self.stdout.write(f"demo admin: {username} ({'created' if created else 'exists'}); channel: general")
