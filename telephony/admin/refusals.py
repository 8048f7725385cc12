"""Single calls the dialing rules refused when asked for: who asked, for which number, the rule
and its reason. Read-only: the log is append-only (the compliance log exports it too)."""

from django.contrib import admin

from contactcenter.paginators import LargeTablePaginator
from telephony.models import RefusedCall
from telephony.rules import RULE_LABELS


class RuleFilter(admin.SimpleListFilter):
    title = "rule"
    parameter_name = "rule"

    def lookups(self, request, model_admin):
        return [(rule.value, label) for rule, label in RULE_LABELS.items()]

    def queryset(self, request, queryset):
        return queryset.filter(rule=self.value()) if self.value() else queryset


@admin.register(RefusedCall)
class RefusedCallAdmin(admin.ModelAdmin):
    # Where it came from and when it would be allowed are on the entry's page (and filters):
    # the reason needs the width.
    list_display = ("refused_at", "to_number", "rule_label", "message", "requested_by")
    list_filter = (RuleFilter, "source", ("refused_at", admin.DateFieldListFilter))
    search_fields = ("to_number", "requested_by")
    paginator = LargeTablePaginator
    show_full_result_count = False
    list_per_page = 100
    readonly_fields = (
        "refused_at", "to_number", "callee_timezone", "callee_region", "scheduled_for",
        "caller_id", "agent_profile", "source", "requested_by", "rule_label", "message",
        "allowed_at",
    )  # fmt: skip
    exclude = ("rule",)

    def has_add_permission(self, request):
        return False  # written only by call_create, when the rules refuse a call

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # an audit log: retention, not staff, removes entries

    @admin.display(description="rule", ordering="rule")
    def rule_label(self, refused: RefusedCall) -> str:
        return RULE_LABELS.get(refused.rule, refused.rule)
