"""gunicorn's settings for the web server, read from the working directory: its own lines
(starting, workers booted and lost) go through the app's logging, text or one JSON object per
line as LOG_FORMAT says (contactcenter.logs)."""

from contactcenter.logs import gunicorn_logconfig

logconfig_dict = gunicorn_logconfig()
