"""SMTP for the whole client: the one door through which an email leaves ``mas``.

The bridge to mailing lists (client/bridge.py) and a champion's alarms both send mail;
both go through here so that TLS, authentication, timeouts, retries and error wording
are decided once. The API::

    settings = load_settings(home)        # MailSettings; ConfigError if not set up
    save_settings(home, settings)         # sealed with the home key (mail.sealed)
    await send(settings, message, ["list@example.org"])          # one attempt
    await deliver(settings, message, recipients, Retry(), sleep)  # with backoff

``message`` is an :class:`email.message.EmailMessage` built by shared/aid/export.py
(the escaping door for anything a stranger wrote); its From is set here from the
settings. The envelope recipients are always the ``recipients`` passed in, never read
from the message's headers, so a header that slipped through cannot add a ``Bcc``.

Security: ``starttls`` (default, port 587) refuses a server that does not offer
STARTTLS instead of sending in the clear; ``tls`` is SMTPS (port 465); ``plain`` is
allowed only to a loopback host (a local MTA such as Postfix). Certificates are checked
(``ca_file`` adds a private CA). The password is a secret: it lives in the sealed
settings (opened with the home key, so the agent unlocks it for a service) or in a
file of mode 0600 (``password_file``), never on a command line or in the environment.

:class:`MailError` says whether a failure is ``temporary`` (connection refused or cut,
a timeout, a 4xx answer: try again later) or not (a 5xx answer, a refused login, a bad
certificate: a person must act). Nothing is ever reported sent unless the server
accepted it (``send`` returned).
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import ssl
import stat
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from shieldmutual.client.errors import ConfigError, MailError
from shieldmutual.client.vault import Home
from shieldmutual.shared.relayurl import is_local_host

SETTINGS_FILE = "mail.sealed"
PURPOSE = "mail-settings"
SECURITIES = ("starttls", "tls", "plain")
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "plain": 25}


@dataclass(frozen=True, slots=True)
class MailSettings:
    """Where and how to submit mail; see the module docstring."""

    host: str
    sender: str
    port: int | None = None
    security: str = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    password_file: str | None = None
    ca_file: str | None = None
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if not self.host or any(c.isspace() for c in self.host):
            raise ConfigError(f"SMTP host {self.host!r} is not a host name")
        if self.security not in SECURITIES:
            raise ConfigError(f"SMTP security must be one of {', '.join(SECURITIES)}")
        if self.security == "plain" and not is_local_host(self.host):
            raise ConfigError("SMTP without TLS is allowed only to a loopback host")
        if self.port is not None and not 0 < self.port < 65536:
            raise ConfigError(f"SMTP port {self.port} is out of range")
        if self.password is not None and self.password_file is not None:
            raise ConfigError("give the SMTP password or a password file, not both")
        if self.timeout <= 0:
            raise ConfigError("the SMTP timeout must be positive")
        _check_address(self.sender)

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "sender": self.sender,
            "port": self.port,
            "security": self.security,
            "username": self.username,
            "password": self.password,
            "password_file": self.password_file,
            "ca_file": self.ca_file,
            "timeout": self.timeout,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MailSettings:
        try:
            return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})
        except TypeError as exc:
            raise ConfigError(f"mail settings are damaged: {exc}") from None

    def described(self) -> str:
        """One line for people: never the password."""
        login = f" as {self.username}" if self.username else ""
        secret = " (password sealed)" if self.password else ""
        if self.password_file:
            secret = f" (password in {self.password_file})"
        where = f"{self.host}:{self.effective_port} {self.security}"
        return f"{where}{login}{secret}, from {self.sender}"


def _check_address(address: str) -> None:
    user, at, domain = address.partition("@")
    bad = any(c.isspace() or c in "<>,;\"'" or ord(c) < 32 for c in address)
    if bad or not at or not user or not domain or "@" in domain:
        raise ConfigError(f"{address!r} is not a plain email address (user@host)")


def check_recipient(address: str) -> str:
    """A list or alarm address as given by the user: one plain ``user@host``."""
    _check_address(address)
    return address


def settings_path(home: Home) -> Path:
    return home.paths.config_file.with_name(SETTINGS_FILE)


def load_settings(home: Home) -> MailSettings:
    data = home.read(settings_path(home), PURPOSE)
    if not data.get("host"):
        raise ConfigError("no mail server set up: run `mas bridge smtp --host ... --from ...`")
    return MailSettings.from_dict(data)


def save_settings(home: Home, settings: MailSettings) -> None:
    home.write(settings_path(home), PURPOSE, settings.to_dict())


def _password(settings: MailSettings) -> str | None:
    if settings.password_file is None:
        return settings.password
    path = Path(settings.password_file)
    try:
        info = path.stat()
        if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
            raise MailError(
                f"{path}: the SMTP password file must be yours, mode 0600", temporary=False
            )
        return path.read_text(encoding="utf-8").strip("\r\n")
    except OSError as exc:
        raise MailError(f"{path}: {exc.strerror or exc}", temporary=False) from None


def _context(settings: MailSettings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=settings.ca_file)


def _submit(settings: MailSettings, message: EmailMessage, recipients: Sequence[str]) -> None:
    """Blocking: one SMTP session that submits ``message`` to ``recipients``."""
    host, port, timeout = settings.host, settings.effective_port, settings.timeout
    password = _password(settings)
    client: smtplib.SMTP
    if settings.security == "tls":
        client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=_context(settings))
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    with client:
        client.ehlo()
        if settings.security == "starttls":
            if not client.has_extn("starttls"):
                raise MailError(
                    f"{host} does not offer STARTTLS; refusing to send in the clear",
                    temporary=False,
                )
            client.starttls(context=_context(settings))
            client.ehlo()
        if settings.username:
            client.login(settings.username, password or "")
        refused = client.send_message(message, settings.sender, list(recipients))
    if refused:
        why = "; ".join(
            f"{who}: {code} {text.decode(errors='replace')}"
            for who, (code, text) in refused.items()
        )
        raise MailError(f"the server refused some recipients: {why}", temporary=False)


def _explain(exc: BaseException, settings: MailSettings) -> MailError:
    where = f"{settings.host}:{settings.effective_port}"
    if isinstance(exc, MailError):
        return exc
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return MailError(f"{where} refused every recipient", temporary=False)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return MailError(f"{where} refused the login ({exc.smtp_code})", temporary=False)
    if isinstance(exc, smtplib.SMTPResponseException):
        text = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        return MailError(
            f"{where} answered {exc.smtp_code} {text}", temporary=400 <= exc.smtp_code < 500
        )
    if isinstance(exc, ssl.SSLError):
        return MailError(f"{where}: TLS failed: {exc.reason or exc}", temporary=False)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return MailError(f"{where}: {exc}", temporary=False)
    if isinstance(exc, smtplib.SMTPException | OSError):
        return MailError(
            f"{where} is unreachable: {getattr(exc, 'strerror', None) or exc}", temporary=True
        )
    raise exc


async def send(settings: MailSettings, message: EmailMessage, recipients: Sequence[str]) -> None:
    """One attempt; returns only once the server accepted the message for every recipient."""
    if not recipients:
        raise MailError("no recipient", temporary=False)
    for address in recipients:
        check_recipient(address)
    if "From" in message:
        del message["From"]
    message["From"] = settings.sender
    try:
        await asyncio.to_thread(_submit, settings, message, recipients)
    except Exception as exc:  # every smtplib/ssl/socket failure becomes one MailError
        raise _explain(exc, settings) from None


@dataclass(frozen=True, slots=True)
class Retry:
    """Attempts for a temporary failure, waiting ``first``, then twice as long, up to ``cap``."""

    attempts: int = 4
    first: float = 2.0
    cap: float = 300.0

    def delays(self) -> list[float]:
        return [min(self.first * 2**n, self.cap) for n in range(self.attempts - 1)]

    def scaled(self, first: float) -> Retry:
        return replace(self, first=first)


Sleep = Callable[[float], Awaitable[Any]]
Notify = Callable[[str], None]


async def deliver(
    settings: MailSettings,
    message: EmailMessage,
    recipients: Sequence[str],
    retry: Retry = Retry(),
    sleep: Sleep = asyncio.sleep,
    notify: Notify = lambda _: None,
) -> None:
    """:func:`send`, trying a temporary failure again with backoff; the last error is
    raised (a permanent one at once). ``notify`` hears each retry, for the user."""
    for delay in [*retry.delays(), None]:
        try:
            await send(settings, message, recipients)
            return
        except MailError as exc:
            if not exc.temporary or delay is None:
                raise
            notify(f"{exc}; trying again in {delay:g}s")
            await sleep(delay)
