"""Signals other apps subscribe to. Sent on commit."""

from django.dispatch import Signal

# A campaign reached "completed". Arguments: campaign_id (int).
campaign_completed = Signal()

# A number was added to the do-not-call list. Arguments: phone (str, E.164), reason (str),
# source (str, a DoNotCall.Source value).
contact_do_not_call = Signal()
