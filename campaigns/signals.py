"""Signals other apps subscribe to. Sent on commit."""

from django.dispatch import Signal

# A campaign reached "completed". Arguments: campaign_id (int).
campaign_completed = Signal()

# A number was added to the do-not-call list. Arguments: phone (str, E.164), reason (str),
# source (str, a DoNotCall.Source value).
contact_do_not_call = Signal()

# A campaign paused. Arguments: campaign_id (int), reason (str: why it paused itself, empty when
# staff paused it), automatic (bool).
campaign_paused = Signal()

# A caller ID was taken out of a campaign's rotation (answered far less than its peers).
# Arguments: campaign_id (int), number (str, E.164), reason (str).
campaign_caller_id_removed = Signal()
