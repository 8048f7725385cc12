import pytest

from telephony.agora import Unprocessable
from tests.support.simulator import call_request, import_number


@pytest.fixture
def many_calls(sim, client, caller):
    """25 calls one second apart to three callees: failing, busy, and never hanging up."""
    agent_ids = []
    for index in range(25):
        callee = ("+14155550003", "+14155550002", "+14155550004")[index % 3]
        agent_ids.append(client.place_call(call_request(callee, name=f"m{index}")).agent_id)
        sim.advance(1)
    return agent_ids


def test_pages_follow_the_cursor_until_it_is_empty(sim, client, many_calls):
    first = client.list_calls(limit=10)
    assert (first.count, first.total) == (10, 25)
    assert first.cursor == first.calls[-1].agent_id
    # Newest first.
    assert [call.agent_id for call in first.calls] == many_calls[::-1][:10]

    second = client.list_calls(limit=10, cursor=first.cursor)
    third = client.list_calls(limit=10, cursor=second.cursor)
    assert [call.agent_id for call in second.calls] == many_calls[::-1][10:20]
    assert third.count == 5
    assert third.cursor is None  # the server sends "" on the last page

    assert [call.agent_id for call in client.iter_calls(page_size=7)] == many_calls[::-1]


def test_filters_by_number_type_and_time(sim, client, many_calls):
    by_callee = list(client.iter_calls(number="+14155550002"))
    assert len(by_callee) == 8
    assert all(call.to_number == "+14155550002" for call in by_callee)
    assert len(list(client.iter_calls(number="+14155550100"))) == 25  # the caller matches too

    assert list(client.iter_calls(type="inbound")) == []
    assert len(list(client.iter_calls(type="outbound"))) == 25

    created = [call.create_ts for call in client.iter_calls()]
    window = list(client.iter_calls(from_time=min(created) + 5, to_time=min(created) + 9))
    assert len(window) == 5


def test_list_items_carry_state_but_no_reason(sim, client, many_calls):
    sim.advance(60)
    items = client.list_calls(limit=25).raw["data"]["list"]
    assert all("reason" not in item for item in items)
    assert {item["state"] for item in items} == {"hangup", "answered"}


def test_default_window_is_the_last_sixty_days(sim, client, caller):
    client.place_call(call_request("+14155550150", name="old"))
    sim.advance(61 * 86_400)
    import_number(client, "+14155550199")
    assert client.list_calls().total == 0
    assert client.list_calls(from_time=0).total == 1


@pytest.mark.parametrize(
    "params",
    [{"cursor": "NOPE"}, {"limit": 0}, {"limit": 501}],
)
def test_bad_list_parameters_are_422(client, many_calls, params):
    with pytest.raises(Unprocessable):
        client.list_calls(**params) if "cursor" in params else _raw_limit(client, params["limit"])


def _raw_limit(client, limit):
    # The client refuses limit <= 0 itself; send it raw to see the server's answer.
    client._request(
        "GET",
        f"/v2/projects/{client.config.app_id}/call",
        params={"limit": limit},
        safe_to_repeat=True,
        operation="list_calls",
    )
