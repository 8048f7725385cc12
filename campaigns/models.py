from datetime import time

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from contactcenter.validators import validate_json_text
from telephony.analysis_fields import validate_analysis_fields
from telephony.callee_regions import RegionError, parse_region
from telephony.models import AgentProfile, Call, PhoneNumber, VoicemailPolicy
from telephony.outcomes import default_outcomes, default_success_outcomes, validate_outcomes
from telephony.rules import RULE_LABELS
from telephony.validators import validate_e164

WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]


def weekday_words(days) -> str:
    """Weekdays in words, runs joined: [0, 1, 2, 3, 4, 6] -> 'Mon-Fri, Sun'."""
    names, days, runs = dict(WEEKDAYS), sorted(set(days)), []
    for day in days:
        if runs and day == runs[-1][1] + 1:
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return ", ".join(
        names[first] if first == last else f"{names[first]}-{names[last]}" for first, last in runs
    )


def validate_region(value: str) -> None:
    try:
        parse_region(value)
    except RegionError as error:
        raise ValidationError(str(error), code="invalid_region") from None


class ContactList(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    # No index of its own: the unique (contact_list, phone) constraint serves lookups by list.
    contact_list = models.ForeignKey(
        ContactList, on_delete=models.CASCADE, related_name="contacts", db_index=False
    )
    phone = models.CharField(max_length=16, validators=[validate_e164])
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    timezone = models.CharField(
        max_length=64, blank=True, help_text="IANA time zone; overrides the number's own."
    )
    region = models.CharField(
        max_length=6,
        blank=True,
        validators=[validate_region],
        help_text="Country and state or province, such as US-TX: for the regional calling "
        "hours and public holidays. Empty: the number's (its area code's state or province).",
    )
    # Prior express consent to calls made with an artificial voice (an AI agent), as US
    # telemarketing rules ask: a campaign requiring it calls no one without it.
    consent = models.BooleanField(
        default=False,
        db_default=False,  # also for rows written in SQL (the CSV import's COPY)
        verbose_name="consent given",
        help_text="The contact gave prior express consent to be called by an AI agent.",
    )
    consent_at = models.DateTimeField(null=True, blank=True, help_text="When it was given.")
    consent_source = models.CharField(
        max_length=100,
        blank=True,
        default="",
        db_default="",
        help_text="Where it was given: a web form, a call, a CRM...",
    )
    consent_evidence = models.TextField(
        blank=True,
        default="",
        db_default="",
        help_text="What proves it (the form's wording, a recording's id...).",
    )
    consent_revoked_at = models.DateTimeField(
        null=True, blank=True, help_text="When an opt-out (do-not-call) revoked it."
    )
    variables = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_json_text],
        help_text="Every other CSV column, for the agent's templates.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["contact_list", "phone"], name="unique_phone_per_list")
        ]
        # Plain b-trees (a CharField's db_index adds a second, LIKE-only index that nothing
        # uses, and every index slows an import). By phone: adding a number to the do-not-call
        # list finds its contacts in every list.
        indexes = [
            models.Index(fields=["phone"], name="contact_phone"),
            models.Index(fields=["external_id"], name="contact_external_id"),
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name} ({self.phone})" if name else self.phone


class CsvImport(models.Model):
    """A CSV upload run by a worker (into a contact list, or the do-not-call list): its stored
    file, its progress while it runs, a per-row error report after."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    file_name = models.CharField(max_length=255)
    stored_path = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    rows_read = models.PositiveIntegerField(default=0)
    invalid = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="[{line, reason}], first 1000.")
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]


class ContactImport(CsvImport):
    """One CSV upload into a list."""

    contact_list = models.ForeignKey(ContactList, on_delete=models.CASCADE, related_name="imports")
    imported = models.PositiveIntegerField(default=0)
    merged = models.PositiveIntegerField(default=0, help_text="Rows repeating a number.")

    def __str__(self) -> str:
        return f"{self.file_name} into {self.contact_list}"


class DoNotCallImport(CsvImport):
    """One CSV upload into the do-not-call list."""

    added = models.PositiveIntegerField(default=0, help_text="Numbers put on the list.")
    existing = models.PositiveIntegerField(
        default=0, help_text="Numbers already on the list, or repeated in the file."
    )
    campaign_contacts_blocked = models.PositiveIntegerField(
        default=0, help_text="Waiting campaign contacts taken out of their campaigns."
    )

    class Meta(CsvImport.Meta):
        verbose_name = "do-not-call import"

    def __str__(self) -> str:
        return f"{self.file_name} into the do-not-call list"


class DoNotCall(models.Model):
    class Source(models.TextChoices):
        STAFF = "staff", "Staff"
        CSV = "csv", "CSV upload"
        API = "api", "API"
        CALL = "call", "Asked during a call"

    phone = models.CharField(max_length=16, unique=True, validators=[validate_e164])
    reason = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.STAFF)
    call = models.ForeignKey(
        "telephony.Call",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The call in which the callee asked not to be called.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "do-not-call entry"
        verbose_name_plural = "do-not-call list"

    def __str__(self) -> str:
        return self.phone


def monday_to_friday() -> list[int]:
    """A new campaign's weekdays, whoever creates it (admin, API, a duplicate)."""
    return [0, 1, 2, 3, 4]


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    class CallerIdStrategy(models.TextChoices):
        FIXED = "fixed", "One number"
        ROUND_ROBIN = "round_robin", "Rotate through the numbers"
        LOCAL_PRESENCE = "local_presence", "Local presence (same country and area code)"

    # What staff and CRMs set (the admin form and the API serializer both take these).
    SETTINGS_FIELDS = (
        "name", "agent_profile", "caller_id_strategy", "caller_ids", "contact_lists",
        "start_at", "end_at", "weekdays", "window_start", "window_end", "call_on_holidays",
        "require_consent",
        "max_concurrent_calls", "max_calls_per_minute", "max_attempts",
        "calls_per_number_24h", "calls_per_number_7d", "retry_delay_no_answer",
        "retry_delay_busy", "retry_delay_failed",
        "retry_delay_voicemail", "voicemail_policy", "voicemail_message",
        "max_callbacks", "outcomes", "success_outcomes", "success_criterion",
        "analysis_fields", "analyzer", "llm_analyses_per_hour", "pause_after_failures",
        "rotate_out_flagged_caller_ids",
    )  # fmt: skip
    # The analysis plan: what is read from a call once it has ended. It decides nothing about
    # who is called or when, so it may change in any status (later calls use the new plan).
    ANALYSIS_SETTINGS = frozenset(
        {"outcomes", "success_outcomes", "success_criterion", "analysis_fields", "analyzer",
         "llm_analyses_per_hour"}
    )  # fmt: skip

    class Analyzer(models.TextChoices):
        DEFAULT = "", "The default (ANALYSIS_ANALYZER)"
        BUILTIN = "builtin", "Built-in rules (no setup, offline)"
        LLM = "llm", "An LLM (the agent's, or ANALYSIS_LLM_URL)"

    name = models.CharField(
        max_length=200, help_text="For staff: shown in lists and reports, never to contacts."
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    agent_profile = models.ForeignKey(
        AgentProfile,
        on_delete=models.PROTECT,
        help_text="The AI agent that speaks on every call of this campaign.",
    )
    caller_ids = models.ManyToManyField(
        PhoneNumber,
        related_name="campaigns",
        help_text="Imported numbers the calls come from (outbound, synced with Agora).",
    )
    caller_id_strategy = models.CharField(
        max_length=20,
        choices=CallerIdStrategy.choices,
        default=CallerIdStrategy.FIXED,
        help_text="One number: always the first. Rotate: each call from the next number. Local "
        "presence: a number with the callee's country and area code when there is one.",
    )
    contact_lists = models.ManyToManyField(
        ContactList,
        related_name="campaigns",
        help_text="Everyone on these lists is called once the campaign starts.",
    )
    start_at = models.DateTimeField(
        null=True, blank=True, help_text="Empty: as soon as it is started."
    )
    end_at = models.DateTimeField(null=True, blank=True, help_text="No calls after this.")
    weekdays = models.JSONField(
        default=monday_to_friday,
        blank=True,
        help_text="Days calls may be made: 0 = Monday ... 6 = Sunday (default Monday-Friday).",
    )
    window_start = models.TimeField(
        default=time(9, 0), help_text="Earliest time, in each contact's local time."
    )
    window_end = models.TimeField(
        default=time(18, 0), help_text="Latest time (exclusive), in each contact's local time."
    )
    call_on_holidays = models.BooleanField(
        default=False,
        verbose_name="call on public holidays",
        help_text="Call on the public holidays of each contact's country, state or province too "
        "(the regional calling hours and company blackout dates still apply).",
    )
    require_consent = models.BooleanField(
        default=True,
        verbose_name="require prior express consent",
        help_text="Call only contacts with recorded consent to calls by an AI agent; the others "
        "end as 'no consent' (on for new campaigns).",
    )
    max_concurrent_calls = models.PositiveIntegerField(
        default=5,
        validators=[MinValueValidator(1)],
        help_text="Most live calls at once for this campaign (the account cap applies too).",
    )
    max_calls_per_minute = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(1)], help_text="New calls started per minute."
    )
    max_attempts = models.PositiveIntegerField(
        default=3,
        validators=[MinValueValidator(1)],
        help_text="Calls per contact at most, the first included.",
    )
    # Across everything (every campaign and single call to the number), not this campaign only.
    calls_per_number_24h = models.PositiveIntegerField(
        null=True,
        blank=True,
        verbose_name="calls per number in 24 hours",
        help_text="At most this many calls to one number in any 24 hours, counting every "
        "campaign's and single call; it can only narrow the account's limit "
        "(NUMBER_CALLS_PER_24H). Empty or 0: the account's.",
    )
    calls_per_number_7d = models.PositiveIntegerField(
        null=True,
        blank=True,
        verbose_name="calls per number in 7 days",
        help_text="The same over any 7 days, narrowing NUMBER_CALLS_PER_7D. Empty or 0: the "
        "account's.",
    )
    retry_delay_no_answer = models.PositiveIntegerField(
        default=3600, help_text="Seconds before calling again after no answer."
    )
    retry_delay_busy = models.PositiveIntegerField(default=600, help_text="Seconds, after busy.")
    retry_delay_failed = models.PositiveIntegerField(
        default=1800, help_text="Seconds, after a failed call."
    )
    retry_delay_voicemail = models.PositiveIntegerField(
        default=3600, help_text="Seconds, after a voicemail box answered."
    )
    voicemail_policy = models.CharField(
        max_length=14,
        choices=VoicemailPolicy.choices,
        default=VoicemailPolicy.HANG_UP,
        help_text="When a voicemail box answers (detected from its greeting or by the agent).",
    )
    voicemail_message = models.TextField(
        blank=True,
        help_text="Spoken with leave_message, then the call is hung up. {{first_name}} etc. "
        "are filled per contact.",
    )
    max_callbacks = models.PositiveIntegerField(
        default=2,
        help_text="Callbacks per contact at most (asked for in a call or set by staff); they "
        "do not use up attempts.",
    )
    outcomes = models.JSONField(
        default=default_outcomes,
        blank=True,
        validators=[validate_outcomes],
        help_text="What a conversation can achieve: the outcomes the agent may record "
        "(short names such as interested, not_interested).",
    )
    success_outcomes = models.JSONField(
        default=default_success_outcomes,
        blank=True,
        validators=[validate_outcomes],
        help_text="The outcomes that count as a success (the success rate's numerator).",
    )
    success_criterion = models.TextField(
        blank=True,
        help_text='What success means, in words (for example "agreed to a demo this week"). '
        "The LLM analyzer judges each call by it; the built-in rules count the success "
        "outcomes.",
    )
    analysis_fields = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_analysis_fields],
        help_text="What to read from each conversation besides its outcome (stored as a JSON "
        "schema; every field may be empty).",
    )
    analyzer = models.CharField(
        max_length=10, choices=Analyzer.choices, default=Analyzer.DEFAULT, blank=True,
        help_text="Who analyses this campaign's ended calls.",
    )  # fmt: skip
    llm_analyses_per_hour = models.PositiveIntegerField(
        "LLM analyses per hour",
        null=True,
        blank=True,
        help_text="At most this many LLM analyses an hour for this campaign (empty: "
        "ANALYSIS_LLM_PER_HOUR); beyond it the built-in rules analyse.",
    )
    pause_after_failures = models.PositiveIntegerField(
        default=30,
        help_text="Pause the campaign by itself when this many of its calls fail with none "
        "answered in between (within an hour): Agora refusing calls, a broken trunk, caller ID "
        "or agent. 0: never.",
    )
    paused_reason = models.CharField(
        max_length=300, blank=True, editable=False,
        help_text="Why the campaign paused itself (empty when staff paused it).",
    )  # fmt: skip
    rotate_out_flagged_caller_ids = models.BooleanField(
        "take flagged caller IDs out of rotation",
        default=False,
        help_text="A caller ID answered far less often than the campaign's others over 7 days "
        "(likely shown as spam) is removed from the campaign, keeping at least one; CRMs hear "
        "campaign.caller_id_removed.",
    )
    caller_id_note = models.CharField(
        max_length=300, blank=True, editable=False,
        help_text="The last caller ID taken out of rotation, and why.",
    )  # fmt: skip
    # Failures before this instant do not count (the campaign was resumed after them).
    failures_counted_from = models.DateTimeField(null=True, blank=True, editable=False)
    round_robin_position = models.PositiveIntegerField(default=0, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_dispatch_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class CampaignContact(models.Model):
    """One contact's progress through one campaign."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        IN_PROGRESS = "in_progress", "In progress"
        RETRY_SCHEDULED = "retry_scheduled", "Retry scheduled"
        CALLBACK_SCHEDULED = "callback_scheduled", "Callback scheduled"
        COMPLETED = "completed", "Completed"
        EXHAUSTED = "exhausted", "Attempts exhausted"
        DO_NOT_CALL = "do_not_call", "Do not call"
        NO_CONSENT = "no_consent", "No consent"
        INVALID = "invalid", "Invalid"
        CANCELLED = "cancelled", "Cancelled"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="contacts")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="campaign_entries")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    callbacks = models.PositiveIntegerField(
        default=0, help_text="Callbacks scheduled (they do not use up attempts)."
    )
    callback_at = models.DateTimeField(
        null=True, blank=True, help_text="When the contact asked to be called back."
    )
    last_outcome = models.CharField(max_length=12, blank=True)
    last_call = models.ForeignKey(Call, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")  # fmt: skip
    note = models.CharField(max_length=300, blank=True)
    held_by = models.CharField(
        max_length=20,
        blank=True,
        choices=list(RULE_LABELS.items()),
        verbose_name="held back by",
        help_text="The dialing rule that last kept this contact from being called (empty: none "
        "since its last call).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "contact"], name="unique_contact_per_campaign"
            )
        ]
        indexes = [
            models.Index(fields=["campaign", "status", "next_attempt_at", "id"]),
            # The dispatcher's claim: the waiting contacts, already in the order it takes them
            # (the index above would make it sort every waiting contact of a big campaign).
            models.Index(
                fields=["campaign", "next_attempt_at", "id"],
                name="campaign_contact_due",
                condition=models.Q(status__in=["pending", "retry_scheduled", "callback_scheduled"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact} in {self.campaign}"


class CampaignAttempt(models.Model):
    """A call made for a campaign contact: links the two, one row per attempt."""

    campaign_contact = models.ForeignKey(
        CampaignContact, on_delete=models.CASCADE, related_name="attempt_log"
    )
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="attempts")
    call = models.OneToOneField(Call, on_delete=models.CASCADE, related_name="campaign_attempt")
    number = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"attempt {self.number} for {self.campaign_contact}"


def every_day() -> list[int]:
    return [0, 1, 2, 3, 4, 5, 6]


class CallingHoursRule(models.Model):
    """A regional rule narrowing every call's hours in the callee's local time (a state's
    telemarketing hours, no calls on Sundays there): it applies on its weekdays to callees in
    its country, or in its state or province only. Rules that overlap all apply (the narrowest
    hours win); none can widen a campaign's window or the guard."""

    country = models.CharField(max_length=2, help_text="ISO country code, such as US or CA.")
    region = models.CharField(
        max_length=3,
        blank=True,
        verbose_name="state or province",
        help_text="Its code, such as TX or ON. Empty: the whole country.",
    )
    weekdays = models.JSONField(
        default=every_day, help_text="Days it applies: 0 = Monday ... 6 = Sunday."
    )
    no_calls = models.BooleanField(
        default=False, help_text="No calls at all on these days (the hours below are ignored)."
    )
    start = models.TimeField(null=True, blank=True, help_text="Earliest local time.")
    end = models.TimeField(null=True, blank=True, help_text="Latest local time (exclusive).")
    source = models.CharField(
        max_length=200, blank=True, help_text="The law or policy it comes from, for the audit."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["country", "region", "id"]
        verbose_name = "regional calling-hours rule"

    def __str__(self) -> str:
        where = f"{self.country}-{self.region}" if self.region else self.country
        days = weekday_words(self.weekdays or [])
        hours = "no calls" if self.no_calls else f"{self.start:%H:%M}-{self.end:%H:%M}"
        return f"{where} {days}: {hours}"

    def clean(self) -> None:
        errors = {}
        self.country = self.country.strip().upper()
        self.region = self.region.strip().upper()
        try:
            parse_region(f"{self.country}-{self.region}" if self.region else self.country)
        except RegionError as error:
            errors["region" if self.region else "country"] = str(error)
        if (
            not isinstance(self.weekdays, list)
            or not self.weekdays
            or not all(isinstance(day, int) and 0 <= day <= 6 for day in self.weekdays)
        ):
            errors["weekdays"] = "Give at least one day, as numbers from 0 (Monday) to 6 (Sunday)."
        if not self.no_calls:
            if self.start is None or self.end is None:
                errors["start"] = "Give both times, or tick 'no calls'."
            elif self.start >= self.end:
                errors["end"] = "The latest time must be after the earliest."
        if errors:
            raise ValidationError(errors)


class BlackoutDate(models.Model):
    """Days the company makes no calls at all (a shutdown, a day of mourning), in each callee's
    local date; every campaign and single call obeys them."""

    first_day = models.DateField()
    last_day = models.DateField(
        null=True, blank=True, help_text="Empty: the first day only. Included."
    )
    reason = models.CharField(max_length=200, help_text="Shown wherever a call is held back.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["first_day"]

    def __str__(self) -> str:
        if self.last_day and self.last_day != self.first_day:
            return f"{self.first_day}-{self.last_day}: {self.reason}"
        return f"{self.first_day}: {self.reason}"

    def clean(self) -> None:
        if self.last_day and self.first_day and self.last_day < self.first_day:
            raise ValidationError({"last_day": "The last day cannot come before the first."})
