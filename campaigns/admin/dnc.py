"""The do-not-call list. Every write goes through `campaigns.services.dnc`: adding a number also
takes its waiting campaign contacts out of their campaigns. CSV uploads are added by a worker;
the import page shows the latest ones with their progress, updated live."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_GET

from campaigns.admin.imports import import_progress, import_rows, rejected_rows_response
from campaigns.models import DoNotCall, DoNotCallImport
from campaigns.services.dnc import dnc_add, dnc_import_start, dnc_remove
from telephony.admin.search import PhoneNumberSearchMixin
from telephony.validators import normalize_phone_number

IMPORTS_SHOWN = 10  # on the import page, the latest imports
IMPORT_COLUMNS = (
    ("rows_read", "Rows read"), ("added", "Added"), ("existing", "Already listed"),
    ("invalid", "Invalid"), ("campaign_contacts_blocked", "Campaign contacts stopped"),
)  # fmt: skip


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

    @method_decorator(require_GET)
    def import_rejected_view(self, request: HttpRequest, import_id: int) -> HttpResponse:
        """The rows an import rejected, as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return rejected_rows_response(get_object_or_404(DoNotCallImport, pk=import_id))

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
            path(
                "imports/<int:import_id>/progress/",
                self.admin_site.admin_view(self.import_progress_view),
                name="{}_{}_import_progress".format(*info),
            ),
            path(
                "imports/<int:import_id>/rejected.csv",
                self.admin_site.admin_view(self.import_rejected_view),
                name="{}_{}_import_rejected".format(*info),
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
        """Upload a CSV of numbers; a worker adds them (admin_view: staff only, CSRF-checked)."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        import_url = reverse("admin:campaigns_donotcall_import")
        changelist_url = reverse("admin:campaigns_donotcall_changelist")
        if request.method == "POST":
            form = DoNotCallImportForm(request.POST, request.FILES)
            if form.is_valid():
                upload = form.cleaned_data["file"]
                try:
                    record = dnc_import_start(uploaded_file=upload, file_name=upload.name)
                except ValidationError as error:  # too large
                    form.add_error("file", error.messages)
                else:
                    messages.success(
                        request,
                        f"'{record.file_name}' is being added to the do-not-call list: its "
                        "progress shows below.",
                    )
                    return HttpResponseRedirect(f"{import_url}#dnc-imports")
        else:
            form = DoNotCallImportForm()
        imports = DoNotCallImport.objects.order_by("-created_at", "-id")[:IMPORTS_SHOWN]
        context = {
            **self.admin_site.each_context(request),
            "title": "Import numbers into the do-not-call list",
            "opts": self.opts,
            "form": form,
            "changelist_url": changelist_url,
            "cancel_url": changelist_url,
            "form_id": "dnc-import-form",
            "max_size": filesizeformat(settings.DNC_IMPORT_MAX_BYTES),
            "imports": import_rows(
                imports,
                IMPORT_COLUMNS,
                lambda record: reverse(
                    "admin:campaigns_donotcall_import_progress", args=[record.pk]
                ),
                lambda record: reverse(
                    "admin:campaigns_donotcall_import_rejected", args=[record.pk]
                ),
            ),
            "import_columns": IMPORT_COLUMNS,
            "imports_empty_text": "No imports yet.",
        }
        return TemplateResponse(request, "admin/campaigns/donotcall/import_form.html", context)

    @method_decorator(require_GET)
    def import_progress_view(self, request: HttpRequest, import_id: int) -> JsonResponse:
        """An import's counters and first errors, polled by the import page while it runs."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        record = get_object_or_404(DoNotCallImport, pk=import_id)
        return JsonResponse(
            import_progress(record, [name for name, _ in IMPORT_COLUMNS]),
            headers={"Cache-Control": "no-store"},
        )
