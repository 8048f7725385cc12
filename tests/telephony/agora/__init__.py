"""Tests for the Agora REST client (telephony.agora), its redaction of secrets included.

Shared fake credentials live here so test modules can import them; none of them is real.
"""

import base64
import struct
from zlib import crc32

APP_ID = "0123456789abcdef0123456789abcdef"
APP_CERTIFICATE = "fedcba9876543210fedcba9876543210"
CUSTOMER_ID = "cust-id-4f1b2c3d"
CUSTOMER_SECRET = "cust-secret-9a8b7c6d5e4f"
BASIC_CREDENTIAL = base64.b64encode(f"{CUSTOMER_ID}:{CUSTOMER_SECRET}".encode()).decode()
BASIC_HEADER = f"Basic {BASIC_CREDENTIAL}"

SUFFIX = "/api/conversational-ai-agent"
US_WEST = f"https://api-us-west-1.agora.io{SUFFIX}"
PROJECT = f"{US_WEST}/v2/projects/{APP_ID}"
NUMBERS = f"{US_WEST}/v2/phone-numbers"


def decode_token(token: str) -> dict:
    """Unpack an AccessToken (006): the crc of channel and uid and the privilege expiries."""
    assert token.startswith("006")
    content = base64.b64decode(token[3 + 32 :])

    def take(buffer: bytes, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, buffer[:size]), buffer[size:]

    (sig_len,), rest = take(content, "<H")
    rest = rest[sig_len:]
    (crc_channel, crc_uid, msg_len), rest = take(rest, "<IIH")
    message = rest[:msg_len]
    (_salt, _issued, count), rest = take(message, "<IIH")
    privileges = {}
    for _ in range(count):
        (key, value), rest = take(rest, "<HI")
        privileges[key] = value
    return {
        "app_id": token[3:35],
        "crc_channel": crc_channel,
        "crc_uid": crc_uid,
        "privileges": privileges,
    }


def crc(text: str) -> int:
    return crc32(text.encode()) & 0xFFFFFFFF
