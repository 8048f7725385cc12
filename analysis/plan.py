"""An analysis plan: the dispositions a call can end with, which of them are a success, the
success criterion in words, the fields to extract (a JSON schema), and who analyses. A campaign's
calls follow the campaign's plan; a single call follows its agent profile's;
`manage.py analyze_transcripts --plan` reads one from JSON."""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from campaigns.models import Campaign
from telephony.analysis_fields import fields_of, normalised_schema
from telephony.models import AgentProfile
from telephony.outcomes import DEFAULT_OUTCOMES, validate_outcomes

DEFAULT_SUCCESS = frozenset({"interested"})


@dataclass(frozen=True)
class Plan:
    dispositions: tuple[str, ...] = DEFAULT_OUTCOMES
    success_dispositions: frozenset[str] = DEFAULT_SUCCESS
    success_criterion: str = ""
    fields_schema: dict = field(default_factory=dict, hash=False, compare=False)
    analyzer: str = ""  # "" is the ANALYSIS_ANALYZER setting
    llm_analyses_per_hour: int | None = None  # None is the ANALYSIS_LLM_PER_HOUR setting

    @property
    def field_names(self) -> list[str]:
        return [spec.name for spec in fields_of(self.fields_schema)]

    @classmethod
    def of_campaign(cls, campaign: Campaign) -> "Plan":
        return cls(
            dispositions=tuple(campaign.outcomes or DEFAULT_OUTCOMES),
            success_dispositions=frozenset(campaign.success_outcomes or ()),
            success_criterion=campaign.success_criterion,
            fields_schema=campaign.analysis_fields or {},
            analyzer=campaign.analyzer,
            llm_analyses_per_hour=campaign.llm_analyses_per_hour,
        )

    @classmethod
    def of_agent(cls, profile: AgentProfile | None) -> "Plan":
        if profile is None:
            return cls()
        return cls(
            dispositions=tuple(profile.outcomes or DEFAULT_OUTCOMES),
            success_dispositions=frozenset(profile.success_outcomes or ()),
            success_criterion=profile.success_criterion,
            fields_schema=profile.analysis_fields or {},
        )

    @classmethod
    def from_json(cls, data) -> "Plan":
        """{dispositions?, success_dispositions?, success_criterion?, fields?} with `fields` the
        JSON schema a campaign stores; what is wrong is said (ValueError)."""
        if not isinstance(data, dict):
            raise ValueError("plan: a JSON object")
        dispositions = data.get("dispositions") or list(DEFAULT_OUTCOMES)
        success = data.get("success_dispositions")
        if success is None:
            success = [name for name in dispositions if name in DEFAULT_SUCCESS]
        try:
            validate_outcomes(dispositions)
            validate_outcomes(success)
            schema = normalised_schema(data.get("fields") or {})
        except ValidationError as error:
            raise ValueError(f"plan: {' '.join(error.messages)}") from None
        if not set(success) <= set(dispositions):
            raise ValueError("plan: 'success_dispositions' must be among 'dispositions'")
        criterion = data.get("success_criterion") or ""
        if not isinstance(criterion, str):
            raise ValueError("plan: 'success_criterion' is text")
        return cls(tuple(dispositions), frozenset(success), criterion, schema)
