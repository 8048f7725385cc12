"""Agent profiles: validation, rendering per call, and the admin's masked secrets."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from telephony.models import AgentProfile
from telephony.services.agents import (
    MissingTemplateVariables,
    agent_properties_for_call,
    agent_required_variables,
)

pytestmark = pytest.mark.django_db

LLM_KEY = "sk-llm-very-secret-123"
TTS_KEY = "tts-very-secret-456"
FULL_PROPERTIES = {
    "llm": {
        "url": "https://llm.example/v1/chat",
        "api_key": LLM_KEY,
        "params": {"model": "gpt-x", "max_tokens": 256},
    },
    "tts": {"vendor": "acme", "params": {"key": TTS_KEY, "voice": "{{voice}}"}},
    "asr": {"language": "en-US"},
}


def profile(**overrides) -> AgentProfile:
    fields = {"name": "Bot", "pipeline_id": "", "properties": FULL_PROPERTIES}
    return AgentProfile(**{**fields, **overrides})


# -- validation -------------------------------------------------------------------------------


def test_a_pipeline_alone_is_enough():
    profile(pipeline_id="pipe-1", properties={}).full_clean()


def test_full_properties_are_enough_without_a_pipeline():
    profile().full_clean()


def test_without_a_pipeline_llm_and_tts_are_required():
    with pytest.raises(ValidationError) as caught:
        profile(properties={"llm": {"url": "x"}}).full_clean()

    assert caught.value.message_dict["properties"] == [
        "Without a pipeline id, properties must contain 'tts' (an object)."
    ]


@pytest.mark.parametrize("key", ["channel", "token", "agent_rtc_uid", "remote_rtc_uids"])
def test_per_call_keys_are_refused(key):
    with pytest.raises(ValidationError) as caught:
        profile(properties={**FULL_PROPERTIES, key: "x"}).full_clean()

    assert f"Remove {key}: they are set for each call." in caught.value.message_dict["properties"]


def test_properties_must_be_an_object():
    with pytest.raises(ValidationError) as caught:
        profile(pipeline_id="pipe-1", properties=["llm"]).full_clean()

    assert "JSON object" in caught.value.message_dict["properties"][0]


@pytest.mark.parametrize(
    "text", ["Hi {{first name}}", "Hi {{first_name}", "Hi {{ 1st }}", "Hi {{}}", "Hi {{a-b}}"]
)
def test_bad_placeholders_are_refused(text):
    with pytest.raises(ValidationError) as caught:
        profile(greeting_template=text).full_clean()

    assert "greeting_template" in caught.value.message_dict


def test_good_placeholders_pass():
    profile(
        greeting_template="Hi {{ first_name }}, {{company}} here.",
        system_prompt_template="Remind {{first_name}} of {{appointment_at}}.",
    ).full_clean()


# -- rendering per call -----------------------------------------------------------------------


def test_variables_are_filled_everywhere():
    agent = profile(
        greeting_template="Hi {{first_name}}, this is {{company}}.",
        system_prompt_template="You call {{first_name}} for {{company}}.",
        properties={**FULL_PROPERTIES, "labels": {"customer": "{{first_name}}"}},
    )

    pipeline_id, properties = agent_properties_for_call(
        agent, {"first_name": "Ada", "company": "Acme", "voice": "alto"}
    )

    assert pipeline_id is None
    assert properties["llm"]["greeting_message"] == "Hi Ada, this is Acme."
    assert properties["llm"]["system_messages"] == [
        {"role": "system", "content": "You call Ada for Acme."}
    ]
    assert properties["tts"]["params"]["voice"] == "alto"
    assert properties["labels"] == {"customer": "Ada"}
    assert properties["llm"]["api_key"] == LLM_KEY
    # The profile itself is untouched.
    assert agent.properties["tts"]["params"]["voice"] == "{{voice}}"


def test_missing_variables_are_named_not_left_blank():
    agent = profile(greeting_template="Hi {{first_name}}, {{company}} calling.")

    with pytest.raises(MissingTemplateVariables) as caught:
        agent_properties_for_call(agent, {"first_name": "Ada", "company": ""})

    assert caught.value.missing == ["company", "voice"]
    assert "company, voice" in str(caught.value)


def test_a_pipeline_profile_passes_its_pipeline_id():
    agent = profile(pipeline_id="pipe-1", properties={}, greeting_template="Hello {{name}}")

    pipeline_id, properties = agent_properties_for_call(agent, {"name": "Bo"})

    assert pipeline_id == "pipe-1"
    assert properties == {"llm": {"greeting_message": "Hello Bo"}}
    assert agent_required_variables(agent) == {"name"}


# -- the admin --------------------------------------------------------------------------------


def form_data(**overrides) -> dict[str, str]:
    data = {
        "name": "Reminder bot",
        "description": "",
        "pipeline_id": "",
        "greeting_template": "Hi {{first_name}}",
        "system_prompt_template": "",
        "properties": json.dumps(FULL_PROPERTIES),
        "_save": "Save",
    }
    return {**data, **overrides}


def change_url(agent: AgentProfile) -> str:
    return reverse("admin:telephony_agentprofile_change", args=[agent.pk])


@pytest.fixture
def saved_profile() -> AgentProfile:
    return AgentProfile.objects.create(name="Reminder bot", properties=FULL_PROPERTIES)


def test_admin_add_saves_a_valid_profile(admin_client):
    response = admin_client.post(reverse("admin:telephony_agentprofile_add"), form_data())

    assert response.status_code == 302, response.content.decode()[:2000]
    assert AgentProfile.objects.get().properties == FULL_PROPERTIES


def test_admin_add_shows_validation_errors(admin_client):
    response = admin_client.post(
        reverse("admin:telephony_agentprofile_add"),
        form_data(properties=json.dumps({"llm": {}, "channel": "x"}), greeting_template="{{a b}}"),
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "Remove channel: they are set for each call." in page
    assert "must contain &#x27;tts&#x27;" in page
    assert "Placeholders look like {{first_name}}" in page
    assert not AgentProfile.objects.exists()


def test_admin_change_page_masks_secrets(admin_client, saved_profile):
    page = admin_client.get(change_url(saved_profile)).content.decode()

    assert LLM_KEY not in page
    assert TTS_KEY not in page
    assert "********" in page
    assert "gpt-x" in page
    assert "{{first_name}}" in page  # the help text explains variables


def test_admin_masked_secrets_are_kept_on_save(admin_client, saved_profile):
    shown = admin_client.get(change_url(saved_profile)).context["adminform"].form
    submitted = json.loads(shown["properties"].value())
    assert submitted["llm"]["api_key"] == "********"
    submitted["llm"]["params"]["model"] = "gpt-y"

    response = admin_client.post(
        change_url(saved_profile), form_data(properties=json.dumps(submitted))
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    saved_profile.refresh_from_db()
    assert saved_profile.properties["llm"]["api_key"] == LLM_KEY
    assert saved_profile.properties["tts"]["params"]["key"] == TTS_KEY
    assert saved_profile.properties["llm"]["params"]["model"] == "gpt-y"


def test_admin_a_typed_secret_replaces_the_stored_one(admin_client, saved_profile):
    submitted = json.loads(json.dumps(FULL_PROPERTIES))
    submitted["llm"]["api_key"] = "sk-new-key-789"
    submitted["tts"]["params"]["key"] = "********"

    admin_client.post(change_url(saved_profile), form_data(properties=json.dumps(submitted)))

    saved_profile.refresh_from_db()
    assert saved_profile.properties["llm"]["api_key"] == "sk-new-key-789"
    assert saved_profile.properties["tts"]["params"]["key"] == TTS_KEY
    page = admin_client.get(change_url(saved_profile)).content.decode()
    assert "sk-new-key-789" not in page


def test_admin_refuses_to_keep_a_masked_secret_for_a_new_endpoint(admin_client, saved_profile):
    shown = admin_client.get(change_url(saved_profile)).context["adminform"].form
    submitted = json.loads(shown["properties"].value())
    submitted["llm"]["url"] = "https://attacker.example/v1/chat"

    response = admin_client.post(
        change_url(saved_profile), form_data(properties=json.dumps(submitted))
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "llm.api_key: llm.url changed" in page
    assert LLM_KEY not in page
    saved_profile.refresh_from_db()
    assert saved_profile.properties["llm"]["url"] == "https://llm.example/v1/chat"


def test_unmask_looks_at_the_objects_around_a_kept_secret_only():
    from telephony.services.agents import MASK, unmask_properties

    stored = {
        "llm": {"url": "https://llm.example", "api_key": LLM_KEY},
        "tts": {"vendor": "acme", "params": {"key": TTS_KEY}},
        "mcp": [{"url": "https://a.example", "token": "tok-a-123456"}],
    }
    masked = {
        "llm": {"url": "https://llm.example", "api_key": MASK},
        "tts": {"vendor": "acme", "params": {"key": MASK}},
        "mcp": [{"url": "https://a.example", "token": MASK}],
    }
    # another section's endpoint changing does not matter
    moved_tts = {**masked, "tts": {"vendor": "other", "params": {"key": "typed-new-key"}}}
    assert unmask_properties(moved_tts, stored)["llm"]["api_key"] == LLM_KEY
    # an enclosing object's endpoint does (tts.vendor decides where tts.params.key goes)
    with pytest.raises(ValidationError, match=r"tts\.vendor changed"):
        unmask_properties({**masked, "tts": {"vendor": "other", "params": {"key": MASK}}}, stored)
    # list items: a reordered or edited entry does not take another entry's secret
    with pytest.raises(ValidationError, match=r"mcp\[0\]\.url changed"):
        unmask_properties({**masked, "mcp": [{"url": "https://b.example", "token": MASK}]}, stored)


def test_masked_properties_sent_back_store_every_other_value_as_it_was():
    from telephony.services.agents import mask_properties, unmask_properties

    stored = {
        "llm": {
            "url": "https://llm.example",
            "api_key": LLM_KEY,
            "headers": {"X-Upstream": "Bearer abcdefgh12345", "Authorization-Hint": ""},
            "note": f"key is {LLM_KEY}",
        },
    }

    masked = mask_properties(stored)

    assert masked["llm"]["api_key"] == "********"
    # text is not scrubbed: what comes back unchanged is stored unchanged
    assert masked["llm"]["headers"]["X-Upstream"] == "Bearer abcdefgh12345"
    assert masked["llm"]["note"] == f"key is {LLM_KEY}"
    # an empty secret shows as empty, not as a value that could be kept
    assert masked["llm"]["headers"]["Authorization-Hint"] == ""
    assert unmask_properties(masked, stored) == stored


@pytest.mark.parametrize(
    "key", ["url", "base_url", "baseURL", "baseUrl", "wsUrl", "endpointUrl", "apiHost",
            "APIHost", "api_base", "server_address", "region", "vendor"],
)  # fmt: skip
def test_an_endpoint_in_any_spelling_stops_a_kept_secret(key):
    from telephony.services.agents import MASK, unmask_properties

    stored = {"llm": {key: "https://llm.example", "api_key": LLM_KEY}}
    with pytest.raises(ValidationError, match=rf"llm\.{key} changed"):
        unmask_properties({"llm": {key: "https://evil.example", "api_key": MASK}}, stored)
    same = unmask_properties({"llm": {key: "https://llm.example", "api_key": MASK}}, stored)
    assert same["llm"]["api_key"] == LLM_KEY


def test_admin_a_mask_without_a_stored_value_is_an_error(admin_client, saved_profile):
    submitted = {**FULL_PROPERTIES, "asr": {"language": "en-US", "api_key": "********"}}

    response = admin_client.post(
        change_url(saved_profile), form_data(properties=json.dumps(submitted))
    )

    assert response.status_code == 200
    assert "asr.api_key: there is no stored value to keep" in response.content.decode()


def test_admin_view_only_staff_see_masked_properties(client, saved_profile, django_user_model):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="pw-viewer-1", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_agentprofile"))
    client.force_login(viewer)

    page = client.get(change_url(saved_profile)).content.decode()

    assert LLM_KEY not in page
    assert "********" in page


# -- the common settings, as form fields kept in the properties ---------------------------------


def shown_form(admin_client, agent: AgentProfile) -> dict[str, str]:
    """What the agent's page submits when staff change nothing (every field's shown value)."""
    form = admin_client.get(change_url(agent)).context["adminform"].form
    data = form_data(properties=form["properties"].value())
    for name in ("llm_url", "llm_model", "llm_api_key", "tts_vendor", "tts_voice",
                 "asr_language", "end_of_speech"):  # fmt: skip
        data[name] = form[name].value() or ""
    return data


def test_the_common_settings_show_what_the_properties_hold_with_the_key_masked(
    admin_client, saved_profile
):
    data = shown_form(admin_client, saved_profile)

    assert (data["llm_url"], data["llm_model"], data["asr_language"]) == (
        "https://llm.example/v1/chat",
        "gpt-x",
        "en-US",
    )
    assert data["llm_api_key"] == "********" and data["end_of_speech"] == ""
    page = admin_client.get(change_url(saved_profile)).content.decode()
    assert LLM_KEY not in page
    assert page.count("Write placeholders as {{first_name}}") == 1  # the help, once


def test_a_common_setting_changed_on_the_form_is_written_into_the_properties(
    admin_client, saved_profile
):
    data = shown_form(admin_client, saved_profile)
    data.update(llm_model="gpt-y", tts_voice="en-US-Ava", end_of_speech="semantic",
                asr_language="")  # fmt: skip

    response = admin_client.post(change_url(saved_profile), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    saved_profile.refresh_from_db()
    properties = saved_profile.properties
    assert properties["llm"]["params"] == {"model": "gpt-y", "max_tokens": 256}
    assert properties["llm"]["api_key"] == LLM_KEY  # the masked key, kept
    assert properties["tts"]["params"]["voice_name"] == "en-US-Ava"
    assert properties["turn_detection"] == {"config": {"end_of_speech": {"mode": "semantic"}}}
    assert "language" not in properties["asr"]  # cleared on the form


def test_a_new_key_typed_in_the_common_settings_replaces_the_stored_one(
    admin_client, saved_profile
):
    data = shown_form(admin_client, saved_profile)
    data["llm_api_key"] = "sk-typed-in-the-form"

    admin_client.post(change_url(saved_profile), data)

    saved_profile.refresh_from_db()
    assert saved_profile.properties["llm"]["api_key"] == "sk-typed-in-the-form"
    assert (
        "sk-typed-in-the-form" not in admin_client.get(change_url(saved_profile)).content.decode()
    )
