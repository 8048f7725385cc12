from campaigns.api.contacts import BULK_MAX_ROWS, register  # noqa: F401  (split next commit)
