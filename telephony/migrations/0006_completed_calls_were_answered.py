"""Every completed call has an answer time (a completed call talked, so it was answered); 0007
adds the constraint that keeps it so. Rows from before: the answer time is Agora's earliest
ANSWERED report for the call when one was kept, else its end (no talk time made up); the
duration follows."""

from datetime import UTC, datetime

from django.db import migrations
from django.db.models import Min


def answer_completed_calls(apps, schema_editor):
    Call = apps.get_model("telephony", "Call")
    CallEvent = apps.get_model("telephony", "CallEvent")
    unanswered = Call.objects.filter(status="completed", answered_at__isnull=True)
    for call in unanswered.iterator():
        reported_ms = CallEvent.objects.filter(
            call_id=call.pk, agora_state="ANSWERED", report_ms__isnull=False
        ).aggregate(first=Min("report_ms"))["first"]
        ended = call.ended_at or call.last_update_at or call.created_at
        answered = datetime.fromtimestamp(reported_ms / 1000, tz=UTC) if reported_ms else ended
        if answered > ended:
            answered = ended
        duration = max(0, round((ended - answered).total_seconds()))
        Call.objects.filter(pk=call.pk).update(
            answered_at=answered, ended_at=ended, duration_seconds=duration
        )


class Migration(migrations.Migration):
    dependencies = [
        ("telephony", "0005_encrypt_secrets"),
    ]

    operations = [
        migrations.RunPython(answer_completed_calls, migrations.RunPython.noop, elidable=True),
    ]
