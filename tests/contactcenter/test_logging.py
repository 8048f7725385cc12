"""The project's log handlers scrub secrets whatever logger writes to them."""

import io
import logging
import logging.config

from django.conf import settings

from telephony.agora.redaction import register_secret


def test_configured_handlers_scrub_registered_secrets():
    secret = "sUp3r-s3cret-customer-value"
    register_secret(secret)
    stream = io.StringIO()
    config = {**settings.LOGGING, "handlers": {**settings.LOGGING["handlers"]}}
    config["handlers"]["console"] = {**config["handlers"]["console"], "stream": stream}
    logging.config.dictConfig(config)
    try:
        logging.getLogger("telephony.anything").warning("auth failed with %s", secret)
        logging.getLogger("celery.worker").error("header was Basic %s", "YWJjOmRlZmdoaWprbG1u")
    finally:
        logging.config.dictConfig(settings.LOGGING)

    output = stream.getvalue()
    assert "auth failed with" in output
    assert secret not in output
    assert "YWJjOmRlZmdoaWprbG1u" not in output
