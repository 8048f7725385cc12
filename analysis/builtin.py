"""The built-in analyzer: deterministic rules over a transcript, no setup, no network.

In order, the first that holds decides the disposition: no conversation (the callee said
nothing of substance), a voicemail greeting (telephony.voicemail), an opt-out, a wrong number, a
callback request (with its time, analysis.callback_time), then a keyword-weighted guess between
interested and not interested. The summary is extractive: what the callee said first and last,
and the agent's last words. Pure functions, no Django: `manage.py analyze_transcripts` and the
labelled set's test run it as the Celery task does.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from analysis.callback_time import callback_time, plain
from analysis.extraction import extract_fields
from telephony.voicemail import detect_voicemail

ANALYZER = "builtin"
CALLEE_ROLES = frozenset({"user", "callee", "human"})
AGENT_ROLES = frozenset({"assistant", "agent", "bot"})

OPT_OUT = re.compile(
    "("
    + "|".join(
        (
            r"stop calling( me| us)?|stop call|stop phoning|quit calling",
            r"don'?t (ever )?call (me |this number |here )?(again|anymore|any more|ever)",
            r"do not (ever )?call (me |this number )?(again|anymore|ever)",
            r"never call (me|here|this number)|lose (this|my) number",
            r"take (me|my number|this number) off|remove (me|my number|this number)",
            r"put (me|my number|us) on (your|the) do not call|do not call list|unsubscribe me",
            r"(don'?t|do not) want (any )?(more|further) (phone )?calls|no more (phone )?calls",
            r"no (me|nos) (vuelva|vuelvan|vuelvas) a llamar|no (me|nos) llame(n|s)? mas",
            r"dejen? de llamar|deje de llamarme|quite(n)? (me|mi numero)|quiteme",
            r"borre(n)? (me|mi numero)|borreme|eliminen? mi (numero|telefono)|sacame|saqueme",
            r"no quiero que me (vuelvan a )?llamen?|no quiero recibir mas llamadas|lista robinson",
        )
    )
    + ")"
)
# "You don't have to take me off any list", "stop calling me at work": not an opt-out.
OPT_OUT_UNSAID = re.compile(r"(don'?t have to|no need to|no tienen? que|no hace falta)\W*$")
OPT_OUT_QUALIFIED = re.compile(
    r"^\W*(me )?(in the middle of|at work|during|before|after|so early|so late|at dinner|"
    r"on weekends|at this hour|a esta hora|en el trabajo|tan temprano|tan tarde)"
)
WRONG_NUMBER = re.compile(
    r"(wrong number|wrong person|no one (here )?(by|with) that name|nobody (here )?by that name|"
    r"there'?s no \w+ (here|at this number)|(he|she|they) (doesn'?t|don'?t) live here|"
    r"never heard of (him|her|them)|this isn'?t \w+'?s (phone|number)|i just got this number|"
    r"i get calls for (a|an|some)|this number used to belong|nobody named|no one named|"
    r"esta equivocad[oa]|este numero me lo dieron|aqui no trabaja (ningun|ninguna|nadie)|"
    r"numero equivocado|se (ha )?equivoca(do|ste)? de numero|equivocado de numero|"
    r"aqui no (vive|hay (nadie|ningun|ninguna))|no conozco a (ningun|ninguna|nadie)|"
    r"no (es|soy) (el|la) \w+ que busca|no hay (ningun|ninguna) \w+ aqui)"
)
CALLBACK_CUE = re.compile(
    r"(call (me |us )?back|call (me |us )?(tomorrow|later|next|on|at|in|this|around|after|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday)|try me (again|later|tomorrow|at)|"
    r"call (again )?(tomorrow|later|next|on monday|on tuesday|on wednesday|on thursday|on friday)|"
    r"(can|could) you (call|try) (me |us )?(again|back|later|tomorrow|on|at|in)|"
    r"try (me |us )?(again|later|tomorrow)|better time would be|give me a call|ring me|"
    r"llam(a|e|en)(me|nos)? (mas tarde|manana|el|la|a las|en|otro dia|de nuevo|despues)|"
    r"(me|nos) (puede|podria|pueden)n? (marcar|llamar)|marque(me|nos)|marcame|"
    r"vuelva(n)? a llamar(me)?|vuelve a llamar|"
    r"podria(n)? llamar(me)? (mas tarde|manana|el|a las|en)|"
    r"puede(n)? llamar(me)? (mas tarde|manana|el|a las|en)|llameme|llamame|llamenme)"
)
# Phrases and their weight towards interest (negative: against it).
INTEREST = (
    (3, r"(i'?m|we'?re|i am|we are|sounds|that'?s|that is) (very |really |definitely )?"
        r"interest(ed|ing)"),
    (3, r"sign (me|us) up|let'?s do (it|that)|book (it|me|us)|go ahead|count me in|i'?ll take it"),
    (2, r"send (me|us|it)|email (me|us) the|tell me more|more (details|information|info)"),
    (2, r"sounds (good|great|perfect)|that works|perfect|great|yes,? please|of course|sure"),
    (1, r"\byes\b|\byeah\b|\bok(ay)?\b|\balright\b"),
    (3, r"me interesa|nos interesa|me apunto|apuntame|apunteme|reserv(a|e|emos)|adelante"),
    (2, r"envie(me|nos)?|mande(me|nos)?|cuenteme mas|mas informacion|me parece (bien|perfecto)"),
    (2, r"perfecto|claro que si|por supuesto|de acuerdo|genial"),
    (1, r"\bsi\b|\bvale\b|\bbueno\b"),
    (-5, r"not interested|no interest|no,? thank(s| you)|not (right )?now|not for (me|us)|"
         r"don'?t (want|need)|i'?ll pass|no need|not looking|already have|i'?m good|"
         r"we'?re good|can'?t afford|too expensive|no way|not at the moment|not today"),
    (-5, r"no me interesa|no nos interesa|no,? gracias|no quiero|no necesito|ya tengo|"
         r"ahora no|no por ahora|muy caro|no estoy interesad[oa]|paso\b"),
    (-1, r"\bno\b"),
)  # fmt: skip
INTEREST_PATTERNS = tuple((weight, re.compile(pattern)) for weight, pattern in INTEREST)
SUMMARY_LENGTH = 300
GREETING_WORDS = frozenset({"hello", "hola", "hi", "yes", "si", "bueno", "alo", "diga", "digame"})
CALLBACK_DECLINED = re.compile(r"(don'?t|do not|never|no (me|nos))\W*(ever )?\W*$")


@dataclass(frozen=True)
class Turn:
    role: str
    content: str

    @property
    def by_callee(self) -> bool:
        return self.role.lower() in CALLEE_ROLES


@dataclass
class Analysis:
    disposition: str
    summary: str
    success: bool
    success_reason: str
    opt_out: bool = False
    callback_at: datetime | None = None
    fields: dict = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    analyzer: str = ANALYZER


def turns_of(transcript) -> list[Turn]:
    if not isinstance(transcript, list):
        return []
    return [
        Turn(str(item.get("role", "")), str(item.get("content", "")).strip())
        for item in transcript
        if isinstance(item, dict) and str(item.get("content", "")).strip()
    ]


def _substantive(text: str) -> bool:
    """More than a bare greeting or a question into silence."""
    words = set(re.findall(r"[\w']+", plain(text)))
    return not (len(words) <= 2 and words <= GREETING_WORDS)


def _summary(turns: list[Turn], disposition: str) -> str:
    said = [turn.content for turn in turns if turn.by_callee]
    agent = [turn.content for turn in turns if not turn.by_callee]
    parts = [f"Outcome: {disposition.replace('_', ' ')}."]
    if said:
        parts.append(f'Callee: "{said[0]}"' + (f' ... "{said[-1]}"' if len(said) > 1 else ""))
    if agent:
        parts.append(f'Agent last: "{agent[-1]}"')
    text = " ".join(parts)
    return text if len(text) <= SUMMARY_LENGTH else text[: SUMMARY_LENGTH - 1] + "…"


def _opt_out(text: str) -> re.Match | None:
    """The first request not to be called that is meant: not negated ("you don't have to take
    me off"), not only about when ("stop calling me at work")."""
    for match in OPT_OUT.finditer(text):
        before, after = text[max(0, match.start() - 25) : match.start()], text[match.end() :]
        if OPT_OUT_UNSAID.search(before) or OPT_OUT_QUALIFIED.search(after[:40]):
            continue
        return match
    return None


def _callback_cue(text: str) -> re.Match | None:
    """A request to be called again, not "don't call around dinner time"."""
    for match in CALLBACK_CUE.finditer(text):
        if not CALLBACK_DECLINED.search(text[: match.start()]):
            return match
    return None


def _interest(text: str) -> tuple[int, list[str]]:
    score, hits = 0, []
    for weight, pattern in INTEREST_PATTERNS:
        found = pattern.findall(text)
        if found:
            score += weight * len(found)
            hits.append(f"{weight:+d} x{len(found)} {pattern.pattern[:30]}")
    return score, hits


def analyze(
    transcript,
    *,
    dispositions: tuple[str, ...] | list[str],
    success_dispositions: frozenset[str] = frozenset({"interested"}),
    fields_schema: dict | None = None,
    success_criterion: str = "",
    zone: ZoneInfo | None = None,
    started_at: datetime | None = None,
) -> Analysis:
    """One transcript's analysis under a plan's dispositions (the defaults' names are what the
    rules give; a plan without one of them gets its first disposition instead) and fields
    (analysis.extraction). Success is by disposition: a criterion in words needs an LLM."""
    turns = turns_of(transcript)
    callee = [turn.content for turn in turns if turn.by_callee]
    text = plain(" \n ".join(callee))
    reasons: list[str] = []
    callback_at = None
    opt_out = False
    if not any(_substantive(words) for words in callee):
        disposition = "no_conversation"
        reasons.append("the callee said nothing of substance")
    elif (verdict := detect_voicemail([t.__dict__ for t in turns])).machine:
        disposition = "voicemail"
        reasons.extend(verdict.reasons)
    elif match := _opt_out(text):
        disposition, opt_out = "do_not_call", True
        reasons.append(f"asked not to be called: '{match.group(0)}'")
    elif match := WRONG_NUMBER.search(text):
        disposition = "wrong_number"
        reasons.append(f"wrong number: '{match.group(0)}'")
    elif match := _callback_cue(text):
        disposition = "callback_requested"
        reasons.append(f"asked for a callback: '{match.group(0)}'")
        if zone is not None and started_at is not None:
            asking = next(words for words in callee if _callback_cue(plain(words)))
            for words in callee[callee.index(asking) :]:
                callback_at = callback_time(words, zone=zone, now=started_at)
                if callback_at:
                    break
    else:
        # The first answer is usually "yes, speaking": it says nothing of interest.
        opinions = callee[1:] if len(callee) > 1 else callee
        score, hits = _interest(plain(" \n ".join(opinions)))
        disposition = "interested" if score > 0 else "not_interested"
        reasons.append(f"interest score {score}")
        reasons.extend(hits[:4])
    if disposition not in dispositions:
        reasons.append(f"'{disposition}' is not in the plan")
        disposition = dispositions[0] if dispositions else disposition
    success = disposition in success_dispositions
    return Analysis(
        disposition=disposition,
        summary=_summary(turns, disposition),
        success=success,
        success_reason=(
            f"the disposition is {disposition}, which the plan counts as a success"
            if success
            else f"the disposition is {disposition}"
        ),
        opt_out=opt_out,
        callback_at=callback_at,
        fields=extract_fields(turns, fields_schema or {}, zone=zone, started_at=started_at),
        reasons=reasons,
    )
