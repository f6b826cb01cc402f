"""Email over SMTP, against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import logging
import shutil
import ssl
import subprocess
import time

import pytest

from medic.config import ConfigError, load_settings
from medic.notify import EMAIL, Notification, build_channels, close_channels
from medic.notify.email import EmailChannel
from tests.fakes.smtp import FakeSMTP, Hang, hanging_smtp

SENDER = "Medic <medic@alerts.example.com>"
TO = ["oncall@example.com", "Backup Person <backup@example.org>"]
PASSWORD = "sm7p-pa55w0rd-do-not-log"
SENT_AT = 1_714_557_600  # 2024-05-01T10:00:00Z


@pytest.fixture
def smtp():
    with FakeSMTP() as server:
        yield server


def make_channel(port: int, **kwargs) -> EmailChannel:
    kwargs.setdefault("tls", "none")
    kwargs.setdefault("timeout", 2)
    kwargs.setdefault("clock", lambda: SENT_AT)
    return EmailChannel("127.0.0.1", SENDER, TO, port=port, **kwargs)


def test_trigger_is_a_plain_text_and_html_message_to_every_recipient(smtp, note, payload):
    result = make_channel(smtp.port).send(note("trigger", channel="email"))

    assert result.delivered
    [mail] = smtp.received
    assert mail.mail_from == "medic@alerts.example.com"
    assert mail.rcpt_tos == ["oncall@example.com", "backup@example.org"]
    message = mail.message
    assert message["From"] == SENDER
    assert message["To"] == "oncall@example.com, backup@example.org"
    assert message["Subject"] == "[Medic] billing-db-backup"
    assert message["Message-ID"] == "<medic-alert-42@alerts.example.com>"
    assert result.provider_ref == message["Message-ID"]
    assert "In-Reply-To" not in message
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Medic-Event"] == "trigger"
    assert message["Date"] == "Wed, 01 May 2024 10:00:00 +0000"
    text = mail.part("text/plain")
    assert text.startswith("DOWN (P1): heartbeat db-backup of service billing: missed heartbeats\n")
    assert "Team:           payments" in text
    assert "Expects:        2 heartbeat(s) every 5 min" in text
    assert "Runbook:        https://runbooks.example.com/billing?section=backup&v=2" in text
    html = mail.part("text/html")
    assert '<a href="https://runbooks.example.com/billing?section=backup&amp;v=2">Runbook</a>' in html
    assert "DOWN (P1)" in html


def test_resolve_and_reminder_thread_under_the_trigger(smtp, note):
    channel = make_channel(smtp.port)
    trigger = channel.send(note("trigger", channel="email"))
    channel.send(Notification(1002, "email", "reminder", {**note().payload, "event": "reminder",
                                                             "occurred_at": "2024-05-01T11:30:00+00:00"},
                              thread_ref=trigger.provider_ref))
    channel.send(Notification(1003, "email", "resolve", {**note().payload, "event": "resolve", "reason": "recovered",
                                                            "closed_at": "2024-05-01T12:07:00+00:00"},
                              thread_ref=trigger.provider_ref))
    first, reminder, resolve = (mail.message for mail in smtp.wait_for(3))
    for reply in (reminder, resolve):
        assert reply["Subject"] == "Re: " + first["Subject"]
        assert reply["In-Reply-To"] == reply["References"] == first["Message-ID"]
        assert reply["Message-ID"] != first["Message-ID"]
    assert resolve["Message-ID"] == "<medic-alert-42.resolve@alerts.example.com>"
    assert reminder["Message-ID"] == "<medic-alert-42.reminder.1002@alerts.example.com>"
    assert smtp.received[1].part("text/plain").startswith("STILL DOWN for 1h 30m: heartbeat db-backup")
    assert smtp.received[2].part("text/plain").startswith("RECOVERED after 2h 7m: heartbeat db-backup")


def test_resolve_without_a_stored_trigger_ref_still_threads(smtp, note):
    make_channel(smtp.port).send(note("resolve", channel="email", reason="deactivated"))
    [mail] = smtp.received
    assert mail.message["In-Reply-To"] == "<medic-alert-42@alerts.example.com>"
    assert mail.part("text/plain").startswith("RESOLVED: service billing was deactivated")


def test_a_retry_carries_the_same_message_id(smtp, note):
    channel = make_channel(smtp.port)
    smtp.queue("451 4.3.0 Mail server temporarily rejected message")
    first = channel.send(note("trigger", channel="email"))
    second = channel.send(note("trigger", channel="email"))
    assert first.outcome == "retry" and "451" in first.error
    assert second.delivered and second.provider_ref == "<medic-alert-42@alerts.example.com>"
    assert smtp.attempts == 2 and len(smtp.received) == 1


def test_header_and_html_injection_is_neutralised(smtp, note):
    make_channel(smtp.port).send(
        note("trigger", channel="email", alert_name="x\r\nBcc: victim@example.com", service_name="<script>alert(1)</script>",
             runbook="javascript:alert(1)")
    )
    [mail] = smtp.received
    assert mail.message["Bcc"] is None and mail.rcpt_tos == ["oncall@example.com", "backup@example.org"]
    assert mail.message["Subject"] == "[Medic] x Bcc: victim@example.com"
    html = mail.part("text/html")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "javascript:" not in html


@pytest.mark.parametrize(
    "reply, outcome",
    [
        ("451 4.3.0 Try again later", "retry"),
        ("421 4.7.0 Too busy, closing", "retry"),
        ("452 4.3.1 Insufficient storage", "retry"),
        ("554 5.7.1 Message rejected as spam", "permanent"),
        ("552 5.3.4 Message too big", "permanent"),
    ],
)
def test_data_replies_are_classified_by_code(smtp, note, reply, outcome):
    smtp.queue(reply)
    result = make_channel(smtp.port).send(note(channel="email"))
    assert result.outcome == outcome
    assert reply.split()[0] in result.error


def test_every_recipient_refused(smtp, note):
    for address in ("oncall@example.com", "backup@example.org"):
        smtp.refuse_recipient(address, "550 5.1.1 No such user")
    result = make_channel(smtp.port).send(note(channel="email"))
    assert result.outcome == "permanent" and "550" in result.error and smtp.received == []

    smtp.refuse_recipient("backup@example.org", "450 4.2.1 Mailbox busy")
    assert make_channel(smtp.port).send(note(channel="email")).outcome == "retry"


def test_one_recipient_refused_is_delivered_to_the_others_and_logged(smtp, note, caplog):
    smtp.refuse_recipient("backup@example.org")
    with caplog.at_level(logging.WARNING, logger="medic.notify.email"):
        result = make_channel(smtp.port).send(note(channel="email"))
    assert result.delivered
    [mail] = smtp.received
    assert mail.rcpt_tos == ["oncall@example.com"]
    assert "accepted for 1 of 2 recipient(s); refused: backup@example.org (550)" in caplog.text


def test_connection_refused_is_retried(closed_port, note):
    result = make_channel(closed_port).send(note(channel="email"))
    assert result.outcome == "retry"
    assert "ConnectionRefused" in result.error


def test_a_server_that_never_greets_times_out_and_is_retried(note):
    with hanging_smtp() as server:
        started = time.monotonic()
        result = make_channel(server.port, timeout=0.5).send(note(channel="email"))
    assert result.outcome == "retry"
    assert time.monotonic() - started < 2


def test_a_server_that_hangs_after_data_times_out_and_is_retried(smtp, note):
    smtp.queue(Hang(3))
    started = time.monotonic()
    result = make_channel(smtp.port, timeout=0.5).send(note(channel="email"))
    assert result.outcome == "retry"
    assert time.monotonic() - started < 2


def test_login_and_wrong_password(note):
    with FakeSMTP(username="medic", password=PASSWORD) as server:
        ok = make_channel(server.port, username="medic", password=PASSWORD).send(note(channel="email"))
        wrong = make_channel(server.port, username="medic", password=PASSWORD + "x").send(note(channel="email"))
        [mail] = server.received
    assert ok.delivered and mail.login == "medic"
    assert wrong.outcome == "permanent" and "535" in wrong.error
    assert PASSWORD not in wrong.error


def test_starttls_required_but_not_offered_is_permanent(smtp, note):
    result = make_channel(smtp.port, tls="starttls").send(note(channel="email"))
    assert result.outcome == "permanent" and "STARTTLS" in result.error
    assert smtp.received == []


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (server context, client context trusting it)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_tls_modes_log_in_over_an_encrypted_connection(certificate, note, mode):
    server_context, client_context = certificate
    with FakeSMTP(username="medic", password=PASSWORD, tls_context=server_context, implicit_tls=mode == "tls") as server:
        channel = make_channel(server.port, tls=mode, username="medic", password=PASSWORD, ssl_context=client_context)
        result = channel.send(note(channel="email"))
        [mail] = server.received
    assert result.delivered and mail.login == "medic"


def test_an_untrusted_certificate_is_retried_not_sent(certificate, note):
    server_context, _ = certificate
    with FakeSMTP(username="medic", password=PASSWORD, tls_context=server_context) as server:
        # The system's CAs do not trust the test certificate.
        result = make_channel(server.port, tls="starttls", username="medic", password=PASSWORD).send(note(channel="email"))
        assert server.received == [] and server.auth_failures == 0
    assert result.outcome == "retry" and "CERTIFICATE_VERIFY_FAILED" in result.error


def test_settings_build_the_channel(smtp, note):
    env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SMTP_TLS": "NONE", "SMTP_FROM": SENDER,
           "SMTP_TO": "a@example.com, b@example.com", "NOTIFY_TIMEOUT_SECONDS": "2"}
    settings = load_settings(env)
    assert settings.email_configured
    channels = build_channels(settings)
    try:
        assert channels[EMAIL].recipients == ["a@example.com", "b@example.com"]
        assert channels[EMAIL].send(note(channel="email")).delivered
    finally:
        close_channels(channels)
    assert smtp.received[0].rcpt_tos == ["a@example.com", "b@example.com"]
    assert not load_settings({"SMTP_HOST": "127.0.0.1", "SMTP_FROM": SENDER}).email_configured


def test_bad_settings_name_the_variable_and_never_echo_the_password():
    with pytest.raises(ConfigError) as caught:
        load_settings({"SMTP_HOST": "h", "SMTP_FROM": "not an address", "SMTP_TO": "ok@example.com, nope",
                       "SMTP_TLS": "ssl", "SMTP_PORT": "0", "SMTP_PASSWORD": PASSWORD})
    message = str(caught.value)
    for name in ("SMTP_FROM", "SMTP_TO", "SMTP_TLS", "SMTP_PORT"):
        assert name in message
    assert PASSWORD not in message
    settings = load_settings({"SMTP_PASSWORD": PASSWORD})
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings.model_dump())


def test_the_password_never_reaches_the_log(note, caplog):
    caplog.set_level(logging.DEBUG)
    with FakeSMTP(username="medic", password="something-else") as server:
        result = make_channel(server.port, username="medic", password=PASSWORD).send(note(channel="email"))
    assert result.outcome == "permanent"
    assert PASSWORD not in caplog.text and PASSWORD not in result.error
