"""The account cap (AGORA_MAX_CONCURRENT_CALLS): one lock, two counts (invariant 2).

Everything that decides whether a call may start takes `lock_capacity()` inside its
transaction before it counts, and holds it to its commit: the campaign dispatcher
(campaigns.services.dispatch) before it counts the free places and stores that many calls, and
placement (telephony.services.calls) before it counts the live calls and moves calls to
dialing. So no two capacity decisions ever overlap, however many dispatchers and workers run.
Both take it as late as they can (after claiming their rows and building their calls or
requests), so that the lock covers the decision and its writes, nothing else.

The two deciders count different things, on purpose:

- the dispatcher books places ahead: `booked_call_count()` counts live calls *and* queued ones.
  A call it created is queued until a worker dials it; if queued calls did not count, the next
  tick would see the same free places and create calls for them again, overbooking the cap.
- placement refuses only to dial above the cap: `live_call_count()` counts the calls Agora is
  carrying (dialing, ringing, answered), not queued ones. The call being placed is itself
  queued, and so may be others booked in the same tick: counting them would make each one wait
  for the others, and a queue as long as the cap would never be dialed.

Single calls (admin, API, command) are queued without booking; placement is what holds them
to the cap.
"""

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from telephony.models import Call
from telephony.states import LIVE_STATUSES, CallStatus

# Statuses that hold a place under the cap: live, or queued and about to be dialed.
BOOKED_STATUSES = frozenset({*LIVE_STATUSES, CallStatus.QUEUED})

_CAPACITY_LOCK_KEY = 7_310_201  # pg_advisory_xact_lock key shared by everything starting calls


def lock_capacity() -> None:
    """Serialise capacity checks across workers and dispatchers (inside a transaction).

    PostgreSQL: a transaction-scoped advisory lock. SQLite (the zero-setup default) already runs
    one write transaction at a time (IMMEDIATE mode), which serialises them as well.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CAPACITY_LOCK_KEY])


def live_call_count() -> int:
    """Calls Agora is carrying now (dialing, ringing, answered): what placement checks."""
    return Call.objects.filter(status__in=LIVE_STATUSES).count()


def booked_call_count(calls: QuerySet[Call] | None = None) -> int:
    """Calls holding a place, live or queued, among `calls` (all calls by default): what the
    dispatcher checks, for the account and for one campaign. A call scheduled for later holds
    no place until its time."""
    calls = Call.objects.all() if calls is None else calls
    later = Q(status=CallStatus.QUEUED, scheduled_for__gt=timezone.now())
    return calls.filter(status__in=BOOKED_STATUSES).exclude(later).count()
