from django.core.management.base import BaseCommand, CommandError

from contactcenter.encryption import UndecryptableSecret
from contactcenter.fields import encrypted_field_names, encrypted_models, reencrypt_rows


class Command(BaseCommand):
    help = (
        "Encrypt every stored secret again with the first key of FIELD_ENCRYPTION_KEYS (after "
        "a key rotation; also encrypts any plaintext left from before encryption). Safe to run "
        "any number of times; the old keys can be dropped once it has run."
    )

    def handle(self, *args, **options):
        for model in encrypted_models():
            try:
                written = reencrypt_rows(model)
            except UndecryptableSecret as error:
                raise CommandError(str(error)) from None
            fields = ", ".join(encrypted_field_names(model))
            self.stdout.write(f"{model._meta.label} ({fields}): {written} row(s) re-encrypted.")
        done = "Every stored secret is encrypted with the first key."
        self.stdout.write(self.style.SUCCESS(done))
