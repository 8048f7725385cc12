"""Deeply nested JSON (contactcenter.validators): refused with a clear error by the services and
admin forms that store it, and JSON at the limit still renders on every admin page showing it.
(API bodies: tests/contactcenter/api/test_bad_input.py; Agora's webhooks:
tests/telephony/test_webhooks.py.)"""

import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from campaigns.models import Contact, ContactList
from campaigns.services.contacts import contact_upsert
from contactcenter.validators import (
    JsonTooDeep,
    json_depth_exceeds,
    json_loads,
    validate_json_text,
)
from telephony.models import AgentProfile
from telephony.services.calls import call_create

LIMIT = 32


def nested(depth: int) -> list:
    """`depth` levels of lists: [[[...]]]."""
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def deep_text(depth: int) -> str:
    return "[" * depth + "]" * depth


# -- the bound --------------------------------------------------------------------------------


def test_depth_is_counted_in_levels_of_lists_and_objects():
    assert not json_depth_exceeds("text", 0)
    assert not json_depth_exceeds({"a": [1, {"b": 2}]}, 3)
    assert json_depth_exceeds({"a": [1, {"b": {}}]}, 3)
    assert not json_depth_exceeds(nested(LIMIT), LIMIT)
    assert json_depth_exceeds(nested(LIMIT + 1), LIMIT)


@pytest.mark.parametrize("depth", [LIMIT + 1, 1000, 100_000])
def test_json_loads_refuses_deep_text_without_a_recursion_error(depth):
    with pytest.raises(JsonTooDeep, match="nested deeper than 32 levels"):
        json_loads(deep_text(depth))


def test_json_loads_reads_json_to_the_limit():
    assert json_loads(deep_text(LIMIT)) == nested(LIMIT)
    assert json_loads(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}') == {"a": "[" * 38}


def test_stored_json_must_stay_within_the_limit(settings):
    validate_json_text({"a": nested(LIMIT - 1)})  # 32 levels

    with pytest.raises(ValidationError) as error:
        validate_json_text({"a": nested(LIMIT)})
    assert error.value.code == "too_deep"
    assert "deeper than the 32 levels" in error.value.messages[0]

    settings.JSON_MAX_DEPTH = 40
    validate_json_text({"a": nested(LIMIT)})


# -- services that store JSON from outside ----------------------------------------------------


@pytest.mark.django_db
def test_contact_upsert_refuses_deep_variables():
    contact_list = ContactList.objects.create(name="Customers")

    with pytest.raises(ValidationError) as error:
        contact_upsert(
            contact_list=contact_list, phone="+14155550100", variables={"a": nested(LIMIT)}
        )

    assert "deeper than the 32 levels" in str(error.value.message_dict["variables"])
    assert not Contact.objects.exists()


@pytest.mark.django_db
def test_call_create_refuses_deep_variables_and_labels(caller_number, agent_profile):
    for field in ("variables", "labels"):
        with pytest.raises(ValidationError) as error:
            call_create(
                to_number="+14155550150",
                caller_id=caller_number,
                agent_profile=agent_profile,
                **{"variables": {"first_name": "Ada"}, field: {"a": nested(LIMIT)}},
            )
        assert "deeper than the 32 levels" in str(error.value.message_dict[field])


@pytest.mark.django_db
def test_agent_profiles_refuse_deep_properties():
    profile = AgentProfile(name="Deep", pipeline_id="p", properties={"a": nested(LIMIT)})

    with pytest.raises(ValidationError) as error:
        profile.full_clean()

    assert "deeper than the 32 levels" in str(error.value.message_dict["properties"])


# -- admin forms ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [LIMIT + 1, 100_000])
def test_the_contact_form_refuses_deep_variables_with_a_form_error(admin_client, depth):
    contact_list = ContactList.objects.create(name="Customers")

    response = admin_client.post(
        reverse("admin:campaigns_contact_add"),
        {"contact_list": contact_list.pk, "phone": "+14155550100", "variables": deep_text(depth)},
    )

    assert response.status_code == 200
    assert "nested deeper than 32 levels" in str(response.context["adminform"].form.errors)
    assert not Contact.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [LIMIT + 1, 100_000])
def test_the_agent_form_refuses_deep_properties_with_a_form_error(admin_client, depth):
    response = admin_client.post(
        reverse("admin:telephony_agentprofile_add"),
        {"name": "Deep", "pipeline_id": "p", "properties": deep_text(depth), "_save": "Save"},
    )

    assert response.status_code == 200
    assert "nested deeper than 32 levels" in str(response.context["adminform"].form.errors)
    assert not AgentProfile.objects.exists()


# -- admin pages showing stored JSON at the limit ---------------------------------------------


@pytest.mark.django_db
def test_admin_pages_render_json_nested_to_the_limit(admin_client, caller_number, agent_profile):
    at_limit = {"first_name": "Ada", "nested_marker": nested(LIMIT - 1)}
    contact = Contact.objects.create(
        contact_list=ContactList.objects.create(name="Customers"),
        phone="+14155550100",
        variables=at_limit,
    )
    profile = AgentProfile.objects.create(name="Deep", pipeline_id="p", properties=at_limit)
    call = call_create(
        to_number="+14155550150",
        caller_id=caller_number,
        agent_profile=agent_profile,
        variables=at_limit,
        labels=at_limit,
    )
    pages = [
        reverse("admin:campaigns_contact_change", args=[contact.pk]),
        reverse("admin:telephony_agentprofile_change", args=[profile.pk]),
        reverse("admin:telephony_call_change", args=[call.pk]),
    ]

    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert "nested_marker" in response.content.decode(), url

    # and the contact's form saves it back unchanged
    response = admin_client.post(
        pages[0],
        {"contact_list": contact.contact_list_id, "phone": contact.phone,
         "variables": json.dumps(at_limit), "_save": "Save"},
    )  # fmt: skip
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.variables == at_limit
