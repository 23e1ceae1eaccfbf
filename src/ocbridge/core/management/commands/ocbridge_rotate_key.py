"""`ocbridge rotate-key`: add a new Fernet key, re-encrypt every secret under it, drop the old keys."""

from django.core.management.base import BaseCommand
from django.db import transaction

from ocbridge.core import secrets
from ocbridge.core.models import Connection, Store, TwoFactor


class Command(BaseCommand):
    help = "Re-encrypt all stored secrets under a new key."

    def handle(self, *args, **opts):
        from django.conf import settings

        from_env = bool(settings.FERNET_KEYS_ENV)
        if not from_env:
            secrets.add_new_key()  # with OCBRIDGE_FERNET_KEYS the operator has put the new key first already
        secrets.reset_cache()
        n = 0
        with transaction.atomic():
            for model in (Store, Connection, TwoFactor):
                for obj in model.objects.all():  # read decrypts with any key; save encrypts with the newest
                    obj.save(update_fields=["secret"])
                    n += 1
        if from_env:
            self.stdout.write(self.style.SUCCESS(f"re-encrypted {n} secret sets under the first key of "
                                                 "OCBRIDGE_FERNET_KEYS; remove the old keys from it now"))
            return
        secrets.drop_old_keys()
        self.stdout.write(self.style.SUCCESS(f"re-encrypted {n} secret sets under a new key"))
