"""client/mailer.py against a real SMTP server (aiosmtpd on loopback): TLS, login,
envelope recipients, and which failures are retried (with backoff) and which are not."""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from shieldmutual.client import mailer
from shieldmutual.client.config import Paths
from shieldmutual.client.errors import ConfigError, MailError
from shieldmutual.client.vault import Home
from tests.certs import self_signed
from tests.conftest import SmtpInbox

LIST, SENDER, EVIL = "list@example.org", "desk@society.example", "evil@attacker.example"
USER, PASSWORD = "desk", "correct horse battery staple"


def message() -> EmailMessage:
    made = EmailMessage()
    made["Subject"] = "Boiler repair"
    made["Bcc"] = EVIL  # a header that slipped through must not choose recipients
    made.set_content("Help needed.")
    return made


def plain(inbox: SmtpInbox, **options: Any) -> mailer.MailSettings:
    return mailer.MailSettings(
        host=inbox.host, sender=SENDER, port=inbox.port, security="plain", **options
    )


def authenticate(_server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any) -> Any:
    """aiosmtpd's authenticator: it calls this with all five, positionally."""
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def tls_inbox(tmp_path: Path) -> Any:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = SmtpInbox(
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
        auth_required=True,
    ).start()
    yield inbox, cert
    inbox.stop()


async def test_starttls_and_login_deliver_to_the_given_recipients_only(tls_inbox: Any) -> None:
    inbox, cert = tls_inbox
    settings = mailer.MailSettings(
        host=inbox.host, sender=SENDER, port=inbox.port, username=USER, password=PASSWORD,
        ca_file=str(cert),
    )  # fmt: skip
    await mailer.send(settings, message(), [LIST])
    (delivered,) = inbox.wait_for(1)
    assert inbox.received[0][:2] == (SENDER, [LIST])
    assert delivered["From"] == SENDER and "Bcc" not in delivered


async def test_an_untrusted_certificate_or_a_wrong_password_is_not_retried(
    tls_inbox: Any,
) -> None:
    inbox, cert = tls_inbox
    untrusted = mailer.MailSettings(
        host=inbox.host, sender=SENDER, port=inbox.port, username=USER, password=PASSWORD
    )
    with pytest.raises(MailError, match="TLS") as failed:
        await mailer.send(untrusted, message(), [LIST])
    assert not failed.value.temporary
    wrong = mailer.MailSettings(
        host=inbox.host, sender=SENDER, port=inbox.port, username=USER, password="guess",
        ca_file=str(cert),
    )  # fmt: skip
    with pytest.raises(MailError, match="login") as failed:
        await mailer.send(wrong, message(), [LIST])
    assert not failed.value.temporary and inbox.received == []


async def test_a_server_without_starttls_is_refused_rather_than_sent_in_the_clear(
    smtp_inbox: SmtpInbox,
) -> None:
    settings = mailer.MailSettings(host=smtp_inbox.host, sender=SENDER, port=smtp_inbox.port)
    with pytest.raises(MailError, match="STARTTLS") as failed:
        await mailer.send(settings, message(), [LIST])
    assert not failed.value.temporary and smtp_inbox.received == []


def test_clear_text_only_to_loopback() -> None:
    with pytest.raises(ConfigError, match="loopback"):
        mailer.MailSettings(host="smtp.example.org", sender=SENDER, security="plain")
    assert mailer.MailSettings(host="::1", sender=SENDER, security="plain").effective_port == 25


class Refusing:
    """A handler that answers ``code`` to the first ``times`` messages, then accepts."""

    def __init__(self, inbox: SmtpInbox, code: str, times: int) -> None:
        self.inbox, self.code, self.times = inbox, code, times

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.times > 0:
            self.times -= 1
            return self.code
        return await self.inbox.handle_DATA(server, session, envelope)


async def test_a_busy_server_is_retried_with_backoff_and_gets_one_copy() -> None:
    inbox = SmtpInbox()
    handler = Refusing(inbox, "451 4.3.0 try again later", 2)
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    from aiosmtpd.controller import Controller

    controller = Controller(handler, hostname=inbox.host, port=inbox.port)
    controller.start()
    try:
        retry = mailer.Retry(attempts=4, first=1.0)
        await mailer.deliver(plain(inbox), message(), [LIST], retry, sleep)
    finally:
        controller.stop()
    assert waited == [1.0, 2.0] and len(inbox.received) == 1


async def test_a_refusal_is_not_retried() -> None:
    inbox = SmtpInbox()
    from aiosmtpd.controller import Controller

    controller = Controller(
        Refusing(inbox, "554 5.7.1 no", 5), hostname=inbox.host, port=inbox.port
    )
    controller.start()
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    try:
        with pytest.raises(MailError, match="554") as failed:
            await mailer.deliver(plain(inbox), message(), [LIST], mailer.Retry(), sleep)
    finally:
        controller.stop()
    assert not failed.value.temporary and waited == []


async def test_a_password_file_others_can_read_is_refused(
    smtp_inbox: SmtpInbox, tmp_path: Path
) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text(PASSWORD + "\n")
    secret.chmod(0o644)
    settings = plain(smtp_inbox, username=USER, password_file=str(secret))
    with pytest.raises(MailError, match="0600"):
        await mailer.send(settings, message(), [LIST])
    assert smtp_inbox.received == []


def test_settings_are_sealed_and_the_password_never_shown(tmp_path: Path) -> None:
    home = Home(Paths.resolve({"MAS_HOME": str(tmp_path)}), lambda _create: bytes(range(32)))
    settings = mailer.MailSettings(
        host="smtp.society.example", sender=SENDER, username=USER, password=PASSWORD
    )
    mailer.save_settings(home, settings)
    assert mailer.load_settings(home) == settings
    assert PASSWORD not in repr(settings) and PASSWORD not in settings.described()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for word in (PASSWORD, USER, SENDER, "smtp.society.example"):
                assert word.encode() not in data, (path, word)
