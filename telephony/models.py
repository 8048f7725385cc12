import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from uuid6 import uuid7

from contactcenter.fields import EncryptedCharField, SecretValuesJSONField
from contactcenter.validators import validate_json_text
from telephony.agora.webhooks import EventType
from telephony.analysis_fields import validate_analysis_fields
from telephony.outcomes import default_outcomes, default_success_outcomes, validate_outcomes
from telephony.states import CallStatus
from telephony.validators import validate_cidr_list, validate_e164


class PhoneNumber(models.Model):
    """A number imported into Agora (bring-your-own SIP trunk or Twilio) for calling."""

    class Provider(models.TextChoices):
        BYO = "byo", "Bring your own (SIP trunk)"
        TWILIO = "twilio", "Twilio (Elastic SIP Trunk)"

    class Transport(models.TextChoices):
        TLS = "tls", "TLS"
        TCP = "tcp", "TCP"
        UDP = "udp", "UDP"

    class SyncState(models.TextChoices):
        PENDING = "pending", "Pending"
        SYNCED = "synced", "Synced"
        ERROR = "error", "Error"
        MISSING = "missing_remotely", "Missing in Agora"
        DELETING = "deleting", "Deleting"

    class Origin(models.TextChoices):
        LOCAL = "local", "Created here"
        AGORA = "agora", "Imported from Agora"

    e164 = models.CharField(
        "phone number",
        max_length=16,
        unique=True,
        validators=[validate_e164],
        help_text="E.164, e.g. +14155550100. National numbers use the default region.",
    )
    label = models.CharField(max_length=100)
    provider = models.CharField(max_length=10, choices=Provider.choices, default=Provider.BYO)
    # Outbound only until staff choose otherwise: taking calls needs an answering agent.
    inbound = models.BooleanField("inbound calls", default=False)
    outbound = models.BooleanField("outbound calls", default=True)
    inbound_allowed_addresses = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_cidr_list],
        help_text="IP addresses or CIDR blocks allowed to send inbound SIP, e.g. 54.172.60.0/30.",
    )
    outbound_address = models.CharField(
        "outbound SIP address",
        max_length=255,
        blank=True,
        help_text="SIP host of the trunk (for Twilio: the trunk's termination URI).",
    )
    outbound_transport = models.CharField(
        max_length=3, choices=Transport.choices, default=Transport.TLS, blank=True
    )
    outbound_prefix = models.CharField(max_length=20, blank=True)
    outbound_user = models.CharField("outbound SIP user", max_length=100, blank=True)
    # Write-only: never shown or returned after entry (see the admin form and the API), and
    # stored encrypted.
    outbound_password = EncryptedCharField("outbound SIP password", max_length=255, blank=True)
    inbound_pipeline_id = models.CharField(
        max_length=100, blank=True, help_text="The AI Studio agent that answers inbound calls."
    )
    outbound_pipeline_id = models.CharField(max_length=100, blank=True)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.LOCAL)
    sync_state = models.CharField(
        max_length=20, choices=SyncState.choices, default=SyncState.PENDING, db_index=True
    )
    last_error = models.TextField(blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    # What Agora last reported, what we last pushed, and how they differ from the local row.
    remote_snapshot = models.JSONField(null=True, blank=True)
    pushed_config = models.JSONField(null=True, blank=True)
    differences = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["e164"]

    def __str__(self) -> str:
        return f"{self.e164} ({self.label})" if self.label else self.e164


def default_tool_instructions() -> str:
    from telephony.tools import DEFAULT_TOOL_INSTRUCTIONS

    return DEFAULT_TOOL_INSTRUCTIONS


class AgentProfile(models.Model):
    """Who answers: a published AI Studio pipeline, or a full agent configuration."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    pipeline_id = models.CharField(
        max_length=100,
        blank=True,
        help_text="A published AI Studio agent. Without it, properties must hold llm and tts.",
    )
    # Values under secret-looking keys (API keys, tokens) are stored encrypted.
    properties = SecretValuesJSONField(
        default=dict,
        blank=True,
        validators=[validate_json_text],
        help_text="Agent configuration as in Agora's /join properties (llm, tts, asr, ...).",
    )
    greeting_template = models.TextField(
        blank=True, help_text="First words of the agent. {{first_name}} etc. are filled per call."
    )
    system_prompt_template = models.TextField(
        blank=True, help_text="Instructions for the LLM, with {{variables}} filled per call."
    )
    tools_enabled = models.BooleanField(
        "in-call tools",
        default=True,
        help_text="Let the agent end the call, schedule a callback, record an opt-out or an "
        "outcome and read the contact during the call (needs PUBLIC_BASE_URL).",
    )
    tool_instructions = models.TextField(
        blank=True,
        default=default_tool_instructions,
        help_text="Appended to the system prompt when the tools are on: when to use each tool.",
    )
    # The analysis plan of the single calls it makes (a campaign's calls use the campaign's).
    outcomes = models.JSONField(
        default=default_outcomes,
        blank=True,
        validators=[validate_outcomes],
        help_text="What its single calls can achieve: the outcomes the agent may record and "
        "the analysis's dispositions.",
    )
    success_outcomes = models.JSONField(
        default=default_success_outcomes,
        blank=True,
        validators=[validate_outcomes],
        help_text="The outcomes that count as a success.",
    )
    analysis_fields = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_analysis_fields],
        help_text="What to read from each of its single calls (stored as a JSON schema).",
    )
    success_criterion = models.TextField(
        blank=True,
        help_text="What a successful single call achieves, in words (for the LLM analyzer).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from telephony.services.agents import agent_profile_check

        agent_profile_check(self)


class VoicemailPolicy(models.TextChoices):
    """What a call does when a voicemail box answers it."""

    HANG_UP = "hang_up", "Hang up"
    LEAVE_MESSAGE = "leave_message", "Leave a message, then hang up"
    CONTINUE = "continue", "Carry on (the agent decides)"


def new_call_id() -> uuid.UUID:
    """A time-ordered id (UUIDv7: milliseconds, then 74 random bits): a new call's rows land at
    the end of the indexes keyed by it (its id, Agora name, channel; its events' call), which
    stay in memory, where random ids would touch a page anywhere in tables of millions."""
    return uuid.UUID(int=uuid7().int)


class Call(models.Model):
    class Direction(models.TextChoices):
        OUTBOUND = "outbound", "Outbound"
        INBOUND = "inbound", "Inbound"

    id = models.UUIDField(primary_key=True, default=new_call_id, editable=False)
    direction = models.CharField(
        max_length=10, choices=Direction.choices, default=Direction.OUTBOUND
    )
    status = models.CharField(max_length=12, choices=CallStatus.choices, default=CallStatus.QUEUED)
    to_number = models.CharField(max_length=16)
    from_number = models.CharField(max_length=16)
    caller_id = models.ForeignKey(
        PhoneNumber, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    agent_profile = models.ForeignKey(
        AgentProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    # Both derived from our id, so a retried placement is recognised (409, found by channel).
    agora_name = models.CharField(max_length=64)
    channel = models.CharField(max_length=64)
    # NULL until placed: the unique constraint lets many unplaced calls share it ("" would not).
    agent_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    pipeline_id = models.CharField(max_length=100, blank=True)
    variables = models.JSONField(default=dict, blank=True, validators=[validate_json_text])
    labels = models.JSONField(default=dict, blank=True, validators=[validate_json_text])
    callee_timezone = models.CharField(
        max_length=64,
        blank=True,
        help_text="IANA time zone of the callee; empty: every zone of the number (the calling "
        "hours must hold in each).",
    )
    callee_region = models.CharField(
        max_length=6,
        blank=True,
        help_text="The callee's country and state or province (e.g. US-TX), for the regional "
        "calling hours and holidays; empty: the number's area code's.",
    )
    # What the dialing rules checked the call against when it was booked (region, local time,
    # that day's hours, holidays, call limits, overrides): the compliance log's "rules applied".
    rules_applied = models.JSONField(default=dict, blank=True, editable=False)
    # Staff holding `override_dialing_rules` may place one call past do-not-call and calling
    # hours (telephony.rules.OVERRIDABLE_RULES), with a reason; both are kept for audit.
    rules_override_reason = models.CharField(max_length=300, blank=True)
    rules_overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Set when the dialing rules stopped the call right before it was dialed (a Rule value).
    refused_by_rule = models.CharField(max_length=20, blank=True)
    outcome = models.CharField(
        max_length=40, blank=True, help_text="What the conversation achieved, as the agent said."
    )
    outcome_fields = models.JSONField(default=dict, blank=True)
    voicemail_policy = models.CharField(
        max_length=14, choices=VoicemailPolicy.choices, default=VoicemailPolicy.HANG_UP
    )
    voicemail_message = models.TextField(
        blank=True, help_text="Left with leave_message; {{variables}} are filled from the call's."
    )
    voicemail_detected_at = models.DateTimeField(null=True, blank=True)
    voicemail_detected_by = models.CharField(max_length=12, blank=True)
    end_reason = models.CharField(max_length=200, blank=True)
    agora_reason = models.CharField(max_length=40, blank=True)
    queued_at = models.DateTimeField(default=timezone.now)
    scheduled_for = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="Not placed before this (a later call)."
    )
    dialed_at = models.DateTimeField(null=True, blank=True)
    ringing_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    transcript = models.JSONField(default=list, blank=True)
    turn_metrics = models.JSONField(default=dict, blank=True)
    last_error = models.TextField(blank=True)
    # Placement bookkeeping: intent is recorded before the HTTP request is made.
    placement_attempts = models.PositiveIntegerField(default=0)
    placement_lease_until = models.DateTimeField(null=True, blank=True)
    hangup_requested_at = models.DateTimeField(null=True, blank=True)
    # Tracking: what Agora told us, and when to ask again.
    seen_states = models.JSONField(default=list, blank=True)
    last_report_ms = models.BigIntegerField(null=True, blank=True)
    last_update_at = models.DateTimeField(default=timezone.now)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    unchanged_polls = models.PositiveIntegerField(default=0)
    # Transcript snapshots while the call talks (Agora keeps the history only while it runs):
    # the next one is due then, after a gap that grows while nothing new is said.
    next_snapshot_at = models.DateTimeField(null=True, blank=True)
    snapshot_gap_seconds = models.PositiveIntegerField(default=0)
    # The next snapshot is due early, before Agora's history window (the newest llm.max_history
    # messages) would move past what is kept: polls, which carry it, come by then.
    snapshot_window_bound = models.BooleanField(default=False)
    agent_data_fetched_at = models.DateTimeField(null=True, blank=True)
    # Agora's end-of-call history arrived (its notification, or a fetch while the agent still
    # ran): the transcript will not grow, and the analysis need not wait for it.
    transcript_final_at = models.DateTimeField(null=True, blank=True)
    # A webhook said an unanswered call hung up; it ends once late events have had time to
    # arrive (webhooks can come out of order: a late CALLING or RINGING changes the outcome).
    end_pending_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        # A call's row is written at every step of its life: it keeps only the indexes a query
        # needs (by status, with the poll schedule; by number; unique names), none LIKE-only.
        indexes = [
            models.Index(fields=["status", "next_poll_at"]),
            models.Index(fields=["to_number"], name="call_to_number"),
            models.Index(fields=["from_number"], name="call_from_number"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["agora_name"], name="call_agora_name_once"),
            models.UniqueConstraint(fields=["channel"], name="call_channel_once"),
            models.UniqueConstraint(fields=["agent_id"], name="call_agent_id_once"),
            # A completed call talked, so it was answered (the console's answer rate counts it).
            models.CheckConstraint(
                condition=~models.Q(status=CallStatus.COMPLETED)
                | models.Q(answered_at__isnull=False),
                name="call_completed_was_answered",
            ),
        ]
        permissions = [
            (
                "override_dialing_rules",
                "Can place a call past do-not-call and calling hours (audited)",
            ),
            (
                "control_call",
                "Can make a live call's agent speak, follow an instruction or stop (supervisor)",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.direction} call to {self.to_number} ({self.get_status_display()})"

    @property
    def is_terminal(self) -> bool:
        from telephony.states import TERMINAL_STATUSES

        return self.status in TERMINAL_STATUSES

    @property
    def overridden_rules(self) -> frozenset:
        from telephony.rules import OVERRIDABLE_RULES

        return OVERRIDABLE_RULES if self.rules_override_reason else frozenset()


class CallEvent(models.Model):
    """Every status change and every raw signal about a call, for audit."""

    class Source(models.TextChoices):
        API = "api", "Agora API answer"
        POLL = "poll", "Status poll"
        WEBHOOK = "webhook", "Agora webhook"
        STAFF = "staff", "Staff"
        SYSTEM = "system", "System"
        AGENT = "agent", "AI agent (in-call tool)"

    class Kind(models.TextChoices):
        STATUS = "status", "Status change"
        SIGNAL = "signal", "Signal from Agora"
        ERROR = "error", "Error"
        NOTE = "note", "Note"
        TOOL = "tool", "Tool call"

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="events")
    source = models.CharField(max_length=10, choices=Source.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12, blank=True)
    agora_state = models.CharField(max_length=20, blank=True)
    report_ms = models.BigIntegerField(null=True, blank=True)
    detail = models.CharField(max_length=500, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        change = f"{self.from_status} -> {self.to_status}" if self.to_status else self.agora_state
        return f"{self.get_source_display()}: {change or self.detail}"


class RefusedCall(models.Model):
    """A single call the dialing rules refused when it was asked for (API, admin, command,
    retry): nothing else is stored for it, so this log says who asked, for which number, and
    which rule said no. Append-only: written after the refused transaction rolled back.

    Campaign contacts keep what held them back on themselves (`CampaignContact.held_by`);
    calls refused right before dialing keep it on the call (`Call.refused_by_rule`)."""

    class Source(models.TextChoices):  # CallEvent.Source's values, as who asks reads them
        API = "api", "REST API"
        STAFF = "staff", "Staff (admin or command)"
        SYSTEM = "system", "System"
        AGENT = "agent", "AI agent (in-call tool)"

    refused_at = models.DateTimeField(default=timezone.now, db_index=True)
    to_number = models.CharField(max_length=16)
    callee_timezone = models.CharField(max_length=64, blank=True)
    callee_region = models.CharField(max_length=10, blank=True)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    caller_id = models.CharField("caller ID", max_length=16, blank=True)  # E.164: outlives the row
    agent_profile = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    requested_by = models.CharField(max_length=150, blank=True)
    rule = models.CharField(max_length=20)
    message = models.CharField(max_length=500)
    allowed_at = models.DateTimeField("allowed from", null=True, blank=True)

    class Meta:
        ordering = ["-refused_at", "-id"]
        indexes = [models.Index(fields=["to_number"], name="refused_call_to_number")]

    def __str__(self) -> str:
        from telephony.rules import RULE_LABELS

        return f"call to {self.to_number} refused: {RULE_LABELS.get(self.rule, self.rule)}"


class CallToolCredential(models.Model):
    """The bearer credential one placement of a call gave its agent for the in-call tools.

    Only its SHA-256 is kept; a placement retried after a lost answer gets a new one, and each
    stays valid while the call is live and a short grace period after it ended."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="tool_credentials")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"tool credential for call {self.call_id}"


class WebhookEvent(models.Model):
    """One verified notification from Agora, stored once (unique noticeId), then processed."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSING = "processing", "Processing"
        PROCESSED = "processed", "Processed"
        UNMATCHED = "unmatched", "No matching call"
        IGNORED = "ignored", "Ignored (event type not handled)"
        FAILED = "failed", "Failed"

    notice_id = models.CharField(max_length=100)
    product_id = models.IntegerField(null=True, blank=True)
    # An EventType value, or another code Agora sent (kept, shown as "type <code>").
    event_type = models.IntegerField(null=True, blank=True)
    notify_ms = models.BigIntegerField(null=True, blank=True)
    sid = models.CharField(max_length=100, blank=True)
    agent_id = models.CharField(max_length=64, blank=True)
    body = models.JSONField(help_text="The notification as received (after its signature held).")
    signature_version = models.CharField(max_length=2, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    call = models.ForeignKey(
        Call, null=True, blank=True, on_delete=models.SET_NULL, related_name="webhook_events"
    )
    deliveries = models.PositiveIntegerField(default=1, help_text="Times Agora sent it.")
    attempts = models.PositiveIntegerField(default=0, help_text="Times we processed it.")
    last_error = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    # When a worker took it to process (status processing): another may take it after a lease.
    claimed_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        # Every index is written by each webhook received: only those a query needs (no
        # LIKE-only twins, none on low-selectivity columns).
        constraints = [models.UniqueConstraint(fields=["notice_id"], name="webhook_notice_once")]
        indexes = [
            models.Index(fields=["agent_id"], name="webhook_agent"),
            # The sweeper and the dashboard's backlog: the few events not processed yet.
            models.Index(
                fields=["received_at"],
                name="webhook_unprocessed",
                condition=models.Q(status__in=["received", "processing", "failed"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.notice_id} ({self.event_type_label})"

    @property
    def event_type_label(self) -> str:
        return EventType.label_of(self.event_type)
