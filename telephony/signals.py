"""Signals other apps subscribe to. Sent on commit, exactly once per event."""

from django.dispatch import Signal

# A call reached a terminal status. Arguments: call_id (str), status (str), labels (the
# call's labels, or None when the sender did not read them).
call_ended = Signal()

# Calls' status changed (every change, terminal ones included). Sent on commit, once for the
# calls a batch moved to the same status together (a placement batch's DIALING).
# Arguments: call_ids (list of str), status (str, the new status).
call_status_changed = Signal()
