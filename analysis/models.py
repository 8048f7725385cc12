from django.db import models
from django.utils import timezone

from telephony.models import Call


class CallAnalysis(models.Model):
    """What a call's conversation achieved: one per call, replaced when it is analysed again."""

    call = models.OneToOneField(Call, on_delete=models.CASCADE, related_name="analysis")
    disposition = models.CharField(max_length=40, db_index=True)
    disposition_source = models.CharField(
        max_length=12, help_text="analyzer, or agent: the agent recorded the outcome in the call."
    )
    summary = models.TextField(blank=True)
    fields = models.JSONField(default=dict, blank=True, help_text="The plan's extracted fields.")
    success = models.BooleanField(default=False)
    success_reason = models.CharField(max_length=300, blank=True)
    opt_out = models.BooleanField(default=False)
    callback_at = models.DateTimeField(null=True, blank=True)
    reasons = models.JSONField(default=list, blank=True, help_text="Why: what the rules found.")
    analyzer = models.CharField(max_length=20)
    latency_ms = models.PositiveIntegerField(default=0)
    token_usage = models.JSONField(null=True, blank=True, help_text="When an LLM analysed it.")
    effects = models.JSONField(default=list, blank=True, help_text="What the analysis did.")
    analyzed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "call analyses"
        ordering = ["-analyzed_at"]

    def __str__(self) -> str:
        return f"{self.disposition} ({self.call_id})"
