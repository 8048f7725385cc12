"""The LLM analyzer: against respx for the error paths, and end to end against the simulator's
OpenAI-compatible stand-in through the service."""

import json
import logging

import httpx
import pytest
import respx
from django.core.management import CommandError, call_command

from analysis.evaluation import LABELLED_SET, load_items
from analysis.llm import AnalyzerError, LlmAnalyzer, LlmConfig
from analysis.models import CallAnalysis
from analysis.services import call_analyze, use_llm_transport
from telephony.outcomes import DEFAULT_OUTCOMES
from telephony.simulator import sim_transport
from tests.analysis.test_services import ended_campaign_call

URL = "https://llm.example/v1"
KEY = "sk-test-secret-llm-key-0123456789"
CONFIG = LlmConfig(URL, "gpt-test", KEY, timeout=2, max_retries=2)
TRANSCRIPT = [
    {"role": "assistant", "content": "Hi, this is Acme."},
    {"role": "user", "content": "Sounds good, sign me up."},
]
GOOD = {"disposition": "interested", "summary": "They signed up.", "success": True,
        "success_reason": "signed up", "opt_out": False, "callback_at_local": None,
        "fields": {"plan": "basic"}}  # fmt: skip


def reply(content, **extra) -> httpx.Response:
    body = {
        "choices": [{"message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    }
    return httpx.Response(200, json=body | extra)  # fmt: skip


def ask(sleeps: list | None = None):
    sleeps = [] if sleeps is None else sleeps
    analyzer = LlmAnalyzer(CONFIG, client=httpx.Client(), sleep=sleeps.append)
    return analyzer.analyze(TRANSCRIPT, dispositions=DEFAULT_OUTCOMES,
                            success_dispositions=frozenset({"interested"}), zone=None,
                            started_at=None)  # fmt: skip


@respx.mock
def test_json_mode_the_key_in_a_header_and_the_token_usage():
    route = respx.post(f"{URL}/chat/completions").mock(return_value=reply(json.dumps(GOOD)))
    result, usage = ask()
    assert (result.disposition, result.fields, result.analyzer) == (
        "interested", {"plan": "basic"}, "llm",
    )  # fmt: skip
    assert usage == {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
    sent = route.calls.last.request
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    body = json.loads(sent.content)
    assert body["response_format"] == {"type": "json_object"}
    assert json.loads(body["messages"][1]["content"])["transcript"][1]["content"].startswith(
        "Sounds good"
    )


@respx.mock
def test_a_wrong_answer_is_asked_again_once_with_the_problem_named():
    wrong = dict(GOOD, disposition="sold")
    route = respx.post(f"{URL}/chat/completions").mock(
        side_effect=[reply(json.dumps(wrong)), reply(json.dumps(GOOD))]
    )
    result, usage = ask()
    assert result.disposition == "interested" and usage["total_tokens"] == 240
    retry = json.loads(route.calls.last.request.content)["messages"][-1]["content"]
    assert "disposition must be one of" in retry

    respx.post(f"{URL}/chat/completions").mock(return_value=reply("not json at all"))
    with pytest.raises(AnalyzerError, match="did not follow the plan: not a JSON object"):
        ask()


@respx.mock
def test_429_and_5xx_back_off_honouring_retry_after_then_give_up(caplog):
    respx.post(f"{URL}/chat/completions").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(503),
                     reply(json.dumps(GOOD))]
    )  # fmt: skip
    sleeps: list[float] = []
    assert ask(sleeps)[0].disposition == "interested"
    assert sleeps == [3.0, 2.0]

    respx.post(f"{URL}/chat/completions").mock(return_value=httpx.Response(500))
    with caplog.at_level(logging.INFO), pytest.raises(AnalyzerError, match="answered 500 after 3"):
        ask()
    respx.post(f"{URL}/chat/completions").mock(return_value=httpx.Response(401))
    with pytest.raises(AnalyzerError, match=r"refused the request \(401\)") as refused:
        ask()
    assert KEY not in str(refused.value) and KEY not in caplog.text and KEY not in repr(CONFIG)


@respx.mock
def test_timeouts_are_retried_then_reported():
    respx.post(f"{URL}/chat/completions").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(AnalyzerError, match="timed out after 3 tries"):
        ask()


@pytest.mark.django_db
def test_the_service_uses_the_simulators_stand_in_end_to_end(settings, simulator):
    settings.ANALYSIS_ANALYZER = "llm"
    settings.ANALYSIS_LLM_URL = "http://simulator.test/llm/v1"
    settings.ANALYSIS_LLM_MODEL = "simulated"
    settings.ANALYSIS_LLM_API_KEY = KEY
    _, call = ended_campaign_call("Yes.", "Please take me off your list.")
    with use_llm_transport(sim_transport(simulator)):
        analysis = call_analyze(call_id=call.pk)
    assert (analysis.analyzer, analysis.disposition, analysis.opt_out) == (
        "llm", "do_not_call", True,
    )  # fmt: skip
    assert analysis.token_usage["total_tokens"] > 0
    assert simulator.ledger.request_counts["chat_completions"] == 1

    simulator.inject_fault("error", operation="chat_completions", times=4)  # every try
    settings.ANALYSIS_LLM_TIMEOUT_SECONDS = 1
    with use_llm_transport(sim_transport(simulator)):
        fallback = call_analyze(call_id=call.pk)
    assert fallback.analyzer == "builtin"
    assert fallback.reasons[0].startswith("the LLM was not used: the LLM endpoint answered 503")
    assert CallAnalysis.objects.count() == 1


@pytest.mark.django_db
def test_past_the_hourly_budget_the_builtin_analyzer_answers(settings, simulator):
    settings.ANALYSIS_ANALYZER = "llm"
    settings.ANALYSIS_LLM_URL = "http://simulator.test/llm/v1"
    settings.ANALYSIS_LLM_PER_HOUR = 0
    _, call = ended_campaign_call("Yes.", "Sign me up.")
    with use_llm_transport(sim_transport(simulator)):
        analysis = call_analyze(call_id=call.pk)
    assert analysis.analyzer == "builtin"
    assert "budget" in analysis.reasons[0]


@pytest.mark.django_db
def test_the_command_runs_the_llm_path_over_the_labelled_set(settings, simulator, capsys):
    """The LLM path end to end (prompt, JSON mode, the check, the callback time converted from
    the callee's local time) over the whole labelled set, against the simulator's stand-in. The
    stand-in answers with the built-in rules, so this measures the path, not a model: a real
    model is measured with the same command against its endpoint (README)."""
    settings.ANALYSIS_LLM_URL = "http://simulator.test/llm/v1"
    settings.ANALYSIS_LLM_MODEL = "simulated"
    settings.ANALYSIS_LLM_API_KEY = KEY
    with use_llm_transport(sim_transport(simulator)):
        call_command("analyze_transcripts", str(LABELLED_SET), "--analyzer", "llm")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    measured = lines[-1]["figures"]
    with capsys.disabled():
        print(f"\nLLM path (simulator stand-in) on the labelled set: {json.dumps(measured)}")
    assert measured["items"] == len(load_items(LABELLED_SET))
    assert simulator.ledger.request_counts["chat_completions"] == measured["items"]
    assert measured["disposition_accuracy"] >= 0.9
    assert measured["callback_time_accuracy"] >= 0.9
    assert (measured["opt_out_recall"], measured["false_opt_outs"]) == (1.0, 0)
    assert KEY not in json.dumps(lines)


def test_the_command_says_when_no_llm_is_configured(settings, tmp_path):
    settings.ANALYSIS_LLM_URL = ""
    settings.AGORA_SIMULATOR = False
    path = tmp_path / "calls.json"
    path.write_text("[]")
    with pytest.raises(CommandError, match="No LLM is configured"):
        call_command("analyze_transcripts", str(path), "--analyzer", "llm")
