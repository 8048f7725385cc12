"""Contact lists and contacts. A list is filled by CSV imports run by a worker
(`campaigns.services.contacts`); its page shows each import's progress, updated live. Lists and
contacts are deleted through `contact_list_delete` and `contact_delete`, as in the API."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_GET

from campaigns.admin.imports import (
    import_progress,
    import_rows,
    import_status_badge,
    rejected_rows_response,
)
from campaigns.models import CampaignAttempt, Contact, ContactImport, ContactList
from campaigns.services.contacts import (
    canonical_zone,
    contact_delete,
    contact_delete_refusals,
    contact_import_start,
    contact_list_delete,
    contact_list_delete_refusals,
    contacts_reopen_consented,
)
from contactcenter.admin_display import (
    NOT_KNOWN,
    BadgeKind,
    call_status_badge,
    format_duration,
    status_badge,
)
from contactcenter.forms import BoundedJSONField
from telephony.admin.search import PhoneNumberSearchMixin
from telephony.callee_regions import RegionError, parse_region
from telephony.validators import normalize_phone_number

IMPORTS_SHOWN = 10  # on a list's page, the latest imports
IMPORT_COLUMNS = (
    ("rows_read", "Rows read"), ("imported", "Imported"), ("merged", "Merged"),
    ("invalid", "Invalid"),
)  # fmt: skip


class ContactImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8 text, comma or semicolon separated, the column names on the first line.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv"}),
    )


class DeleteThroughServiceMixin:
    """Deleting goes through the app's delete service, which decides whether it may happen; a
    refusal is said in the service's words (those of the API's 400), not as Django's "your
    account doesn't have permission" about the campaign rows the deletion would cascade to."""

    def delete_refusals(self, obj) -> list[str]:
        raise NotImplementedError

    def delete_through_service(self, obj) -> None:
        raise NotImplementedError

    def delete_view(self, request: HttpRequest, object_id: str, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and self.has_delete_permission(request, obj):
            reasons = self.delete_refusals(obj)
            if reasons:
                return self._refused(request, obj, reasons)
        try:
            return super().delete_view(request, object_id, extra_context)
        except ValidationError as error:  # refused since the check above (checked under lock)
            return self._refused(request, obj, error.messages)

    def get_deleted_objects(self, objs, request: HttpRequest):
        """The bulk "delete selected" confirmation lists the refusals; nothing is deleted."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        reasons = [reason for obj in objs for reason in self.delete_refusals(obj)]
        if reasons:
            return deleted, counts, set(), [*protected, *reasons]
        return deleted, counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj) -> None:
        self.delete_through_service(obj)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        for obj in queryset:
            self.delete_through_service(obj)

    def _refused(self, request: HttpRequest, obj, reasons: list[str]) -> HttpResponse:
        messages.error(request, " ".join(reasons))
        opts = self.opts
        return HttpResponseRedirect(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[quote(obj.pk)])
        )


@admin.register(ContactList)
class ContactListAdmin(DeleteThroughServiceMixin, admin.ModelAdmin):
    list_display = ("name", "contact_count", "last_import", "created_at")
    search_fields = ("name",)
    date_hierarchy = "created_at"
    fields = ("name", "description")
    change_form_template = "admin/campaigns/contactlist/change_form.html"

    def get_queryset(self, request: HttpRequest):
        latest = ContactImport.objects.filter(contact_list=OuterRef("pk")).order_by(
            "-created_at", "-id"
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                contact_total=Count("contacts"),
                last_import_status=Subquery(latest.values("status")[:1]),
                last_import_invalid=Subquery(latest.values("invalid")[:1]),
                last_import_rows=Subquery(latest.values("rows_read")[:1]),
            )
        )

    def delete_refusals(self, obj: ContactList) -> list[str]:
        return contact_list_delete_refusals(obj)

    def delete_through_service(self, obj: ContactList) -> None:
        contact_list_delete(contact_list=obj)

    @admin.display(description="contacts", ordering="contact_total")
    def contact_count(self, contact_list: ContactList) -> str:
        url = reverse("admin:campaigns_contact_changelist")
        return format_html(
            '<a href="{}?contact_list__id__exact={}">{}</a>',
            url,
            contact_list.pk,
            contact_list.contact_total,
        )

    @admin.display(description="last import", ordering="last_import_status")
    def last_import(self, contact_list: ContactList) -> str:
        return import_status_badge(
            contact_list.last_import_status,
            invalid=contact_list.last_import_invalid or 0,
            rows_read=contact_list.last_import_rows or 0,
        )

    # -- the list's page: its imports, live ---------------------------------------------------

    def has_import_permission(self, request: HttpRequest, obj: ContactList | None = None) -> bool:
        return self.has_change_permission(request, obj)

    def change_view(self, request: HttpRequest, object_id: str, form_url="", extra_context=None):
        contact_list = self.get_object(request, unquote(object_id))
        extra: dict[str, Any] = {}
        if contact_list is not None:
            imports = contact_list.imports.order_by("-created_at", "-id")[:IMPORTS_SHOWN]
            can_import = self.has_import_permission(request, contact_list)
            extra = {
                "imports": import_rows(
                    imports,
                    IMPORT_COLUMNS,
                    lambda record: reverse(
                        "admin:campaigns_contactlist_import_progress",
                        args=[contact_list.pk, record.pk],
                    ),
                    lambda record: reverse(
                        "admin:campaigns_contactlist_import_rejected",
                        args=[contact_list.pk, record.pk],
                    ),
                ),
                "import_columns": IMPORT_COLUMNS,
                "contact_total": contact_list.contact_total,  # annotated by get_queryset
                "contacts_url": reverse("admin:campaigns_contact_changelist")
                + f"?contact_list__id__exact={contact_list.pk}",
                "can_import": can_import,
                "imports_empty_text": "No imports yet."
                + (' Use "Import CSV" to add contacts from a file.' if can_import else ""),
                "import_url": reverse("admin:campaigns_contactlist_import", args=[contact_list.pk]),
            }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/import/",
                self.admin_site.admin_view(self.import_view),
                name="{}_{}_import".format(*info),
            ),
            path(
                "<path:object_id>/imports/<int:import_id>/progress/",
                self.admin_site.admin_view(self.import_progress_view),
                name="{}_{}_import_progress".format(*info),
            ),
            path(
                "<path:object_id>/imports/<int:import_id>/rejected.csv",
                self.admin_site.admin_view(self.import_rejected_view),
                name="{}_{}_import_rejected".format(*info),
            ),
            *super().get_urls(),
        ]

    def _list_or_404(self, request: HttpRequest, object_id: str) -> ContactList:
        contact_list = self.get_object(request, unquote(object_id))
        if contact_list is None:
            raise Http404("No such contact list.")
        return contact_list

    def import_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Upload a CSV into the list (admin_view: staff only, CSRF-checked)."""
        if not self.has_import_permission(request):  # before the lookup: nothing leaks
            raise PermissionDenied
        contact_list = self._list_or_404(request, object_id)
        if not self.has_import_permission(request, contact_list):
            raise PermissionDenied
        change_url = reverse("admin:campaigns_contactlist_change", args=[contact_list.pk])
        if request.method == "POST":
            form = ContactImportForm(request.POST, request.FILES)
            if form.is_valid():
                upload = form.cleaned_data["file"]
                try:
                    record = contact_import_start(
                        contact_list=contact_list, uploaded_file=upload, file_name=upload.name
                    )
                except ValidationError as error:  # too large
                    form.add_error("file", error.messages)
                else:
                    messages.success(
                        request,
                        f"'{record.file_name}' is being imported into {contact_list}: its "
                        "progress shows below.",
                    )
                    return HttpResponseRedirect(f"{change_url}#contact-imports")
        else:
            form = ContactImportForm()
        context = {
            **self.admin_site.each_context(request),
            "title": f"Import contacts into {contact_list}",
            "opts": self.opts,
            "original": contact_list,
            "form": form,
            "change_url": change_url,
            "cancel_url": change_url,
            "form_id": "contact-import-form",
            "has_view_permission": self.has_view_permission(request, contact_list),
        }
        return TemplateResponse(request, "admin/campaigns/contactlist/import_form.html", context)

    @method_decorator(require_GET)
    def import_progress_view(
        self, request: HttpRequest, object_id: str, import_id: int
    ) -> JsonResponse:
        """The import's counters and first errors, polled by the list's page while it runs."""
        contact_list = self._list_or_404(request, object_id)
        if not self.has_view_permission(request, contact_list):
            raise PermissionDenied
        record = get_object_or_404(ContactImport, pk=import_id, contact_list=contact_list)
        return JsonResponse(
            import_progress(
                record,
                [name for name, _ in IMPORT_COLUMNS],
                contact_total=contact_list.contacts.count(),  # the page shows it: it grows
            ),
            headers={"Cache-Control": "no-store"},
        )

    @method_decorator(require_GET)
    def import_rejected_view(
        self, request: HttpRequest, object_id: str, import_id: int
    ) -> HttpResponse:
        """The rows an import rejected, as CSV."""
        contact_list = self._list_or_404(request, object_id)
        if not self.has_view_permission(request, contact_list):
            raise PermissionDenied
        record = get_object_or_404(ContactImport, pk=import_id, contact_list=contact_list)
        return rejected_rows_response(record)


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        field_classes = {"variables": BoundedJSONField}
        fields = (
            "contact_list",
            "phone",
            "first_name",
            "last_name",
            "external_id",
            "timezone",
            "region",
            "consent",
            "consent_at",
            "consent_source",
            "consent_evidence",
            "variables",
        )

    def clean_phone(self) -> str:
        return normalize_phone_number(self.cleaned_data.get("phone") or "")

    def clean_timezone(self) -> str:
        value = (self.cleaned_data.get("timezone") or "").strip()
        if not value:
            return ""
        zone = canonical_zone(value)
        if zone is None:
            raise ValidationError(
                f"'{value}' is not an IANA time zone name (e.g. America/New_York)."
            )
        return zone

    def clean_region(self) -> str:
        value = (self.cleaned_data.get("region") or "").strip()
        try:
            return parse_region(value).code if value else ""
        except RegionError as error:
            raise ValidationError(str(error)) from None


HISTORY = ("campaign_entries", "calls")


@admin.register(Contact)
class ContactAdmin(DeleteThroughServiceMixin, PhoneNumberSearchMixin, admin.ModelAdmin):
    form = ContactForm
    list_display = ("phone", "first_name", "last_name", "external_id", "contact_list")
    list_filter = ("contact_list",)
    search_fields = ("phone", "first_name", "last_name", "external_id")
    list_select_related = ("contact_list",)
    autocomplete_fields = ("contact_list",)
    readonly_fields = (
        "consent_revoked_at", "campaign_entries", "calls", "created_at", "updated_at",
    )  # fmt: skip
    list_per_page = 100
    show_full_result_count = False  # lists run to a million rows: no second COUNT(*)

    def save_model(self, request: HttpRequest, obj: Contact, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if obj.consent:  # held as "no consent" in a started campaign: called after all
            contacts_reopen_consented([obj.pk])

    def get_fields(self, request: HttpRequest, obj: Contact | None = None):
        fields = [name for name in super().get_fields(request, obj) if name not in HISTORY]
        return [*fields, *HISTORY] if obj is not None else fields

    @admin.display(description="campaigns")
    def campaign_entries(self, contact: Contact) -> str:
        """Each campaign the contact is in: how far it got there."""
        entries = contact.campaign_entries.select_related("campaign").order_by("-id")
        rows = [
            (
                reverse("admin:campaigns_campaign_change", args=[quote(entry.campaign_id)]),
                entry.campaign.name,
                status_badge(BadgeKind.CAMPAIGN_CONTACT, entry.status, entry.get_status_display()),
                entry.attempts,
                entry.last_outcome or NOT_KNOWN,
                entry.note or "",
            )
            for entry in entries
        ]
        if not rows:
            return "In no campaign yet."
        return format_html(
            '<table class="contact-history" id="contact-campaigns"><thead><tr><th>Campaign</th>'
            "<th>Status</th><th>Attempts</th><th>Last outcome</th><th>Note</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            format_html_join(
                "",
                '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
                rows,
            ),
        )

    @admin.display(description="calls")
    def calls(self, contact: Contact) -> str:
        """Every call made to the contact by a campaign, newest first."""
        attempts = (
            CampaignAttempt.objects.filter(campaign_contact__contact=contact)
            .select_related("call", "campaign")
            .order_by("-created_at")
        )
        rows = [
            (
                reverse("admin:telephony_call_change", args=[quote(attempt.call_id)]),
                f"{attempt.call.created_at:%Y-%m-%d %H:%M}",
                attempt.campaign.name,
                attempt.number,
                call_status_badge(attempt.call.status, attempt.call.get_status_display()),
                format_duration(attempt.call.duration_seconds) or NOT_KNOWN,
                attempt.call.end_reason or "",
            )
            for attempt in attempts
        ]
        if not rows:
            return "No call yet."
        return format_html(
            '<table class="contact-history" id="contact-calls"><thead><tr><th>Call (UTC)</th>'
            "<th>Campaign</th><th>Attempt</th><th>Status</th><th>Duration</th><th>Outcome</th>"
            "</tr></thead><tbody>{}</tbody></table>",
            format_html_join(
                "",
                '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
                "<td>{}</td></tr>",
                rows,
            ),
        )

    def delete_refusals(self, obj: Contact) -> list[str]:
        return contact_delete_refusals(obj)

    def delete_through_service(self, obj: Contact) -> None:
        contact_delete(contact=obj)
