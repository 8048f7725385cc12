"""Admin pages of the project's own rows: API keys and login lockouts. The CRM webhook pages are
in contactcenter.crm_webhooks.admin, registered from here."""

import functools

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse_lazy

from contactcenter.admin_display import NOT_KNOWN
from contactcenter.api.auth import scopes_missing_permissions
from contactcenter.crm_webhooks import admin as crm_webhooks_admin  # noqa: F401  (registers)
from contactcenter.models import ApiKey, ApiScope, api_scopes_ordered
from contactcenter.shown_once import ShownOnceMixin

admin.site.site_header = "Contact center"
admin.site.site_title = "Contact center"
admin.site.index_title = "Administration"
admin.site.empty_value_display = NOT_KNOWN
admin.site.site_url = reverse_lazy("console-dashboard")  # "View site": the staff's dashboard


class ApiKeyForm(forms.ModelForm):
    """Scopes are chosen by staff who could do in person what each scope allows: a key never
    gets more power than the staff member who gives it (narrowing is always allowed)."""

    scopes = forms.MultipleChoiceField(
        choices=ApiScope.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="What the key may do: every API route needs one of these. Choose only what "
        "the integration uses; you can give only what your own permissions allow.",
    )

    class Meta:
        model = ApiKey
        fields = ("name", "scopes")

    def __init__(self, *args, granted_by=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.granted_by = granted_by
        self.had = set(self.instance.scopes or []) if self.instance.pk else set()
        if granted_by is not None:
            offered = {
                scope
                for scope in ApiScope.values
                if scope in self.had or not scopes_missing_permissions(granted_by, [scope])
            }
            self.fields["scopes"].choices = [c for c in ApiScope.choices if c[0] in offered]

    def clean_scopes(self) -> list[str]:
        chosen = api_scopes_ordered(self.cleaned_data["scopes"])
        if self.granted_by is not None:
            added = [scope for scope in chosen if scope not in self.had]
            refused = scopes_missing_permissions(self.granted_by, added)
            if refused:
                raise ValidationError(
                    [
                        f"You cannot give {scope}: it needs {', '.join(lacking)}, which you "
                        "do not have."
                        for scope, lacking in refused.items()
                    ]
                )
        return chosen


@admin.register(ApiKey)
class ApiKeyAdmin(ShownOnceMixin, admin.ModelAdmin):
    """Keys for integrations. The key is shown once, when created; only its hash is kept."""

    form = ApiKeyForm
    shown_once_what = "API key"
    shown_once_usage = "Send it as the header  Authorization: Api-Key <key>  (or X-Api-Key)."

    list_display = ("name", "prefix", "scope_list", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke",)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return functools.partial(form, granted_by=request.user)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "scopes")
        # Staff who may only view see the scopes as text (the form field would show JSON).
        scopes = "scopes" if self.has_change_permission(request, obj) else "scope_list"
        return ("name", scopes, *self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "scope_list")

    @admin.display(description="scopes")
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes or []) or "none"

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name", "scopes"])
            return
        issued, key = ApiKey.issue(name=obj.name, scopes=obj.scopes, created_by=request.user)
        obj.pk = issued.pk
        obj.prefix = issued.prefix
        self.show_once(request, key)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the key's history stays

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke(self, request, queryset):
        for api_key in queryset:
            api_key.revoke()
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)


# -- login lockouts (django-axes) ---------------------------------------------------------------


if admin.site.is_registered(AccessAttempt):  # django-axes' own (AXES_ENABLE_ADMIN)
    admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class LoginAttemptAdmin(AccessAttemptAdmin):
    """django-axes' failed-login attempts and lockouts (deleting one unlocks it). Its clean-up
    action deletes rows: it needs the delete permission, as the admin's own delete does."""

    @admin.action(description="Clean up expired attempts", permissions=["delete"])
    def cleanup_expired_attempts(self, request, queryset):
        return super().cleanup_expired_attempts(request, queryset)
