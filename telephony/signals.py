"""Signals other apps subscribe to. Sent on commit, exactly once per event."""

from django.dispatch import Signal

# A call reached a terminal status. Arguments: call_id (str), status (str).
call_ended = Signal()

# A call's status changed (every change, terminal ones included). Sent on commit.
# Arguments: call_id (str), status (str, the new status).
call_status_changed = Signal()
