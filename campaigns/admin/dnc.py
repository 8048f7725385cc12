"""The do-not-call list. Every write goes through `campaigns.services.dnc`: adding a number also
takes its waiting campaign contacts out of their campaigns."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from campaigns.models import DoNotCall
from campaigns.services.dnc import dnc_add, dnc_import_csv, dnc_remove
from telephony.admin.search import PhoneNumberSearchMixin
from telephony.validators import normalize_phone_number

ERRORS_IN_MESSAGE = 10


class DoNotCallForm(forms.ModelForm):
    class Meta:
        model = DoNotCall
        fields = ("phone", "reason")
        help_texts = {"phone": "E.164 (+14155550100) or a national number in the default region."}

    def clean_phone(self) -> str:
        return normalize_phone_number(self.cleaned_data.get("phone") or "")

    def validate_unique(self) -> None:
        """Adding a number already listed is not an error: dnc_add keeps the entry."""


class DoNotCallImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8 text with a 'phone' column and an optional 'reason' column.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv"}),
    )


@admin.register(DoNotCall)
class DoNotCallAdmin(PhoneNumberSearchMixin, admin.ModelAdmin):
    form = DoNotCallForm
    list_display = ("phone", "reason", "source", "created_at")
    list_filter = ("source",)
    date_hierarchy = "created_at"
    search_fields = ("phone",)
    list_per_page = 100
    change_list_template = "admin/campaigns/donotcall/change_list.html"

    def get_readonly_fields(self, request: HttpRequest, obj: DoNotCall | None = None):
        # A different number is a new entry: only the reason of an entry can change.
        return ("phone", "source", "created_at") if obj is not None else ()

    # -- writes go through the services -------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: DoNotCall, form, change: bool) -> None:
        if change:
            entry = dnc_add(phone=obj.phone, reason=form.cleaned_data.get("reason") or "")
        else:
            entry = dnc_add(
                phone=form.cleaned_data["phone"],
                reason=form.cleaned_data.get("reason") or "",
                source=DoNotCall.Source.STAFF,
            )
        obj.pk = entry.pk
        obj.phone = entry.phone
        obj.reason = entry.reason
        obj.source = entry.source
        obj.created_at = entry.created_at

    def delete_model(self, request: HttpRequest, obj: DoNotCall) -> None:
        dnc_remove(phone=obj.phone)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        for phone in queryset.values_list("phone", flat=True):
            dnc_remove(phone=phone)

    # -- CSV import ---------------------------------------------------------------------------

    def has_import_permission(self, request: HttpRequest) -> bool:
        return self.has_add_permission(request)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="{}_{}_import".format(*info),
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_import": self.has_import_permission(request),
            "import_url": reverse("admin:campaigns_donotcall_import"),
        }
        return super().changelist_view(request, extra_context)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a CSV of numbers; it runs inline (admin_view: staff only, CSRF-checked)."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        changelist_url = reverse("admin:campaigns_donotcall_changelist")
        if request.method == "POST":
            form = DoNotCallImportForm(request.POST, request.FILES)
            if form.is_valid():
                try:
                    result = dnc_import_csv(file=form.cleaned_data["file"])
                except ValidationError as error:
                    form.add_error("file", error.messages)
                else:
                    self._report(request, result)
                    return HttpResponseRedirect(changelist_url)
        else:
            form = DoNotCallImportForm()
        context = {
            **self.admin_site.each_context(request),
            "title": "Import numbers into the do-not-call list",
            "opts": self.opts,
            "form": form,
            "changelist_url": changelist_url,
            "cancel_url": changelist_url,
            "form_id": "dnc-import-form",
        }
        return TemplateResponse(request, "admin/campaigns/donotcall/import_form.html", context)

    def _report(self, request: HttpRequest, result: dict) -> None:
        messages.success(
            request,
            f"{result['rows_read']} rows read: {result['added']} numbers added, "
            f"{result['existing']} already on the list, {result['invalid']} invalid. "
            f"{result['campaign_contacts_blocked']} waiting campaign contacts were set to "
            "do-not-call.",
        )
        errors = result["errors"]
        if errors:
            shown = "; ".join(
                f"line {item['line']}: {item['reason']}" for item in errors[:ERRORS_IN_MESSAGE]
            )
            more = result["invalid"] - min(len(errors), ERRORS_IN_MESSAGE)
            messages.warning(
                request,
                f"Rows not imported: {shown}" + (f" (and {more} more)." if more else ""),
            )
