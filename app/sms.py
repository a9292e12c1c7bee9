"""Text messages: one sender interface, a development backend (instance folder and log) and Aliyun SMS.

A sender is chosen by settings (SMS_BACKEND): "development" writes each message as a JSON line to
`<instance>/sms.log` and logs it (what `milepost serve --demo` uses, so the demo's codes can be read), "aliyun"
calls Aliyun's SendSms HTTP API (dysmsapi, signature version 1.0) with the configured key, sign name and
template. The HTTP transport is a parameter, so the adaptor is tested against a recorded exchange.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

# The messages Milepost sends, by purpose; a provider maps each to its approved template.
VERIFICATION_CODE = "verification_code"
# A notification from the inbox (app.crm.notifications), its text in one variable.
NOTIFICATION = "notification"
DEVELOPMENT_TEXTS = {
    VERIFICATION_CODE: "【Milepost】验证码 {code}，{minutes} 分钟内有效。请勿告诉他人。",
    NOTIFICATION: "【Milepost】{text}",
}
# The variables each provider template has; Aliyun's approved verification templates carry ${code} alone.
TEMPLATE_VARIABLES = {VERIFICATION_CODE: ("code",), NOTIFICATION: ("text",)}
SMS_BACKENDS = ("development", "aliyun")


class SmsFailed(RuntimeError):
    """The provider refused or did not take the message."""


class SmsSender(Protocol):
    """Sends one templated text message to one Chinese mobile number."""

    def send(self, phone: str, purpose: str, parameters: dict[str, str]) -> None:
        """Send the `purpose` message filled with `parameters` to `phone`, or raise SmsFailed."""


@dataclass
class DevelopmentSender:
    """Writes messages to a file in the instance folder and to the log instead of sending them."""

    path: Path

    def send(self, phone: str, purpose: str, parameters: dict[str, str]) -> None:
        """Append the message to the outbox file and log it."""
        text = DEVELOPMENT_TEXTS[purpose].format(**parameters)
        record = {"at": datetime.now(UTC).isoformat(), "to": phone, "purpose": purpose, "text": text}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        log.warning("SMS (development backend, not sent) to %s: %s", phone, text)


def read_outbox(path: Path) -> list[dict]:
    """Return the messages a development sender wrote, oldest first."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


Transport = Callable[[str], bytes]


def _urlopen(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - the https endpoint is configured
        return response.read()


def percent_encode(text: str) -> str:
    """Encode as Aliyun's RPC signature wants: RFC 3986 unreserved characters only, space as %20."""
    return urllib.parse.quote(text, safe="-_.~")


def aliyun_signature(secret: str, parameters: dict[str, str], method: str = "GET") -> str:
    """Return the HMAC-SHA1 signature (version 1.0) of an Aliyun RPC request's parameters."""
    canonical = "&".join(f"{percent_encode(key)}={percent_encode(parameters[key])}" for key in sorted(parameters))
    string_to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass
class AliyunSender:
    """Aliyun SMS (dysmsapi 2017-05-25 SendSms) over HTTPS, one message per call."""

    access_key_id: str
    access_key_secret: str
    sign_name: str
    templates: dict[str, str]
    endpoint: str = "https://dysmsapi.aliyuncs.com/"
    transport: Transport = _urlopen
    # Fixed in tests so that a recorded exchange can be replayed; fresh for every real request.
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    nonce: Callable[[], str] = lambda: str(uuid.uuid4())

    def request_url(self, phone: str, purpose: str, parameters: dict[str, str]) -> str:
        """Return the signed GET URL that sends the message."""
        query = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": phone,
            "RegionId": "cn-hangzhou",
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": self.nonce(),
            "SignatureVersion": "1.0",
            "TemplateCode": self.templates[purpose],
            "TemplateParam": json.dumps(
                {name: parameters[name] for name in TEMPLATE_VARIABLES[purpose]},
                ensure_ascii=False,
                separators=(",", ":"),
            ),
            "Timestamp": self.clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        signature = aliyun_signature(self.access_key_secret, query)
        encoded = "&".join(f"{percent_encode(key)}={percent_encode(value)}" for key, value in sorted(query.items()))
        return f"{self.endpoint}?Signature={percent_encode(signature)}&{encoded}"

    def send(self, phone: str, purpose: str, parameters: dict[str, str]) -> None:
        """Send the message; anything but Code "OK" in the answer is an SmsFailed with the provider's reason."""
        if not self.templates.get(purpose):
            raise SmsFailed(f"no approved Aliyun template for {purpose} messages")
        try:
            answer = json.loads(self.transport(self.request_url(phone, purpose, parameters)))
        except (OSError, ValueError) as error:
            raise SmsFailed(f"Aliyun SMS did not answer: {error}") from error
        if answer.get("Code") != "OK":
            raise SmsFailed(f"Aliyun SMS refused the message: {answer.get('Code')} {answer.get('Message')}")
        log.info("SMS sent to %s by Aliyun (BizId %s)", phone, answer.get("BizId"))


def make_sender(settings: dict, instance_path: str | Path) -> SmsSender:
    """Return the sender the settings choose."""
    if settings["SMS_BACKEND"] == "aliyun":
        return AliyunSender(
            access_key_id=settings["SMS_ALIYUN_ACCESS_KEY_ID"],
            access_key_secret=settings["SMS_ALIYUN_ACCESS_KEY_SECRET"],
            sign_name=settings["SMS_ALIYUN_SIGN_NAME"],
            templates={
                VERIFICATION_CODE: settings["SMS_ALIYUN_TEMPLATE_CODE"],
                NOTIFICATION: settings.get("SMS_ALIYUN_NOTICE_TEMPLATE_CODE", ""),
            },
        )
    return DevelopmentSender(Path(instance_path) / "sms.log")
