"""Notices that reach a person away from the terminal: `--notify email:ADDR|exec:CMD|desktop`.

* ``exec:CMD`` runs a command of the person's choosing (a push service, a Signal or SMS
  gateway...). CMD is split with shlex and run without a shell, in an empty environment
  but for ``PATH`` and ``MAS_NOTICE`` (``alarm``, ``all-clear`` or ``request``), with a
  timeout, in its own process group (killed whole when late). The notice comes on its
  standard input, subject line first: never on its command line, which every local user
  can read in ``ps``.
* ``desktop`` uses ``notify-send`` (libnotify). Its text does go on notify-send's command
  line, so it holds only the subject (a petname or short npub), never more.
* ``email:ADDR`` goes through the client's one SMTP door (client/mailer.py), with the
  mail server set up for the bridge (`mas bridge smtp`); one attempt per look.

`mas feed --notify` tells of each new request (:class:`RequestNotices`), at most
:data:`NOTICE_BURST` an hour: a first run over a busy society, or a flood of requests,
must not become hundreds of mails; the rest are counted and told in one notice.

A failed delivery is reported and tried again later; a channel that keeps
failing is left alone for a while (doubling up to :data:`MAX_BACKOFF`), so a live watch
does not run a broken hook every second. Nothing here raises past :meth:`Notifier.send`.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from shieldmutual.client import mailer
from shieldmutual.client.errors import ConfigError, MailError, NotifyError
from shieldmutual.client.vault import Home
from shieldmutual.shared.aid.export import text_email
from shieldmutual.shared.aid.request import AidRequest
from shieldmutual.shared.errors import AidError
from shieldmutual.shared.untrusted import one_line, visible

HOOK_TIMEOUT = 30.0  # seconds a command or notify-send may take
FIRST_BACKOFF = 10.0
MAX_BACKOFF = 900.0
STDERR_TAIL = 200  # characters of a failed command's stderr quoted in the report
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
NOTICE_BURST = 10  # new-request notices an hour
NOTICE_WINDOW = 3600.0
SUBJECT_TITLE = 120  # characters of a stranger's title in a subject line


@dataclass(frozen=True, slots=True)
class Message:
    kind: str  # alarm, all-clear, request: MAS_NOTICE for a hook
    subject: str
    body: str

    @property
    def text(self) -> str:
        return f"{self.subject}\n\n{self.body}"


class Channel(Protocol):
    @property
    def spec(self) -> str:
        """As given to --notify: the key under which deliveries are remembered."""

    def send(self, message: Message) -> None:
        """Deliver, or raise NotifyError with a one-line reason."""


def _search_path() -> str:
    return os.environ.get("PATH") or DEFAULT_PATH


def _run(argv: Sequence[str], stdin: str, env: dict[str, str], what: str) -> None:
    """Run ``argv`` with ``stdin``; a NotifyError if it cannot start, fails or is late."""
    try:
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, env=env, cwd="/", start_new_session=True, text=True,
        )  # fmt: skip
    except OSError as exc:
        raise NotifyError(f"{what}: cannot run: {exc.strerror or exc}") from None
    try:
        _, err = proc.communicate(stdin, timeout=HOOK_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise NotifyError(f"{what}: no answer within {HOOK_TIMEOUT:g} s; stopped") from None
    if proc.returncode != 0:
        tail = one_line(err or "")[-STDERR_TAIL:]
        raise NotifyError(f"{what}: exit {proc.returncode}" + (f": {tail}" if tail else ""))


@dataclass(frozen=True, slots=True)
class Exec:
    spec: str
    argv: tuple[str, ...]

    def send(self, message: Message) -> None:
        env = {"PATH": _search_path(), "MAS_NOTICE": message.kind}
        _run(self.argv, message.text, env, f"exec {os.path.basename(self.argv[0])}")


@dataclass(frozen=True, slots=True)
class Desktop:
    spec: str
    program: str

    def send(self, message: Message) -> None:
        urgency = "critical" if message.kind == "alarm" else "normal"
        argv = [self.program, "--app-name=Shield Mutual", f"--urgency={urgency}", "--"]
        _run([*argv, message.subject], "", {"PATH": _search_path()}, "desktop")


@dataclass(frozen=True, slots=True)
class Email:
    spec: str
    address: str
    settings: mailer.MailSettings

    def send(self, message: Message) -> None:
        try:
            mail = text_email(
                message.subject, message.body, to=self.address, sender=self.settings.sender
            )
            asyncio.run(mailer.send(self.settings, mail, [self.address]))
        except (MailError, AidError) as exc:
            raise NotifyError(f"email {self.address}: {exc}") from None


def _exec(spec: str, command: str) -> Exec:
    try:
        argv = tuple(shlex.split(command))
    except ValueError as exc:
        raise ConfigError(f"--notify {spec!r}: {exc}") from None
    if not argv:
        raise ConfigError("--notify exec:CMD needs a command")
    if shutil.which(argv[0], path=_search_path()) is None:
        raise ConfigError(f"--notify exec: no such command: {argv[0]}")
    return Exec(spec, argv)


def _desktop(spec: str) -> Desktop:
    program = shutil.which("notify-send", path=_search_path())
    if program is None:
        raise ConfigError(
            "--notify desktop needs notify-send (Debian/Ubuntu: apt install libnotify-bin); "
            "or use exec:CMD or email:ADDR"
        )
    return Desktop(spec, program)


def parse_channel(spec: str, home: Home) -> Channel:
    """One ``--notify`` value, checked before anything is watched (exit 2 if wrong);
    ``email:`` reads the mail server's sealed settings from ``home``."""
    kind, _, rest = spec.partition(":")
    if kind == "exec":
        return _exec(spec, rest)
    if kind == "desktop" and not rest:
        return _desktop(spec)
    if kind == "email" and rest:
        return Email(spec, mailer.check_recipient(rest), mailer.load_settings(home))
    raise ConfigError(f"--notify must be email:ADDR, exec:CMD or desktop, got {spec!r}")


@dataclass
class Notifier:
    """The channels of one command, each delivery reported, failures backed off."""

    channels: Sequence[Channel]
    report: Callable[[str], None]
    clock: Callable[[], float] = time.monotonic
    _retry_at: dict[str, float] = field(default_factory=dict)
    _backoff: dict[str, float] = field(default_factory=dict)

    @classmethod
    def parse(
        cls, specs: Sequence[str] | None, home: Home, report: Callable[[str], None]
    ) -> Notifier:
        return cls([parse_channel(s, home) for s in dict.fromkeys(specs or ())], report)

    @property
    def specs(self) -> list[str]:
        return [c.spec for c in self.channels]

    def ready(self, spec: str) -> bool:
        """False while a channel that failed waits before its next try."""
        return self.clock() >= self._retry_at.get(spec, 0.0)

    def send(self, spec: str, message: Message) -> bool:
        """Deliver on one channel; True once delivered. A failure is reported, never raised."""
        channel = next(c for c in self.channels if c.spec == spec)
        try:
            channel.send(message)
        except NotifyError as exc:
            wait = min(MAX_BACKOFF, self._backoff.get(spec, FIRST_BACKOFF / 2) * 2)
            self._backoff[spec] = wait
            self._retry_at[spec] = self.clock() + wait
            self.report(f"notify: {exc} (tried again later)")
            return False
        self._backoff.pop(spec, None)
        self._retry_at.pop(spec, None)
        return True

    def send_all(self, message: Message) -> None:
        for spec in self.specs:
            if self.ready(spec):
                self.send(spec, message)


def request_message(request: AidRequest, naddr: str) -> Message:
    """A new request, in a stranger's words made visible (no control or bidi character
    reaches a hook, a terminal or a mail header as itself)."""
    title = one_line(request.title)
    if len(title) > SUBJECT_TITLE:
        title = title[: SUBJECT_TITLE - 1] + "…"
    body = visible(f"{request.title}\n\n{request.summary}\n\nnostr:{naddr}\n", multiline=True)
    return Message("request", f"New aid request: {title}", body)


@dataclass
class RequestNotices:
    """One notice per new request, at most :data:`NOTICE_BURST` in an hour; what is held
    back is counted and told in one notice once there is room (:meth:`flush`)."""

    notifier: Notifier
    clock: Callable[[], float] = time.monotonic
    held: int = 0
    _sent: deque[float] = field(default_factory=deque)

    def _room(self) -> bool:
        while self._sent and self.clock() - self._sent[0] >= NOTICE_WINDOW:
            self._sent.popleft()
        return len(self._sent) < NOTICE_BURST

    def _tell(self, message: Message) -> None:
        self._sent.append(self.clock())
        self.notifier.send_all(message)

    def add(self, request: AidRequest, naddr: str) -> None:
        self.flush()  # what was held back first, in order
        if self._room():
            self._tell(request_message(request, naddr))
        else:
            self.held += 1

    def flush(self) -> None:
        if self.held and self._room():
            count, self.held = self.held, 0
            body = f"{count} more new aid request(s) arrived; `mas feed` shows them.\n"
            self._tell(Message("request", f"{count} more new aid request(s)", body))
