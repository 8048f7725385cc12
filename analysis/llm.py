"""The LLM analyzer: any OpenAI-compatible chat-completions endpoint, asked for one JSON object
that follows the plan (JSON mode), checked, and asked once more with the problem named when the
answer does not hold. Timeouts, and a bounded backoff on 429 and 5xx (Retry-After honoured);
the key is sent in a header and never appears in a log line or an error. No Django: the
service gives it its configuration.
"""

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx

from analysis.builtin import Analysis, turns_of
from telephony.analysis_fields import check_fields

logger = logging.getLogger(__name__)
ANALYZER = "llm"
MAX_BACKOFF_SECONDS = 30.0
SYSTEM_PROMPT = """\
You analyse the transcript of a phone call an AI agent made. Answer with one JSON object only:
{"disposition": one of DISPOSITIONS,
 "summary": two sentences on what was said and agreed,
 "success": SUCCESS_RULE,
 "success_reason": one sentence,
 "opt_out": true only if the callee asked not to be called again,
 "callback_at_local": the local time the callee asked to be called back, "YYYY-MM-DDTHH:MM" in
   their time zone, worked out from call_started_at, or null,
 "fields": an object with exactly the fields of FIELDS_SCHEMA (null when not said)}"""


class AnalyzerError(Exception):
    """The LLM could not give an analysis (said without the key)."""


@dataclass(frozen=True)
class LlmConfig:
    url: str  # the base URL, e.g. https://api.openai.com/v1 (…/chat/completions is added)
    model: str
    api_key: str
    timeout: float = 20.0
    max_retries: int = 3

    def __repr__(self) -> str:  # never the key
        return f"LlmConfig(url={self.url!r}, model={self.model!r})"


def _endpoint(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/chat/completions") else f"{url}/chat/completions"


def _problem(answer: dict, dispositions: tuple[str, ...], fields_schema: dict) -> str | None:
    if answer.get("disposition") not in dispositions:
        return f"disposition must be one of {list(dispositions)}"
    if not isinstance(answer.get("summary"), str):
        return "summary must be text"
    for name in ("success", "opt_out"):
        if not isinstance(answer.get(name), bool):
            return f"{name} must be true or false"
    when = answer.get("callback_at_local")
    if when is not None:
        try:
            datetime.strptime(when, "%Y-%m-%dT%H:%M")
        except (TypeError, ValueError):
            return "callback_at_local must be YYYY-MM-DDTHH:MM or null"
    if not isinstance(answer.get("fields", {}), dict):
        return "fields must be an object"
    _, problems = check_fields(fields_schema, answer.get("fields") or {})
    if problems:
        return "fields: " + "; ".join(problems[:5])
    return None


class LlmAnalyzer:
    def __init__(
        self,
        config: LlmConfig,
        *,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.client = client or httpx.Client(timeout=config.timeout)
        self.sleep = sleep

    def _post(self, body: dict) -> dict:
        headers = {"Authorization": f"Bearer {self.config.api_key}"}
        for attempt in range(self.config.max_retries + 1):
            try:
                answer = self.client.post(_endpoint(self.config.url), json=body, headers=headers)
            except httpx.TimeoutException:
                problem = "timed out"
            except httpx.HTTPError as error:
                problem = f"unreachable ({type(error).__name__})"
            else:
                if answer.status_code == 200:
                    try:
                        return answer.json()
                    except ValueError:
                        raise AnalyzerError("the LLM endpoint answered no JSON") from None
                if answer.status_code != 429 and answer.status_code < 500:
                    raise AnalyzerError(
                        f"the LLM endpoint refused the request ({answer.status_code})"
                    )
                problem = f"answered {answer.status_code}"
                retry_after = answer.headers.get("Retry-After", "")
                if retry_after.replace(".", "", 1).isdigit() and attempt < self.config.max_retries:
                    self.sleep(min(float(retry_after), MAX_BACKOFF_SECONDS))
                    continue
            if attempt < self.config.max_retries:
                self.sleep(min(2.0**attempt, MAX_BACKOFF_SECONDS))
        logger.warning("llm analysis: %s %s after %d tries", self.config.model, problem,
                       self.config.max_retries + 1)  # fmt: skip
        raise AnalyzerError(f"the LLM endpoint {problem} after {self.config.max_retries + 1} tries")

    def analyze(
        self,
        transcript,
        *,
        dispositions: tuple[str, ...],
        success_dispositions: frozenset[str],
        fields_schema: dict | None = None,
        success_criterion: str = "",
        zone: ZoneInfo | None,
        started_at: datetime | None,
    ) -> tuple[Analysis, dict | None]:
        """(the analysis, the token usage the endpoint reported)."""
        fields_schema = fields_schema or {}
        call = {
            "transcript": [t.__dict__ for t in turns_of(transcript)],
            "callee_timezone": zone.key if zone else None,
            "call_started_at": started_at.isoformat() if started_at else None,
            "dispositions": list(dispositions),
            "success": sorted(success_dispositions),
            "success_criterion": success_criterion,
            "fields_schema": fields_schema,
        }
        rule = (
            f"true when the call met this criterion: {json.dumps(success_criterion)}, else false"
            if success_criterion
            else f"true when the disposition is one of {json.dumps(sorted(success_dispositions))}"
            ", else false"
        )
        prompt = (
            SYSTEM_PROMPT.replace("DISPOSITIONS", json.dumps(list(dispositions)))
            .replace("SUCCESS_RULE", rule)
            .replace("FIELDS_SCHEMA", json.dumps(fields_schema or {"properties": {}}))
        )
        messages = [
            {"role": "system", "content": prompt},
            {"role": "user", "content": json.dumps(call, ensure_ascii=False)},
        ]
        usage: dict = {}
        for _ in range(2):  # one validating retry
            reply = self._post(
                {
                    "model": self.config.model,
                    "messages": messages,
                    "response_format": {"type": "json_object"},
                    "temperature": 0,
                }
            )
            for key, value in (reply.get("usage") or {}).items():
                if isinstance(value, int):
                    usage[key] = usage.get(key, 0) + value
            try:
                content = reply["choices"][0]["message"]["content"]
                answer = json.loads(content)
            except (KeyError, IndexError, TypeError, ValueError):
                content, answer = str(reply)[:2000], None
            problem = "not a JSON object" if not isinstance(answer, dict) else None
            problem = problem or _problem(answer, dispositions, fields_schema)
            if problem is None:
                return self._analysis(answer, zone), usage or None
            messages += [
                {"role": "assistant", "content": content},
                {"role": "user", "content": f"Not valid: {problem}. Answer again, JSON only."},
            ]
        raise AnalyzerError(f"the LLM's answer did not follow the plan: {problem}")

    @staticmethod
    def _analysis(answer: dict, zone: ZoneInfo | None) -> Analysis:
        callback_at = None
        if answer.get("callback_at_local") and zone is not None:
            naive = datetime.strptime(answer["callback_at_local"], "%Y-%m-%dT%H:%M")
            callback_at = naive.replace(tzinfo=zone)
        return Analysis(
            disposition=answer["disposition"],
            summary=answer["summary"][:2000],
            success=answer["success"],
            success_reason=str(answer.get("success_reason", ""))[:300],
            opt_out=answer["opt_out"],
            callback_at=callback_at,
            fields=answer.get("fields") or {},
            reasons=["the LLM's answer"],
            analyzer=ANALYZER,
        )
