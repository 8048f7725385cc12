import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = (
        "Create the first staff login with a random password, printed once. "
        "Does nothing when the user already exists."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@example.com")

    def handle(self, *args, username: str, email: str, **options):
        User = get_user_model()
        with transaction.atomic():
            if User.objects.filter(username=username).exists():
                self.stdout.write(
                    f"Staff login '{username}' already exists. Its password was printed when it "
                    f"was created; set a new one with: python manage.py changepassword {username}"
                )
                return
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser(username=username, email=email, password=password)
        banner = "=" * 60
        self.stdout.write(
            f"{banner}\nStaff login created (shown only this once):\n"
            f"  username: {username}\n  password: {password}\n{banner}"
        )
