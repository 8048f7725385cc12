"""The models and their migrations agree: moving a model to another module (the CRM webhook
models live in contactcenter/crm_webhooks/) must not change its app, table or fields."""

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_the_models_need_no_new_migration(capsys):
    try:
        call_command("makemigrations", "--check", "--dry-run", verbosity=1)
    except SystemExit:  # --check exits with 1 when a migration is missing
        pytest.fail(f"makemigrations found changes:\n{capsys.readouterr().out}", pytrace=False)
    assert "No changes detected" in capsys.readouterr().out
