"""AgoraConfig validation, from_mapping, and the regional host list."""

import pickle

import pytest

from telephony.agora import AgoraConfig, base_urls
from telephony.agora.redaction import scrub

from . import APP_CERTIFICATE, APP_ID, CUSTOMER_ID, CUSTOMER_SECRET

SUFFIX = "/api/conversational-ai-agent"


def test_defaults():
    config = AgoraConfig(app_id=APP_ID)
    assert (config.area, config.auth_mode, config.base_url) == ("US", "basic", None)
    assert (config.connect_timeout, config.read_timeout) == (5.0, 15.0)
    assert (config.max_retries, config.backoff_base, config.backoff_max) == (3, 0.5, 8.0)
    assert (config.max_retry_after, config.token_ttl) == (30.0, 3600)


def test_repr_hides_secrets_and_secrets_are_registered():
    config = AgoraConfig(
        app_id=APP_ID,
        customer_id=CUSTOMER_ID,
        customer_secret=CUSTOMER_SECRET,
        app_certificate=APP_CERTIFICATE,
    )
    text = repr(config) + str(config)
    assert CUSTOMER_SECRET not in text
    assert APP_CERTIFICATE not in text
    assert APP_ID in text
    assert CUSTOMER_SECRET not in scrub(f"leaked {CUSTOMER_SECRET}")
    assert APP_CERTIFICATE not in scrub(f"leaked {APP_CERTIFICATE}")


def test_is_frozen():
    config = AgoraConfig(app_id=APP_ID)
    with pytest.raises(AttributeError):
        config.area = "EU"  # type: ignore[misc]


def test_normalises_case_and_blank_base_url():
    config = AgoraConfig(app_id=APP_ID, area="eu", auth_mode="BASIC", base_url="  ")
    assert (config.area, config.auth_mode, config.base_url) == ("EU", "basic", None)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"app_id": ""}, "app_id"),
        ({"area": "MARS"}, "area"),
        ({"auth_mode": "oauth"}, "auth_mode"),
        ({"auth_mode": "token", "app_certificate": ""}, "app_certificate"),
        ({"connect_timeout": -1}, "connect_timeout"),
        ({"read_timeout": 0}, "read_timeout"),
        ({"backoff_base": -0.1}, "backoff_base"),
        ({"backoff_max": -1}, "backoff_max"),
        ({"max_retry_after": -5}, "max_retry_after"),
        ({"max_retries": -1}, "max_retries"),
        ({"token_ttl": 86_401}, "token_ttl"),
        ({"token_ttl": 0}, "token_ttl"),
        ({"base_url": "ftp://example.com"}, "base_url"),
    ],
)
def test_validation_names_the_field(overrides, field):
    values = {"app_id": APP_ID, "app_certificate": APP_CERTIFICATE, **overrides}
    with pytest.raises(ValueError, match=field):
        AgoraConfig(**values)


def test_from_mapping_converts_strings():
    config = AgoraConfig.from_mapping(
        {
            "AGORA_APP_ID": APP_ID,
            "AGORA_CUSTOMER_ID": CUSTOMER_ID,
            "AGORA_CUSTOMER_SECRET": CUSTOMER_SECRET,
            "AGORA_APP_CERTIFICATE": APP_CERTIFICATE,
            "AGORA_AREA": "ap",
            "AGORA_API_BASE_URL": "http://127.0.0.1:8900/",
            "AGORA_AUTH_MODE": "token",
            "AGORA_CONNECT_TIMEOUT": "2.5",
            "AGORA_READ_TIMEOUT": "7",
            "AGORA_MAX_RETRIES": "5",
            "UNRELATED": "ignored",
        }
    )
    assert config == AgoraConfig(
        app_id=APP_ID,
        customer_id=CUSTOMER_ID,
        customer_secret=CUSTOMER_SECRET,
        app_certificate=APP_CERTIFICATE,
        area="AP",
        base_url="http://127.0.0.1:8900",
        auth_mode="token",
        connect_timeout=2.5,
        read_timeout=7.0,
        max_retries=5,
    )


def test_from_mapping_missing_and_empty_mean_default():
    config = AgoraConfig.from_mapping(
        {"AGORA_APP_ID": APP_ID, "AGORA_AREA": "", "AGORA_MAX_RETRIES": None}
    )
    assert config == AgoraConfig(app_id=APP_ID)


def test_from_mapping_reads_attributes_of_a_settings_object():
    class Settings:
        AGORA_APP_ID = APP_ID
        AGORA_AREA = "CN"

    assert AgoraConfig.from_mapping(Settings()).area == "CN"


def test_from_mapping_errors_name_the_key_not_the_value():
    with pytest.raises(ValueError, match="AGORA_APP_ID"):
        AgoraConfig.from_mapping({})
    with pytest.raises(ValueError, match="AGORA_READ_TIMEOUT") as excinfo:
        AgoraConfig.from_mapping({"AGORA_APP_ID": APP_ID, "AGORA_READ_TIMEOUT": "soon-ish"})
    assert "soon-ish" not in str(excinfo.value)


def test_config_pickles_for_celery():
    config = AgoraConfig(app_id=APP_ID, customer_secret=CUSTOMER_SECRET)
    assert pickle.loads(pickle.dumps(config)) == config  # noqa: S301 (our own bytes)


# -- regions ----------------------------------------------------------------------------------


def test_us_hosts_in_order():
    assert base_urls("US") == [
        f"https://api-us-west-1.agora.io{SUFFIX}",
        f"https://api-us-east-1.agora.io{SUFFIX}",
        f"https://api-us-west-1.sd-rtn.com{SUFFIX}",
        f"https://api-us-east-1.sd-rtn.com{SUFFIX}",
    ]


def test_eu_and_ap_hosts():
    assert base_urls("eu") == [
        f"https://api-eu-west-1.agora.io{SUFFIX}",
        f"https://api-eu-central-1.agora.io{SUFFIX}",
        f"https://api-eu-west-1.sd-rtn.com{SUFFIX}",
        f"https://api-eu-central-1.sd-rtn.com{SUFFIX}",
    ]
    assert base_urls("AP") == [
        f"https://api-ap-southeast-1.agora.io{SUFFIX}",
        f"https://api-ap-northeast-1.agora.io{SUFFIX}",
        f"https://api-ap-southeast-1.sd-rtn.com{SUFFIX}",
        f"https://api-ap-northeast-1.sd-rtn.com{SUFFIX}",
    ]


def test_cn_prefers_sd_rtn_and_uses_the_cn_suffix():
    cn = "/cn/api/conversational-ai-agent"
    assert base_urls("CN") == [
        f"https://api-cn-east-1.sd-rtn.com{cn}",
        f"https://api-cn-north-1.sd-rtn.com{cn}",
        f"https://api-cn-east-1.agora.io{cn}",
        f"https://api-cn-north-1.agora.io{cn}",
    ]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("http://127.0.0.1:8900", f"http://127.0.0.1:8900{SUFFIX}"),
        ("http://127.0.0.1:8900/", f"http://127.0.0.1:8900{SUFFIX}"),
        (f"http://127.0.0.1:8900{SUFFIX}", f"http://127.0.0.1:8900{SUFFIX}"),
        (f"https://proxy.example.com{SUFFIX}/", f"https://proxy.example.com{SUFFIX}"),
    ],
)
def test_override_replaces_the_list(override, expected):
    assert base_urls("EU", override) == [expected]


def test_unknown_area():
    with pytest.raises(ValueError, match="area"):
        base_urls("MOON")
