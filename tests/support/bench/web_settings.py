"""The app's settings with the bench's URLs (tests.support.bench.web): one baseline view more."""

from contactcenter.settings import *  # noqa: F403

ROOT_URLCONF = "tests.support.bench.web"
