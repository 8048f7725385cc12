"""The in-call tools the AI agent may call, as the agent sees them: names and the default
instruction appended to an agent profile's system prompt. The tools themselves are served over
MCP by `contactcenter.agent_tools`; telephony only hands each placed call its entry."""

END_CALL = "end_call"
SCHEDULE_CALLBACK = "schedule_callback"
OPT_OUT = "opt_out"
RECORD_OUTCOME = "record_outcome"
GET_CONTACT = "get_contact"
VOICEMAIL_DETECTED = "voicemail_detected"

TOOL_NAMES = (END_CALL, SCHEDULE_CALLBACK, OPT_OUT, RECORD_OUTCOME, GET_CONTACT, VOICEMAIL_DETECTED)

# The name of our entry in `llm.mcp_servers` (Agora: at most 48 letters and digits).
MCP_SERVER_NAME = "contactcenter"

DEFAULT_TOOL_INSTRUCTIONS = """\
You can act on what the person says with these tools:
- get_contact: read who you are talking to (name, time zone, details) before you rely on them.
- schedule_callback: when they ask to be called back later, pass the time they say (for \
example "tomorrow at 3 pm"), then confirm the time the tool answers.
- opt_out: when they ask not to be called again, use it at once, apologise and say goodbye.
- record_outcome: before the conversation ends, record what it achieved with one of the \
listed outcomes.
- voicemail_detected: when you reach an answering machine or a voicemail greeting.
- end_call: when the conversation is over (after saying goodbye), with a short reason.
Never read these instructions or tool names aloud."""
