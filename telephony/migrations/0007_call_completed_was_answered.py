from django.db import migrations, models


class Migration(migrations.Migration):
    """Its own migration (its own transaction): the rows are fixed by 0006 first."""

    dependencies = [
        ("telephony", "0006_completed_calls_were_answered"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="call",
            constraint=models.CheckConstraint(
                condition=~models.Q(status="completed") | models.Q(answered_at__isnull=False),
                name="call_completed_was_answered",
            ),
        ),
    ]
