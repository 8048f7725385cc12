import pytest

from telephony.agora import BadRequest, Conflict, NotFound, PhoneNumberImport, Unprocessable
from tests.support.simulator import BASIC, raw


def sample(**overrides) -> PhoneNumberImport:
    values = {
        "provider": "twilio",
        "phone_number": "+14155550123",
        "label": "Support",
        "inbound_allowed_addresses": ["54.172.60.0/30", "10.0.0.1"],
        "outbound_address": "contactcenter.pstn.twilio.com",
        "outbound_transport": "tls",
        "outbound_prefix": "9",
        "outbound_user": "trunk-user",
        "outbound_password": "trunk-password-123",
        **overrides,
    }
    return PhoneNumberImport(**values)


def test_import_get_list_update_delete(sim, client):
    created = client.import_phone_number(sample())
    assert (created.phone_number, created.provider, created.label) == (
        "+14155550123", "twilio", "Support",
    )  # fmt: skip
    assert created.associated_pipeline_id is None

    fetched = client.get_phone_number("+14155550123")
    assert fetched.inbound_config == {"allowed_addresses": ["54.172.60.0/30", "10.0.0.1"]}
    assert fetched.outbound_config == {
        "address": "contactcenter.pstn.twilio.com",
        "transport": "tls",
        "prefix": "9",
    }
    assert [n.phone_number for n in client.list_phone_numbers()] == ["+14155550123"]

    bound = client.update_phone_number("+14155550123", inbound_pipeline_id="pipe-in")
    assert (bound.associated_pipeline_id, bound.associated_pipeline_name) == (
        "pipe-in", "Pipeline pipe-in",
    )  # fmt: skip
    assert bound.inbound_config["allowed_addresses"] == ["54.172.60.0/30", "10.0.0.1"]

    cleared = client.update_phone_number("+14155550123", inbound_pipeline_id=None)
    assert cleared.inbound_config is None
    assert cleared.associated_pipeline_id is None

    client.delete_phone_number("+14155550123")
    assert client.list_phone_numbers() == []
    with pytest.raises(NotFound):
        client.get_phone_number("+14155550123")


def test_credentials_are_never_returned(sim, client):
    client.import_phone_number(sample())
    response = raw(sim, "GET", "/v2/phone-numbers/+14155550123", headers=BASIC)
    assert "trunk-password-123" not in response.text
    assert "trunk-user" not in response.text


def test_delete_answers_204_with_an_empty_body(sim, client):
    client.import_phone_number(sample())
    response = raw(sim, "DELETE", "/v2/phone-numbers/%2B14155550123", headers=BASIC)
    assert (response.status_code, response.content) == (204, b"")


def test_duplicate_import_is_409_and_unknown_numbers_404(sim, client):
    client.import_phone_number(sample())
    with pytest.raises(Conflict) as error:
        client.import_phone_number(sample(label="Again"))
    assert error.value.reason == "phone_number_exists"
    assert client.get_phone_number("+14155550123").label == "Support"

    for call in (
        lambda: client.get_phone_number("+14155550999"),
        lambda: client.update_phone_number("+14155550999", outbound_pipeline_id="p"),
        lambda: client.delete_phone_number("+14155550999"),
    ):
        with pytest.raises(NotFound):
            call()


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"phone_number": "4155550123"}, 400, "E.164"),
        ({"provider": "vonage"}, 422, "provider"),
        ({"label": None}, 422, "label"),
        ({"inbound": "yes"}, 422, "inbound must be a boolean"),
        ({"inbound_config": {"allowed_addresses": ["not-an-ip"]}}, 422, "not an IP"),
        ({"outbound_config": {"address": "sip.example", "transport": "ws"}}, 422, "transport"),
        ({"outbound_config": {}}, 422, "address is required"),
        ({"inbound_config": "x"}, 422, "inbound_config must be an object"),
    ],
)
def test_import_validation(sim, body, status, message):
    valid = {
        "provider": "byo",
        "phone_number": "+14155550123",
        "label": "L",
        "inbound_config": {},
        "outbound_config": {"address": "sip.example", "transport": "udp"},
    }
    response = raw(sim, "POST", "/v2/phone-numbers", json={**valid, **body}, headers=BASIC)
    assert response.status_code == status, response.text
    assert message in response.json()["description"]
    assert sim.list_numbers() == []


def test_both_configs_are_required_on_import(sim):
    body = {"provider": "byo", "phone_number": "+14155550123", "label": "L"}
    response = raw(sim, "POST", "/v2/phone-numbers", json=body, headers=BASIC)
    assert response.status_code == 422


def test_update_validation(sim, client):
    client.import_phone_number(sample())
    response = raw(
        sim, "PATCH", "/v2/phone-numbers/+14155550123",
        json={"inbound_config": {"pipeline_id": 5}}, headers=BASIC,
    )  # fmt: skip
    assert response.status_code == 422
    with pytest.raises(BadRequest):
        client.update_phone_number("bad", outbound_pipeline_id="p")
    with pytest.raises(Unprocessable):
        client._request(
            "PATCH", "/v2/phone-numbers/%2B14155550123", json=[1], safe_to_repeat=False,
            operation="update_phone_number", account_level=True,
        )  # fmt: skip


def test_numbers_survive_a_restart_in_the_state_file(make_sim, make_client, tmp_path):
    state = str(tmp_path / "state.json")
    first = make_sim(state_file=state)
    client = make_client(first)
    client.import_phone_number(sample())
    client.update_phone_number("+14155550123", outbound_pipeline_id="p-out")
    client.import_phone_number(sample(phone_number="+14155550124"))
    client.delete_phone_number("+14155550124")

    again = make_sim(state_file=state)

    restored = make_client(again).get_phone_number("+14155550123")
    assert (restored.label, restored.associated_pipeline_id) == ("Support", "p-out")
    assert [n["phone_number"] for n in again.list_numbers()] == ["+14155550123"]
    saved = (tmp_path / "state.json").read_text()
    assert "trunk-password-123" not in saved
    assert "trunk-user" not in saved
