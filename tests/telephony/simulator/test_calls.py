"""Placing, reading and hanging up calls on the simulator, through the project's client."""

import pytest

from telephony.agora import (
    AgoraTransportError,
    BadRequest,
    CallNameConflict,
    ConcurrencyLimitExceeded,
    Forbidden,
    NotFound,
    Unauthorized,
    Unprocessable,
)
from tests.support.simulator import APP_ID, BASIC, CALLER, call_request, import_number, raw


def test_an_answered_call_plays_its_whole_lifecycle(sim, client, caller):
    placed = client.place_call(call_request("+14155550150", name="a1"))  # talks 15 s

    assert client.get_call(placed.agent_id).state is None  # dialing: no REST state yet
    sim.advance(0.5 + 1.0 + 3.0)
    answered = client.get_call(placed.agent_id)
    assert (answered.state, answered.stop_ts, answered.reason) == ("answered", None, None)

    sim.advance(15)
    ended = client.get_call(placed.agent_id)
    assert (ended.state, ended.reason) == ("hangup", "hangup")
    assert ended.stop_ts == ended.create_ts + 19
    assert sim.ledger_calls()[0]["states"] == ["START", "CALLING", "RINGING", "ANSWERED", "HANGUP"]


@pytest.mark.parametrize(
    ("callee", "states", "seconds_to_end"),
    [
        ("+14155550001", ["START", "CALLING", "RINGING", "HANGUP"], 0.5 + 1.0 + 20.0),
        ("+14155550002", ["START", "CALLING", "HANGUP"], 0.5 + 1.0),
        ("+14155550003", ["START", "HANGUP"], 0.5),
    ],
    ids=["no-answer", "busy", "failed"],
)
def test_unanswered_endings(sim, client, caller, callee, states, seconds_to_end):
    placed = client.place_call(call_request(callee, name="u1"))

    sim.advance(seconds_to_end - 0.01)
    assert client.get_call(placed.agent_id).stop_ts is None
    sim.advance(0.01)

    call = client.get_call(placed.agent_id)
    assert (call.state, call.reason) == ("hangup", "failed")
    assert sim.ledger_calls()[0]["states"] == states
    assert sim.live_calls() == 0


def test_a_call_that_never_hangs_up_ends_only_by_request(sim, client, caller):
    placed = client.place_call(call_request("+14155550004", name="long"))
    sim.advance(3600)
    assert client.get_call(placed.agent_id).state == "answered"

    client.hangup_call(placed.agent_id)

    call = client.get_call(placed.agent_id)
    assert (call.state, call.reason) == ("hangup", "request")
    assert sim.ledger_calls()[0]["states"][-1] == "HANGUP"


def test_hanging_up_while_ringing_ends_with_reason_request(sim, client, caller):
    placed = client.place_call(call_request("+14155550150", name="r1"))
    sim.advance(2)  # ringing
    client.hangup_call(placed.agent_id)
    sim.advance(60)  # the scheduled answer must not happen any more

    call = client.get_call(placed.agent_id)
    assert (call.state, call.reason) == ("hangup", "request")
    assert sim.ledger_calls()[0]["states"] == ["START", "CALLING", "RINGING", "HANGUP"]


def test_hangup_of_an_ended_call_is_harmless_and_unknown_ids_are_404(sim, client, caller):
    placed = client.place_call(call_request("+14155550003", name="f1"))
    sim.advance(5)
    client.hangup_call(placed.agent_id)
    assert client.get_call(placed.agent_id).reason == "failed"

    with pytest.raises(NotFound) as error:
        client.hangup_call("NOSUCHAGENT")
    assert error.value.reason == "not_found"
    with pytest.raises(NotFound):
        client.get_call("NOSUCHAGENT")


def test_a_repeated_name_is_refused_with_409_and_places_nothing(sim, client, caller):
    client.place_call(call_request("+14155550150", name="same"))

    with pytest.raises(CallNameConflict) as error:
        client.place_call(call_request("+14155550150", name="same"))

    assert error.value.status_code == 409
    assert error.value.reason == "TaskConflict"
    assert len(sim.ledger.calls) == 1


def test_calls_beyond_the_cap_are_refused_until_one_ends(make_sim, make_client):
    sim = make_sim(max_concurrent_calls=2)
    client = make_client(sim)
    import_number(client)
    first = client.place_call(call_request("+14155550004", name="c1"))
    client.place_call(call_request("+14155550004", name="c2"))

    with pytest.raises(ConcurrencyLimitExceeded) as error:
        client.place_call(call_request("+14155550004", name="c3"))
    assert error.value.status_code == 422
    assert sim.ledger.refused_over_cap == 1

    client.hangup_call(first.agent_id)
    client.place_call(call_request("+14155550004", name="c3"))
    assert sim.ledger.peak_live_calls == 2
    assert len(sim.ledger.calls) == 3


def test_a_refused_name_stays_free_and_a_409_wins_over_the_cap(make_sim, make_client):
    sim = make_sim(max_concurrent_calls=1)
    client = make_client(sim)
    import_number(client)
    client.place_call(call_request("+14155550004", name="only"))

    # A retry of an accepted call is told it exists, even at the cap.
    with pytest.raises(CallNameConflict):
        client.place_call(call_request("+14155550004", name="only"))


@pytest.mark.parametrize(
    ("headers", "description"),
    [
        ({}, "Missing Authorization header"),
        ({"Authorization": "Basic !!!not-base64"}, "Malformed credentials"),
        ({"Authorization": "Basic " + "bm9jb2xvbg=="}, "Malformed credentials"),  # "nocolon"
        ({"Authorization": "Basic c2ltLWN1c3RvbWVyOndyb25n"}, "Authentication failed"),
        ({"Authorization": "agora token=short"}, "Malformed Agora token"),
        ({"Authorization": "Digest abc"}, "Unsupported Authorization scheme"),
    ],
)
def test_requests_without_valid_credentials_get_401(sim, headers, description):
    response = raw(sim, "GET", f"/v2/projects/{APP_ID}/call", headers=headers)

    assert response.status_code == 401
    assert response.json()["error_type"] == "unauthorized"
    assert description in response.json()["description"]


def test_wrong_credentials_raise_unauthorized_in_the_client(make_client, sim):
    client = make_client(sim, customer_secret="not-the-secret")
    with pytest.raises(Unauthorized):
        client.list_calls()


def test_token_auth_works_for_calls_but_not_for_phone_numbers(make_client, sim, caller):
    client = make_client(sim, auth_mode="token")
    placed = client.place_call(call_request("+14155550150", name="tok"))
    assert client.get_call(placed.agent_id, auth_channel="ch-tok").agent_id == placed.agent_id

    response = raw(
        sim, "GET", "/v2/phone-numbers", headers={"Authorization": "agora token=006" + "x" * 40}
    )
    assert response.status_code == 401


def test_another_app_id_is_forbidden(make_client, sim):
    with pytest.raises(Forbidden):
        make_client(sim, app_id="someone-elses-app").list_calls()


@pytest.mark.parametrize(
    ("mutate", "status", "message"),
    [
        (lambda body: body.pop("name"), 422, "name is required"),
        (lambda body: body["sip"].pop("rtc_token"), 422, "sip.rtc_token is required"),
        (lambda body: body["properties"].pop("channel"), 422, "properties.channel is required"),
        (lambda body: body.pop("sip"), 422, "sip is required"),
        (lambda body: body["sip"].update(to_number="4155550150"), 400, "sip.to_number"),
        (lambda body: body["sip"].update(from_number="+1 415 555"), 400, "sip.from_number"),
        (lambda body: body["sip"].update(from_number="+14155559999"), 422, "not an imported"),
        (lambda body: body["properties"].update(agent_rtc_uid="100"), 422, "must differ"),
        (lambda body: body.pop("pipeline_id"), 422, "properties.llm is required"),
        (lambda body: body["properties"].update(remote_rtc_uids=[100]), 422, "remote_rtc_uids"),
        (lambda body: body["properties"].update(labels="x"), 422, "labels must be an object"),
        (lambda body: body["sip"].update(rtc_token="006simappAAAA"), 422, "sip.rtc_token"),
        (lambda body: body["properties"].update(channel="other"), 422, "another channel"),
    ],
)
def test_place_call_validation(sim, caller, mutate, status, message):
    body = call_request("+14155550150", name="v1").to_body()
    mutate(body)

    response = raw(sim, "POST", f"/v2/projects/{APP_ID}/call", json=body, headers=BASIC)

    assert response.status_code == status, response.text
    assert message in response.json()["description"]
    assert sim.ledger.calls == []


def test_full_agent_config_without_pipeline_is_accepted(sim, client, caller):
    request = call_request(
        "+14155550150",
        name="full",
        pipeline_id=None,
        llm={"url": "https://llm.example/v1", "greeting_message": "Hi from the test"},
        tts={"vendor": "microsoft", "params": {}},
        asr={"language": "en-US"},
    )
    placed = client.place_call(request)
    sim.advance(10)
    assert client.get_agent_history(placed.agent_id).contents[0].content == "Hi from the test"


def test_outbound_disabled_numbers_cannot_call(sim, client):
    import_number(client, outbound=False, inbound=True)
    with pytest.raises(Unprocessable) as error:
        client.place_call(call_request("+14155550150", name="nope"))
    assert "outbound calling enabled" in str(error.value)


def test_invalid_json_is_a_400(sim, caller):
    response = raw(sim, "POST", f"/v2/projects/{APP_ID}/call", content=b"{nope", headers=BASIC)
    assert response.status_code == 400


def test_unknown_paths_and_methods(sim):
    assert raw(sim, "GET", "/v2/nothing", headers=BASIC).status_code == 404
    assert raw(sim, "PUT", f"/v2/projects/{APP_ID}/call", headers=BASIC).status_code == 405


def test_random_mode_is_seeded_and_reproducible(make_sim, make_client):
    def outcomes(seed):
        sim = make_sim(mode="random", seed=seed, max_concurrent_calls=100)
        client = make_client(sim)
        import_number(client)
        for index in range(40):
            client.place_call(call_request("+14155550150", name=f"r{index}"))
        sim.advance(600)
        return [call["reason"] for call in sim.ledger_calls()]

    first, again, other = outcomes(7), outcomes(7), outcomes(8)
    assert first == again
    assert first != other
    assert {"hangup", "failed"} <= set(first)


def test_a_lost_response_takes_effect_and_the_retry_meets_409(sim, client, caller):
    sim.inject_fault("lost_response", operation="place_call")

    with pytest.raises(CallNameConflict):
        client.place_call(call_request("+14155550150", name="lost"))

    assert len(sim.ledger.calls) == 1
    assert sim.ledger.fault_counts["lost_response"] == 1


def test_a_lost_response_without_retries_is_a_transport_error(make_client, sim, caller):
    client = make_client(sim, max_retries=0)
    sim.inject_fault("lost_response", operation="place_call")
    with pytest.raises(AgoraTransportError) as error:
        client.place_call(call_request("+14155550150", name="lost0"))
    assert error.value.response_lost is True
    assert sim.ledger.calls[0].from_number == CALLER


def test_bad_request_is_raised_for_invalid_numbers(client, caller):
    with pytest.raises(BadRequest) as error:
        client.get_phone_number("555-0100")
    assert error.value.reason == "invalid_phone_format"
