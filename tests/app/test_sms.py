"""Text messages: the development outbox, and the Aliyun adaptor against its documented signature and exchanges."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path

import pytest

from app.sms import VERIFICATION_CODE, AliyunSender, DevelopmentSender, SmsFailed, aliyun_signature, read_outbox

EXCHANGE = json.loads((Path(__file__).parent / "data/aliyun_sendsms_exchange.json").read_text())


def test_aliyun_signature_matches_the_documented_example():
    # Aliyun's published example (SMS "signature mechanism"): key testId / testSecret.
    parameters = {
        "AccessKeyId": "testId",
        "Action": "SendSms",
        "Format": "XML",
        "OutId": "123",
        "PhoneNumbers": "15300000001",
        "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }

    assert aliyun_signature("testSecret", parameters) == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def recorded_sender(answer: dict, seen: list[str]) -> AliyunSender:
    key = EXCHANGE["key"]

    def transport(url: str) -> bytes:
        seen.append(url)
        return json.dumps(answer).encode()

    return AliyunSender(
        access_key_id=key["access_key_id"],
        access_key_secret=key["access_key_secret"],
        sign_name=key["sign_name"],
        templates={VERIFICATION_CODE: key["template_code"]},
        transport=transport,
        clock=lambda: datetime.fromisoformat(EXCHANGE["clock"]),
        nonce=lambda: EXCHANGE["nonce"],
    )


def test_aliyun_sender_sends_the_recorded_request():
    seen: list[str] = []
    sender = recorded_sender(EXCHANGE["accepted"], seen)

    sender.send(EXCHANGE["phone"], VERIFICATION_CODE, {"code": EXCHANGE["code"], "minutes": "5"})

    assert seen == [EXCHANGE["request"]]


def test_aliyun_sender_reports_a_refusal_with_the_providers_reason():
    sender = recorded_sender(EXCHANGE["refused"], [])

    with pytest.raises(SmsFailed, match="isv.BUSINESS_LIMIT_CONTROL"):
        sender.send(EXCHANGE["phone"], VERIFICATION_CODE, {"code": EXCHANGE["code"], "minutes": "5"})


def test_aliyun_sender_reports_an_unreachable_provider():
    def transport(url: str) -> bytes:
        raise OSError("connection refused")

    sender = recorded_sender({}, [])
    sender.transport = transport

    with pytest.raises(SmsFailed, match="did not answer"):
        sender.send(EXCHANGE["phone"], VERIFICATION_CODE, {"code": "1", "minutes": "5"})


def test_development_sender_writes_to_the_instance_folder_and_the_log(tmp_path, caplog):
    sender = DevelopmentSender(tmp_path / "instance" / "sms.log")

    with caplog.at_level(logging.WARNING, logger="app.sms"):
        sender.send("13800138000", VERIFICATION_CODE, {"code": "123456", "minutes": "5"})

    [message] = read_outbox(tmp_path / "instance" / "sms.log")
    assert message["to"] == "13800138000"
    assert "123456" in message["text"]
    assert "123456" in caplog.text
