"""Interactive `mas request new`: each answer checked as it is typed, and a sealed draft.

An answer is checked at once by the rules of the request file (shared/aid/markdown.py):
it is written into the example request, with the answers before it, and that file is
parsed. So a typed value meets exactly the checks and words of the same line in a file,
and a bad one is explained and asked again, instead of failing after the last question.

After every accepted answer the answers so far are written to a draft in the state
folder. It is sealed with the home key like all local state (client/vault.py), never
plain text: it names societies and tells a person's story. Ctrl-C, a closed terminal,
a declined preview or a failed publish lose nothing: the path and ``mas request new
--resume`` are printed, and resuming asks again with each saved answer as the default
(Enter keeps it). The draft carries the request's ``d`` from the start, so publishing it
twice (a partial failure, then a resume) replaces the first copy rather than doubling it.
The draft is deleted once the request is published.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import typer
from rich.prompt import Confirm, Prompt

from shieldmutual.client.cli import common
from shieldmutual.client.cli.society import parse_slug
from shieldmutual.client.errors import ClientError
from shieldmutual.client.vault import Home
from shieldmutual.shared.aid.draft import compose, example_request
from shieldmutual.shared.aid.location import location_warning
from shieldmutual.shared.aid.markdown import parse_template, render_template, split_list
from shieldmutual.shared.aid.request import new_identifier
from shieldmutual.shared.errors import InvalidError, ShieldError
from shieldmutual.shared.untrusted import visible

DRAFT_FILE = "request-draft.sealed"
PURPOSE = "request-draft"
RESUME = "mas request new --resume"
WHERE = "Where (coarse: a town, a district, or 'online')"
CLEAR = "-"  # typed to empty an optional answer that has a saved default


@dataclass(frozen=True, slots=True)
class Question:
    key: str  # the request file's front matter key
    text: str
    default: str = ""
    required: bool = False


QUESTIONS = (
    Question("title", "Title (one line)", required=True),
    Question("summary", "Summary (one sentence)", required=True),
    Question("location", WHERE, required=True),
    Question("language", "Language (ISO-639-1)", "en"),
    Question("geohash", "Geohash (optional, at most 5 characters)"),
    Question("societies", "Societies (comma-separated)"),
    Question("amount", "Amount asked (optional, e.g. 400)"),
    Question("currency", "Currency", "GBP"),  # asked only with an amount
    Question("deadline", "Deadline (optional, e.g. 2026-06-01)"),
    Question("lightning", "Your lightning address (optional)"),
    Question("other", "Another way to pay you, in words (optional)"),
    Question("call", "Call flood (optional): number | who | what to say"),
    Question("signwave", "Sign wave (optional): place | 2026-06-01T17:00+01:00"),
)


@dataclass
class Draft:
    """The answers so far; :meth:`save` after each one."""

    home: Home
    fields: dict[str, str] = field(default_factory=dict)
    story: str | None = None
    details: str | None = None

    @property
    def path(self) -> Path:
        return self.home.paths.state_dir / DRAFT_FILE

    @classmethod
    def load(cls, home: Home) -> Draft | None:
        draft = cls(home)
        data = home.read(draft.path, PURPOSE)
        if not data:
            return None
        try:
            draft.fields = {str(k): str(v) for k, v in data["fields"].items()}
            draft.story, draft.details = data.get("story"), data.get("details")
        except (KeyError, AttributeError) as exc:
            raise ClientError(f"{draft.path}: the request draft is damaged: {exc}") from None
        return draft

    def save(self) -> None:
        data = {"fields": self.fields, "story": self.story, "details": self.details}
        self.home.write(self.path, PURPOSE, data)

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)

    def request_fields(self) -> dict[str, str | list[str]]:
        """Front matter for :func:`compose`: no currency without an amount."""
        fields: dict[str, str | list[str]] = {k: v for k, v in self.fields.items() if v}
        if not self.fields.get("amount"):
            fields.pop("currency", None)
        return fields


def say_kept(state: common.State, draft: Draft) -> None:
    """Where the answers are and how to go on, never folded: the path is to be copied."""
    text = f"your answers are kept, sealed, in {draft.path}; continue with: {RESUME}"
    state.err.print(visible(text), style="dim", markup=False, highlight=False, soft_wrap=True)


def _problem(
    draft: Draft,
    changes: Mapping[str, str],
    *,
    story: str | None = None,
    details: str | None = None,
) -> str | None:
    """Why ``changes`` (or a story or details) cannot stand with the answers before
    them, else None."""
    trial = {**draft.fields, **changes}
    if not trial.get("amount"):
        trial["amount"] = trial["currency"] = ""  # the example's currency must go too
    base = render_template(example_request(int(time.time())))
    try:
        parse_template(compose(base, trial, story=story, details=details))
    except ShieldError as exc:
        return str(exc)
    return None


def _normalize(key: str, value: str) -> str:
    value = value.strip()
    if key == "societies":  # mas-leeds or leeds, as people share them
        return ", ".join(parse_slug(s) for s in split_list(value))
    return value


class _Asker:
    """The terminal side: one question at a time, re-asked until its answer stands."""

    def __init__(self, state: common.State, draft: Draft) -> None:
        self.state = state
        self.draft = draft

    def line(self, question: Question, default: str, *, saved: bool = False) -> str:
        """One answer; a saved optional one can be emptied with ``-`` (Enter keeps it)."""
        clearable = saved and bool(default) and not question.required
        text = f"{question.text} ({CLEAR} clears)" if clearable else question.text
        while True:
            typed = Prompt.ask(
                text, console=self.state.err, default=default, show_default=bool(default)
            )
            if clearable and typed.strip() == CLEAR:
                typed = ""
            problem = self._check(question, typed)
            if problem is None:
                return _normalize(question.key, typed)
            self.say(problem)

    def _check(self, question: Question, typed: str) -> str | None:
        if question.required and not typed.strip():
            return "an answer is needed"
        try:
            value = _normalize(question.key, typed)
        except ShieldError as exc:
            return str(exc)
        return _problem(self.draft, {question.key: value})

    def say(self, problem: str) -> None:
        self.state.err.print(
            visible(f"  {problem}; try again"), style="red", markup=False, highlight=False
        )

    def block(self, name: str, section: str, saved: str | None) -> str:
        """Several lines of Markdown ended by a line with a single '.'; a saved text is
        shown and kept unless the person says otherwise."""
        if saved:
            shown = visible(f"{name} (saved):\n{saved}", multiline=True)
            self.state.err.print(shown, markup=False, highlight=False)
            if Confirm.ask(f"Keep the saved {section}?", console=self.state.err, default=True):
                return saved
        while True:
            typer.echo(f"{name} (Markdown; end with a line containing only '.'):", err=True)
            lines = []
            while (line := input()).strip() != ".":
                lines.append(line)
            text = "\n".join(lines).strip()
            if section == "story" and not text:
                self.say("the story is needed")
                continue
            problem = _problem(self.draft, {}, **{section: text})
            if problem is None:
                return text
            self.say(problem)


def _ask_all(state: common.State, draft: Draft, societies: Sequence[str]) -> None:
    asker = _Asker(state, draft)
    draft.fields.setdefault("id", new_identifier())
    for question in QUESTIONS:
        if question.key == "currency" and not draft.fields.get("amount"):
            continue
        default = question.default
        if question.key == "societies":
            default = ", ".join(societies)
        saved = question.key in draft.fields
        answer = asker.line(question, draft.fields.get(question.key, default), saved=saved)
        warning = location_warning(answer) if question.key == "location" else None
        if warning is not None:  # asked again once (Enter keeps it): only they know
            state.warn(warning)
            answer = asker.line(Question("location", f"{WHERE}; Enter keeps it"), answer)
        draft.fields[question.key] = answer
        draft.save()
    draft.story = asker.block("Story", "story", draft.story)
    draft.save()
    draft.details = asker.block("Details (optional)", "details", draft.details)
    draft.save()


def ask(state: common.State, societies: Sequence[str], *, resume: bool) -> Draft:
    """Ask every question (a saved draft's answers as defaults) and return the draft."""
    draft = Draft.load(state.home)
    if draft is None and resume:
        raise InvalidError(f"no request draft to resume (it would be {Draft(state.home).path})")
    if draft is not None and not resume:
        state.note(f"an unfinished request draft is kept in {draft.path}")
        if not Confirm.ask("Continue it?", console=state.err, default=True):
            draft = None
    draft = draft or Draft(state.home)
    try:
        _ask_all(state, draft, societies)
    except (KeyboardInterrupt, EOFError) as exc:
        if draft.fields:
            say_kept(state, draft)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ClientError("the answers ended before the last question") from None
    return draft


@contextlib.contextmanager
def kept(state: common.State, draft: Draft | None, *, publishing: bool) -> Iterator[None]:
    """Around what follows the questions: on any failure (a declined preview, relays),
    say where the answers are; once published, forget them."""
    if draft is None:
        yield
        return
    try:
        yield
    except BaseException:
        say_kept(state, draft)
        raise
    if publishing:
        draft.discard()
    else:
        say_kept(state, draft)
