"""Success bodies match the OpenAPI spec's schemas (field names, types, enums, nullability).

The schemas are written from the spec's facts; `additionalProperties: false` catches fields the
spec does not document, and a field that is not nullable may not be sent as null.
"""

import pytest
from jsonschema import Draft7Validator

from tests.support.simulator import APP_ID, BASIC, call_request, import_number, raw

STR, INT, BOOL, NUM = (
    {"type": "string"},
    {"type": "integer"},
    {"type": "boolean"},
    {"type": "number"},
)


def obj(required=(), **properties):
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


def nullable(schema):
    return {"anyOf": [schema, {"type": "null"}]}


CALL_FIELDS = {
    "to_number": STR, "from_number": STR, "pipeline_id": STR,
    "type": {"enum": ["inbound", "outbound"]}, "agent_id": STR, "channel": STR,
    "create_ts": INT, "state": {"enum": ["answered", "hangup"]}, "stop_ts": nullable(INT),
}  # fmt: skip
GET_CALL = obj(("agent_id",), reason={"enum": ["request", "hangup", "failed"]}, **CALL_FIELDS)
LIST_CALLS = obj(
    ("data", "meta", "status"),
    data=obj(("count", "list"), count=INT, list={"type": "array", "items": obj(**CALL_FIELDS)}),
    meta=obj(("cursor", "total"), cursor=STR, total=INT),
    status=STR,
)
PLACED = obj(("agent_id",), agent_id=STR)
EMPTY = obj()
PIPELINE = nullable(obj(pipeline_id=STR, pipeline_name=STR))
NUMBER_BASE = {
    "provider": {"enum": ["byo", "twilio"]}, "phone_number": STR, "label": STR,
    "inbound": BOOL, "outbound": BOOL, "associated_pipeline": PIPELINE,
}  # fmt: skip
NUMBER = obj(
    NUMBER_BASE,
    inbound_config=nullable({"type": "object"}),
    outbound_config=nullable({"type": "object"}),
    **NUMBER_BASE,
)
IMPORTED = obj(NUMBER_BASE, **NUMBER_BASE)
NUMBERS = {"type": "array", "items": NUMBER}
AGENT_STATUS = obj(
    ("status", "agent_id"),
    message=STR, start_ts=INT, stop_ts=INT, agent_id=STR,
    status={"enum": ["IDLE", "STARTING", "RUNNING", "STOPPING", "STOPPED", "FAILED"]},
)  # fmt: skip
HISTORY = obj(
    ("agent_id", "contents"),
    agent_id=STR, start_ts=INT, status={"enum": ["RUNNING"]},
    contents={"type": "array", "items": obj(
        ("role", "content"), role={"enum": ["user", "assistant"]}, content=STR)},
)  # fmt: skip
TURN = obj(
    agent_id=STR, channel=STR, turn_id=NUM,
    start=obj(start_at=NUM, type={"enum": ["voice_input", "greeting", "silence_timeout",
                                           "api_speak"]}, metadata={"type": "object"}),
    end=obj(end_at=NUM, type={"enum": ["ok", "interrupted", "ignored", "error"]},
            metadata={"type": "object"}),
    metrics=obj(e2e_latency_ms=INT, segmented_latency_ms={
        "type": "array", "items": obj(name=STR, latency=NUM)}),
)  # fmt: skip
TURNS = obj(
    agent_id=STR, name=STR, channel=STR, total_turn_count=INT,
    pagination=obj(page_index=INT, total_pages=INT, is_last_page=BOOL),
    turns={"type": "array", "items": TURN},
)  # fmt: skip
SPEAK = obj(agent_id=STR, channel=STR, start_ts=INT)


def check(schema, response, status=200):
    assert response.status_code == status, response.text
    errors = [error.message for error in Draft7Validator(schema).iter_errors(response.json())]
    assert errors == []


@pytest.fixture
def scenario(sim, client):
    import_number(client)
    import_number(client, "+14155550177", inbound=True)
    client.update_phone_number("+14155550177", inbound_pipeline_id="p-in")
    ids = {
        "answered": client.place_call(call_request("+14155550990", name="s-a")).agent_id,
        "failed": client.place_call(call_request("+14155550003", name="s-f")).agent_id,
        "dialing": None,
    }
    sim.advance(30)
    ids["dialing"] = client.place_call(call_request("+14155550150", name="s-d")).agent_id
    return ids


def project(path):
    return f"/v2/projects/{APP_ID}{path}"


def test_telephony_bodies(sim, scenario):
    for agent_id in scenario.values():
        check(GET_CALL, raw(sim, "GET", project(f"/calls/{agent_id}"), headers=BASIC))
    check(LIST_CALLS, raw(sim, "GET", project("/call?limit=2"), headers=BASIC))
    check(LIST_CALLS, raw(sim, "GET", project("/call"), headers=BASIC))
    body = call_request("+14155550150", name="s-new").to_body()
    check(PLACED, raw(sim, "POST", project("/call"), json=body, headers=BASIC))
    hangup = raw(sim, "POST", project(f"/calls/{scenario['answered']}/hangup"), json={},
                 headers=BASIC)  # fmt: skip
    check(EMPTY, hangup)


def test_phone_number_bodies(sim, scenario):
    check(NUMBERS, raw(sim, "GET", "/v2/phone-numbers", headers=BASIC))
    check(NUMBER, raw(sim, "GET", "/v2/phone-numbers/+14155550177", headers=BASIC))
    patch = {"outbound_config": {"pipeline_id": "p-out"}}
    check(NUMBER, raw(sim, "PATCH", "/v2/phone-numbers/+14155550177", json=patch, headers=BASIC))
    new = {
        "provider": "byo", "phone_number": "+14155550166", "label": "x",
        "inbound_config": {}, "outbound_config": {"address": "sip.example"},
    }  # fmt: skip
    check(IMPORTED, raw(sim, "POST", "/v2/phone-numbers", json=new, headers=BASIC), status=201)


def test_agent_bodies(sim, scenario):
    for agent_id in (scenario["answered"], scenario["failed"], scenario["dialing"]):
        check(AGENT_STATUS, raw(sim, "GET", project(f"/agents/{agent_id}"), headers=BASIC))
    check(HISTORY, raw(sim, "GET", project(f"/agents/{scenario['answered']}/history"),
                       headers=BASIC))  # fmt: skip
    check(TURNS, raw(sim, "GET", project(f"/agents/{scenario['answered']}/turns?page_size=10"),
                     headers=BASIC))  # fmt: skip
    speak = {"text": "hello", "priority": "IGNORE", "interruptable": False}
    check(SPEAK, raw(sim, "POST", project(f"/agents/{scenario['answered']}/speak"), json=speak,
                     headers=BASIC))  # fmt: skip
    check(SPEAK, raw(sim, "POST", project(f"/agents/{scenario['answered']}/interrupt"), json={},
                     headers=BASIC))  # fmt: skip
