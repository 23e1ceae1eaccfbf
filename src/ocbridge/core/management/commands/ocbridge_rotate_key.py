"""`ocbridge rotate-key`: add a new Fernet key, re-encrypt every secret under it, drop the old keys."""

from django.core.management.base import BaseCommand
from django.db import transaction

from ocbridge.core import secrets
from ocbridge.core.models import Connection, Store


class Command(BaseCommand):
    help = "Re-encrypt all stored secrets under a new key."

    def handle(self, *args, **opts):
        secrets.add_new_key()
        n = 0
        with transaction.atomic():
            for model in (Store, Connection):
                for obj in model.objects.all():  # read decrypts with any key; save encrypts with the newest
                    obj.save(update_fields=["secret"])
                    n += 1
        secrets.drop_old_keys()
        self.stdout.write(self.style.SUCCESS(f"re-encrypted {n} secret sets under a new key"))
