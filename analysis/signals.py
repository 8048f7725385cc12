"""What analysis tells the rest of the project (sent after commit)."""

from django.dispatch import Signal

# A call was analysed (again): kwargs call_id. CRM webhooks send `call.analyzed`.
call_analyzed = Signal()
