"""Phone numbers: create, change and delete them here, then make Agora match (push), and see
where Agora differs (reconcile).

Rules kept here:
- each service is one transaction; HTTP is never made inside one (pushes and reconciles call
  Agora first, then record the result in a short transaction of their own);
- a change is saved with sync_state "pending" and a push is enqueued on commit;
- Agora's PATCH only binds the pipeline ids: any other change (label, provider, directions,
  allowed addresses, SIP settings) is pushed by DELETE then POST (re-import);
- `pushed_config` is what we last pushed, without the SIP password: a keyed fingerprint of it is
  kept instead, so a new password is noticed without the password being stored twice;
- SIP passwords never appear in `pushed_config`, `remote_snapshot`, `last_error` or messages.
"""

import contextlib
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from telephony.agora import (
    AgoraClient,
    AgoraError,
    Conflict,
    NotFound,
    PhoneNumberImport,
    PhoneNumberInfo,
)
from telephony.agora.redaction import REDACTED, redact, scrub
from telephony.clients import agora_client
from telephony.models import Call, PhoneNumber
from telephony.states import LIVE_STATUSES
from telephony.validators import normalize_phone_number, sip_address_problem

logger = logging.getLogger(__name__)

# Sent to Agora on import; a change to any of them needs DELETE then POST.
IMPORT_FIELDS = (
    "provider",
    "label",
    "inbound",
    "outbound",
    "inbound_allowed_addresses",
    "outbound_address",
    "outbound_transport",
    "outbound_prefix",
    "outbound_user",
)
# Changed in place with PATCH.
PIPELINE_FIELDS = ("inbound_pipeline_id", "outbound_pipeline_id")
# Write-only: an empty value in an update keeps the stored password.
SECRET_FIELDS = ("outbound_password",)
EDITABLE_FIELDS = frozenset({"e164", *IMPORT_FIELDS, *PIPELINE_FIELDS, *SECRET_FIELDS})

PASSWORD_FINGERPRINT = "outbound_password_fingerprint"  # noqa: S105 - a key name
# The password Agora holds is unknown (the number was imported elsewhere: Agora never returns it).
UNKNOWN_FINGERPRINT = "unknown"

# "user:password@host" in a SIP address.
_ADDRESS_PASSWORD = re.compile(r"^(?P<user>[^:@/]+):(?P<password>[^@/]+)@")

DeleteGuard = Callable[[PhoneNumber], str | None]
# Each guard returns why a number cannot be deleted, or None. Campaigns register theirs.
DELETE_GUARDS: list[DeleteGuard] = []


def register_delete_guard(func: DeleteGuard) -> DeleteGuard:
    """Add a guard consulted before any number is deleted (usable as a decorator)."""
    if func not in DELETE_GUARDS:
        DELETE_GUARDS.append(func)
    return func


# -- configuration as compared and pushed ----------------------------------------------------


def password_fingerprint(password: str) -> str:
    """A keyed hash (SECRET_KEY) of a SIP password: tells a change apart, reveals nothing."""
    if not password:
        return ""
    return salted_hmac(
        "telephony.PhoneNumber.outbound_password", password, algorithm="sha256"
    ).hexdigest()


def _addresses(value: Any) -> list[str]:
    if isinstance(value, str):
        value = re.split(r"[\s,;]+", value)
    return sorted({str(item).strip() for item in value or () if str(item).strip()})


def local_config(number: PhoneNumber) -> dict[str, Any]:
    """The number's settings as Agora should have them (no password: its fingerprint)."""
    config: dict[str, Any] = {field: getattr(number, field) for field in IMPORT_FIELDS}
    config["inbound_allowed_addresses"] = _addresses(number.inbound_allowed_addresses)
    config["outbound_transport"] = number.outbound_transport or ""
    config[PASSWORD_FINGERPRINT] = password_fingerprint(number.outbound_password)
    for field in PIPELINE_FIELDS:
        config[field] = getattr(number, field) or ""
    return config


def _import_changed(desired: dict[str, Any], pushed: dict[str, Any]) -> bool:
    if any(desired[field] != pushed.get(field) for field in IMPORT_FIELDS):
        return True
    pushed_fingerprint = pushed.get(PASSWORD_FINGERPRINT) or ""
    if pushed_fingerprint == UNKNOWN_FINGERPRINT:
        # Agora may hold a password we never saw: only a password entered here replaces it.
        return bool(desired[PASSWORD_FINGERPRINT])
    return desired[PASSWORD_FINGERPRINT] != pushed_fingerprint


def _pipelines_changed(desired: dict[str, Any], pushed: dict[str, Any]) -> dict[str, str | None]:
    """Pipeline ids to PATCH (None clears a side)."""
    return {
        field: desired[field] or None
        for field in PIPELINE_FIELDS
        if desired[field] != (pushed.get(field) or "")
    }


def has_unpushed_changes(number: PhoneNumber) -> bool:
    pushed = number.pushed_config
    if pushed is None:
        return True
    desired = local_config(number)
    return _import_changed(desired, pushed) or bool(_pipelines_changed(desired, pushed))


def _import_request(number: PhoneNumber) -> PhoneNumberImport:
    return PhoneNumberImport(
        provider=number.provider,
        phone_number=number.e164,
        label=number.label,
        inbound=number.inbound,
        outbound=number.outbound,
        inbound_allowed_addresses=_addresses(number.inbound_allowed_addresses),
        outbound_address=number.outbound_address or None,
        outbound_transport=number.outbound_transport or None,
        outbound_prefix=number.outbound_prefix or None,
        outbound_user=number.outbound_user or None,
        outbound_password=number.outbound_password or None,
    )


def _has(info: PhoneNumberInfo, key: str) -> bool:
    return key in info.raw


def _remote_pipelines(info: PhoneNumberInfo) -> tuple[str, str] | None:
    """(inbound, outbound) pipeline ids Agora reports, or None when it does not say per side."""
    if not (_has(info, "inbound_config") or _has(info, "outbound_config")):
        return None
    return (
        str((info.inbound_config or {}).get("pipeline_id") or ""),
        str((info.outbound_config or {}).get("pipeline_id") or ""),
    )


def _config_from_remote(info: PhoneNumberInfo, *, user: str = "") -> dict[str, Any]:
    """What Agora holds, in the shape of `local_config` (the password is never known)."""
    inbound_config = info.inbound_config or {}
    outbound_config = info.outbound_config or {}
    pipelines = _remote_pipelines(info)
    if pipelines is None:
        associated = info.associated_pipeline_id or ""
        pipelines = (associated, "") if info.inbound is not False else ("", associated)
    transport = str(outbound_config.get("transport") or "").lower()
    return {
        "provider": info.provider if info.provider in PhoneNumber.Provider.values else "byo",
        "label": (info.label or "")[:100],
        "inbound": info.inbound if info.inbound is not None else True,
        "outbound": info.outbound if info.outbound is not None else True,
        "inbound_allowed_addresses": _addresses(inbound_config.get("allowed_addresses")),
        "outbound_address": str(outbound_config.get("address") or "")[:255],
        "outbound_transport": transport if transport in PhoneNumber.Transport.values else "",
        "outbound_prefix": str(outbound_config.get("prefix") or "")[:20],
        "outbound_user": str(outbound_config.get("user") or user or "")[:100],
        PASSWORD_FINGERPRINT: UNKNOWN_FINGERPRINT,
        "inbound_pipeline_id": pipelines[0][:100],
        "outbound_pipeline_id": pipelines[1][:100],
    }


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(value) if value else "none"
    if value in (None, ""):
        return "none"
    return f"'{value}'"


def _mask_address(address: str) -> str:
    return _ADDRESS_PASSWORD.sub(lambda m: f"{m.group('user')}:{REDACTED}@", address or "")


def phone_number_differences(number: PhoneNumber, info: PhoneNumberInfo) -> list[str]:
    """How Agora's copy differs from the local row, as sentences staff can read."""
    pairs: list[tuple[str, Any, Any]] = [("label", number.label, info.label or "")]
    if info.provider is not None:
        pairs.append(("provider", number.provider, info.provider))
    if info.inbound is not None:
        pairs.append(("inbound calls", number.inbound, info.inbound))
    if info.outbound is not None:
        pairs.append(("outbound calls", number.outbound, info.outbound))
    pipelines = _remote_pipelines(info)
    if pipelines is not None:
        pairs.append(("inbound pipeline id", number.inbound_pipeline_id, pipelines[0]))
        pairs.append(("outbound pipeline id", number.outbound_pipeline_id, pipelines[1]))
    else:
        local = {number.inbound_pipeline_id, number.outbound_pipeline_id} - {""}
        remote = info.associated_pipeline_id or ""
        if (remote and remote not in local) or (not remote and local):
            pairs.append(("pipeline id", ", ".join(sorted(local)), remote))
    if _has(info, "inbound_config"):
        allowed = (info.inbound_config or {}).get("allowed_addresses")
        pairs.append(
            (
                "inbound allowed addresses",
                _addresses(number.inbound_allowed_addresses),
                _addresses(allowed),
            )
        )
    if _has(info, "outbound_config"):
        outbound_config = info.outbound_config or {}
        pairs += [
            (
                "outbound SIP address",
                _mask_address(number.outbound_address),
                str(outbound_config.get("address") or ""),
            ),
            (
                "outbound transport",
                number.outbound_transport or "",
                str(outbound_config.get("transport") or "").lower(),
            ),
            ("outbound prefix", number.outbound_prefix, str(outbound_config.get("prefix") or "")),
        ]
    return [
        f"{name}: here {_shown(here)}, in Agora {_shown(there)}"
        for name, here, there in pairs
        if (here or "") != (there or "") or (isinstance(here, bool) and here != there)
    ]


def _snapshot(info: PhoneNumberInfo) -> dict[str, Any]:
    # PhoneNumberInfo already drops passwords; redact() blanks any other credential-like key.
    return redact(info.raw)


def _safe_message(text: str, number: PhoneNumber) -> str:
    """An error message fit to store and show: no SIP password in any form."""
    text = scrub(str(text))
    secrets = [number.outbound_password]
    match = _ADDRESS_PASSWORD.match(number.outbound_address or "")
    if match:
        secrets.append(match.group("password"))
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text[:1000]


# -- validation -------------------------------------------------------------------------------


def phone_number_check(number: PhoneNumber) -> None:
    """Rules across fields that the model's own validation does not cover (raise by field)."""
    errors: dict[str, list[str]] = {}
    if number.outbound and not (number.outbound_address or "").strip():
        errors["outbound_address"] = [
            "Outbound calls need the SIP address of the trunk (for Twilio: the termination "
            "URI), or switch outbound calls off."
        ]
    if _ADDRESS_PASSWORD.match(number.outbound_address or ""):
        errors.setdefault("outbound_address", []).append(
            "Do not put credentials in the address (user:password@host): use the outbound SIP "
            "user and password fields."
        )
    elif (number.outbound_address or "").strip():
        problem = sip_address_problem(number.outbound_address)
        if problem:
            errors.setdefault("outbound_address", []).append(problem)
    if number.outbound_password and not number.outbound_user:
        errors["outbound_user"] = ["A SIP password needs a SIP user."]
    if errors:
        raise ValidationError(errors)


def phone_number_kept_password(*, stored: PhoneNumber, outbound_address: str) -> str:
    """The stored SIP password, kept when an update enters none: only for the trunk it was
    entered for. Another address needs the password typed again (keeping it would send it to
    a new host); no address at all leaves it nowhere to go, so it is dropped."""
    address = (outbound_address or "").strip()
    if not stored.outbound_password or address == (stored.outbound_address or "").strip():
        return stored.outbound_password
    if not address:
        return ""
    raise ValidationError(
        {
            "outbound_password": "The outbound SIP address changed, so the stored password is "
            "not sent there: enter the SIP password for the new address (or put the old "
            "address back)."
        }
    )


def _normalized_e164(value: str) -> str:
    try:
        return normalize_phone_number(value)
    except ValidationError as error:
        raise ValidationError({"e164": error.messages}) from None


def _validate_and_save(number: PhoneNumber, *, creating: bool, exclude: tuple = ()) -> None:
    duplicate = PhoneNumber.objects.filter(e164=number.e164)
    if not creating:
        duplicate = duplicate.exclude(pk=number.pk)
    if duplicate.exists():
        raise ValidationError({"e164": f"{number.e164} is already in the list of numbers."})
    errors: dict[str, list[str]] = {}
    try:
        number.full_clean(exclude=exclude)
    except ValidationError as error:
        errors.update(error.message_dict)
    try:
        phone_number_check(number)
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(field, []).extend(m for m in messages if m not in errors[field])
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            number.save()
    except IntegrityError:
        raise ValidationError(
            {"e164": f"{number.e164} is already in the list of numbers."}
        ) from None


def _enqueue_push(number_id: int) -> None:
    from telephony.tasks import push_phone_number

    push_phone_number.delay_on_commit(number_id)


# -- create, change, delete -------------------------------------------------------------------


@transaction.atomic
def phone_number_create(
    *,
    e164: str,
    label: str,
    provider: str = PhoneNumber.Provider.BYO,
    inbound: bool = True,
    outbound: bool = True,
    inbound_allowed_addresses: Iterable[str] | str = (),
    outbound_address: str = "",
    outbound_transport: str = PhoneNumber.Transport.TLS,
    outbound_prefix: str = "",
    outbound_user: str = "",
    outbound_password: str = "",
    inbound_pipeline_id: str = "",
    outbound_pipeline_id: str = "",
) -> PhoneNumber:
    """Add a number here; it is imported into Agora by a worker after this commits."""
    number = PhoneNumber(
        e164=_normalized_e164(e164),
        label=(label or "").strip(),
        provider=provider,
        inbound=inbound,
        outbound=outbound,
        inbound_allowed_addresses=_addresses(inbound_allowed_addresses),
        outbound_address=(outbound_address or "").strip(),
        outbound_transport=outbound_transport or "",
        outbound_prefix=(outbound_prefix or "").strip(),
        outbound_user=(outbound_user or "").strip(),
        outbound_password=outbound_password or "",
        inbound_pipeline_id=(inbound_pipeline_id or "").strip(),
        outbound_pipeline_id=(outbound_pipeline_id or "").strip(),
        origin=PhoneNumber.Origin.LOCAL,
        sync_state=PhoneNumber.SyncState.PENDING,
    )
    _validate_and_save(number, creating=True)
    _enqueue_push(number.pk)
    return number


@transaction.atomic
def phone_number_update(*, number: PhoneNumber, **changes: Any) -> PhoneNumber:
    """Change a number's settings; Agora is updated by a worker after this commits.

    An empty `outbound_password` keeps the stored one (the field is write-only), for the same
    `outbound_address` only (see `phone_number_kept_password`).
    """
    unknown = sorted(set(changes) - EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"phone_number_update: unknown fields: {', '.join(unknown)}")
    locked = PhoneNumber.objects.select_for_update().get(pk=number.pk)
    if locked.sync_state == PhoneNumber.SyncState.DELETING:
        raise ValidationError(f"{locked.e164} is being deleted and can no longer be changed.")
    stored_e164 = locked.e164
    if "e164" in changes:
        e164 = _normalized_e164(changes.pop("e164"))
        if e164 != locked.e164:
            if locked.pushed_config is not None:
                raise ValidationError(
                    {
                        "e164": "The number itself cannot change once it is in Agora: "
                        "add the new number and delete this one."
                    }
                )
            locked.e164 = e164
    if not changes.get("outbound_password"):
        changes["outbound_password"] = phone_number_kept_password(
            stored=locked,
            outbound_address=changes.get("outbound_address", locked.outbound_address),
        )
    if "inbound_allowed_addresses" in changes:
        changes["inbound_allowed_addresses"] = _addresses(changes["inbound_allowed_addresses"])
    for field, value in changes.items():
        if isinstance(value, str) and field not in SECRET_FIELDS:
            value = value.strip()
        setattr(locked, field, value)
    locked.sync_state = PhoneNumber.SyncState.PENDING
    # An unchanged number is not judged again (one adopted from Agora may be unusual).
    unchanged = ("e164",) if locked.e164 == stored_e164 else ()
    _validate_and_save(locked, creating=False, exclude=unchanged)
    _enqueue_push(locked.pk)
    return locked


def phone_number_delete_refusals(number: PhoneNumber) -> list[str]:
    """Why the number cannot be deleted now (empty: it can)."""
    reasons = []
    live = Call.objects.filter(caller_id=number, status__in=LIVE_STATUSES).count()
    if live:
        reasons.append(
            f"{number.e164} has {live} live call{'s' if live != 1 else ''}: "
            "wait until they end, or hang them up first."
        )
    for guard in DELETE_GUARDS:
        reason = guard(number)
        if reason:
            reasons.append(reason)
    return reasons


@transaction.atomic
def phone_number_delete(*, number: PhoneNumber) -> str:
    """Delete a number here and in Agora. Returns "deleted" (at once) or "deleting".

    A number that was never pushed is deleted at once; any other is marked "deleting" and a
    worker deletes it in Agora, then here.
    """
    locked = PhoneNumber.objects.select_for_update().filter(pk=number.pk).first()
    if locked is None:
        return "deleted"
    if locked.sync_state == PhoneNumber.SyncState.DELETING:
        return "deleting"
    reasons = phone_number_delete_refusals(locked)
    if reasons:
        raise ValidationError(reasons)
    if locked.pushed_config is None:
        locked.delete()
        return "deleted"
    locked.sync_state = PhoneNumber.SyncState.DELETING
    locked.last_error = ""
    locked.save(update_fields=["sync_state", "last_error", "updated_at"])
    _enqueue_push(locked.pk)
    return "deleting"


@transaction.atomic
def phone_number_request_push(*, number: PhoneNumber) -> PhoneNumber:
    """Push the number to Agora again (after an error, or when it is missing there)."""
    locked = PhoneNumber.objects.select_for_update().get(pk=number.pk)
    if locked.sync_state != PhoneNumber.SyncState.DELETING:
        locked.sync_state = PhoneNumber.SyncState.PENDING
        locked.save(update_fields=["sync_state", "updated_at"])
    _enqueue_push(locked.pk)
    return locked


# -- pushing to Agora -------------------------------------------------------------------------


class _Refused(Exception):
    """The push stops without an Agora error (the reason is recorded as the number's error)."""


def phone_number_push(*, number_id: int) -> str:
    """Make Agora match the local row (or delete it in Agora, then here). Returns what was done.

    Errors Agora would answer the same way again are recorded (sync_state "error") and not
    raised; retryable ones (`error.retryable`) are recorded and raised so the task retries.
    """
    number = PhoneNumber.objects.filter(pk=number_id).first()
    if number is None:
        return "gone"
    client = agora_client()
    try:
        if number.sync_state == PhoneNumber.SyncState.DELETING:
            return _push_delete(client, number)
        return _push_config(client, number)
    except AgoraError as error:
        message = _safe_message(f"Agora request failed: {error}", number)
        if error.retryable:
            _record_failure(number.pk, f"{message} (will retry)", keep_state=True)
            raise
        _record_failure(number.pk, message, keep_state=False)
        return "error"
    except (_Refused, ValueError) as error:
        _record_failure(number.pk, _safe_message(str(error), number), keep_state=False)
        return "error"


def _push_delete(client: AgoraClient, number: PhoneNumber) -> str:
    with contextlib.suppress(NotFound):  # already gone in Agora: what we wanted
        client.delete_phone_number(number.e164)
    with transaction.atomic():
        locked = PhoneNumber.objects.select_for_update().filter(pk=number.pk).first()
        if locked is not None and locked.sync_state == PhoneNumber.SyncState.DELETING:
            locked.delete()
    return "deleted"


def _save_pushed(number: PhoneNumber, pushed: dict[str, Any] | None) -> None:
    """Remember each step that Agora accepted, so a retry resumes rather than repeats."""
    number.pushed_config = pushed
    PhoneNumber.objects.filter(pk=number.pk).update(pushed_config=pushed)


def _push_config(client: AgoraClient, number: PhoneNumber) -> str:
    desired = local_config(number)
    pushed = number.pushed_config
    done: list[str] = []
    if pushed is not None and _import_changed(desired, pushed):
        _guard_unknown_credentials(number, pushed)
        with contextlib.suppress(NotFound):
            client.delete_phone_number(number.e164)
        _save_pushed(number, None)
        pushed = None
        done.append("deleted")
    for _attempt in range(2):
        if pushed is None:
            pushed = _import(client, number, desired, done)
        changes = _pipelines_changed(desired, pushed)
        try:
            if changes:
                client.update_phone_number(number.e164, **changes)
                pushed = {**pushed, **{field: desired[field] for field in PIPELINE_FIELDS}}
                _save_pushed(number, pushed)
                done.append("pipelines updated")
            info = client.get_phone_number(number.e164)
        except NotFound:
            if "imported" in done:
                raise
            # Removed in Agora behind our back: import it again.
            _save_pushed(number, None)
            pushed = None
            done.append("missing in Agora")
            continue
        _record_success(number, pushed, info)
        return ", ".join(done) or "up to date"
    raise _Refused(f"{number.e164} could not be imported into Agora.")


def _guard_unknown_credentials(number: PhoneNumber, pushed: dict[str, Any]) -> None:
    if (
        pushed.get(PASSWORD_FINGERPRINT) == UNKNOWN_FINGERPRINT
        and number.outbound_user
        and not number.outbound_password
    ):
        raise _Refused(
            "This change needs a re-import, and Agora never returns SIP passwords: enter the "
            "outbound SIP password again so the re-import keeps it."
        )


def _import(
    client: AgoraClient, number: PhoneNumber, desired: dict[str, Any], done: list[str]
) -> dict[str, Any]:
    try:
        client.import_phone_number(_import_request(number))
    except Conflict:
        # Agora already has it (imported elsewhere, or our earlier answer was lost).
        info = client.get_phone_number(number.e164)
        adopted = _config_from_remote(info, user=number.outbound_user)
        if not any(desired[field] != adopted[field] for field in IMPORT_FIELDS):
            adopted[PASSWORD_FINGERPRINT] = desired[PASSWORD_FINGERPRINT]
        _save_pushed(number, adopted)
        done.append("already in Agora")
        if _import_changed(desired, adopted):
            differences = phone_number_differences(number, info) or [
                "outbound SIP password: Agora never returns it, so it cannot be compared"
            ]
            raise _Refused(_record_adoption_conflict(number, info, differences)) from None
        return adopted
    pushed = {
        **{field: desired[field] for field in (*IMPORT_FIELDS, PASSWORD_FINGERPRINT)},
        **dict.fromkeys(PIPELINE_FIELDS, ""),
    }
    _save_pushed(number, pushed)
    done.append("imported")
    return pushed


def _record_adoption_conflict(
    number: PhoneNumber, info: PhoneNumberInfo, differences: list[str]
) -> str:
    """Keep what Agora has and how it differs; returns the error to record."""
    message = (
        f"Agora already had {number.e164} (409 phone_number_exists) with other settings: "
        + "; ".join(differences)
        + ". Nothing was overwritten: use 'Push selected to Agora' to replace Agora's settings "
        "with these."
    )
    with transaction.atomic():
        locked = PhoneNumber.objects.select_for_update().filter(pk=number.pk).first()
        if locked is not None:
            locked.remote_snapshot = _snapshot(info)
            locked.differences = differences
            locked.last_synced_at = timezone.now()
            locked.save(update_fields=["remote_snapshot", "differences", "last_synced_at"])
    return message


def _record_success(number: PhoneNumber, pushed: dict[str, Any], info: PhoneNumberInfo) -> None:
    with transaction.atomic():
        locked = PhoneNumber.objects.select_for_update().filter(pk=number.pk).first()
        if locked is None:
            return
        locked.pushed_config = pushed
        locked.remote_snapshot = _snapshot(info)
        locked.last_synced_at = timezone.now()
        fields = ["pushed_config", "remote_snapshot", "last_synced_at"]
        # Changed (or deleted) while we were pushing: the push enqueued by that change follows.
        if locked.sync_state != PhoneNumber.SyncState.DELETING and not has_unpushed_changes(locked):
            locked.sync_state = PhoneNumber.SyncState.SYNCED
            locked.last_error = ""
            locked.differences = []
            fields += ["sync_state", "last_error", "differences"]
        locked.save(update_fields=[*fields, "updated_at"])


def _record_failure(number_id: int, message: str, *, keep_state: bool) -> None:
    with transaction.atomic():
        locked = PhoneNumber.objects.select_for_update().filter(pk=number_id).first()
        if locked is None:
            return
        locked.last_error = message
        if not keep_state and locked.sync_state != PhoneNumber.SyncState.DELETING:
            locked.sync_state = PhoneNumber.SyncState.ERROR
        locked.save(update_fields=["last_error", "sync_state", "updated_at"])
    logger.warning("phone number %s: push failed: %s", number_id, message)


# -- reconciling with Agora -------------------------------------------------------------------


def phone_numbers_reconcile() -> dict[str, int]:
    """Compare Agora's numbers with ours: adopt Agora's extras, flag ours it lacks, list
    differences. Returns counts."""
    remote = {info.phone_number: info for info in agora_client().list_phone_numbers()}
    counts = dict.fromkeys(("remote", "created", "missing", "different", "in_sync"), 0)
    counts["remote"] = len(remote)
    now = timezone.now()
    with transaction.atomic():
        local = {number.e164: number for number in PhoneNumber.objects.select_for_update()}
        for e164, info in remote.items():
            number = local.get(e164)
            if number is None:
                counts["created"] += _adopt_remote(info, now=now)
                continue
            differences = phone_number_differences(number, info)
            number.remote_snapshot = _snapshot(info)
            number.differences = differences
            number.last_synced_at = now
            if differences:
                counts["different"] += 1
            elif number.sync_state not in (
                PhoneNumber.SyncState.PENDING,
                PhoneNumber.SyncState.DELETING,
            ) and not has_unpushed_changes(number):
                number.sync_state = PhoneNumber.SyncState.SYNCED
                number.last_error = ""
                counts["in_sync"] += 1
            number.save()
        for e164, number in local.items():
            if e164 in remote or number.pushed_config is None:
                continue  # first push (or a re-import) still to come
            if number.sync_state == PhoneNumber.SyncState.DELETING:
                continue
            number.sync_state = PhoneNumber.SyncState.MISSING
            number.last_error = (
                f"Not in Agora's list of numbers at {now:%Y-%m-%d %H:%M} UTC: it was removed "
                "there. Push it to import it again, or delete it here."
            )
            number.remote_snapshot = None
            number.differences = []
            number.last_synced_at = now
            number.save()
            counts["missing"] += 1
    return counts


def _adopt_remote(info: PhoneNumberInfo, *, now) -> int:
    config = _config_from_remote(info)
    number = PhoneNumber(
        e164=info.phone_number,
        origin=PhoneNumber.Origin.AGORA,
        sync_state=PhoneNumber.SyncState.SYNCED,
        pushed_config=config,
        remote_snapshot=_snapshot(info),
        differences=[],
        last_synced_at=now,
        **{field: config[field] for field in (*IMPORT_FIELDS, *PIPELINE_FIELDS)},
    )
    try:
        with transaction.atomic():
            number.save()
    except IntegrityError:
        return 0  # created here at the same moment: the next reconcile compares them
    return 1
