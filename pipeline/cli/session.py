"""The interactive prompt's requests to the pipeline: revise, judge an edit, explain; and their telemetry.

They are answered where the request's pipeline ran: in this process (`caro` without the
service, `pipeline/cli/run.py`) or in the caro service, which receives them on the request's
own connection (`pipeline/serve/handlers.py`). A revised or edited command comes back as a
script made by the same `respond_script` as the first answer, so the prompt shows it exactly
as it showed the first one, judged the same way. The service never runs anything: the client
performs every script (`pipeline/cli/interactive.py`).

A session keeps each pipeline run it made, for the request's one telemetry flush: a revision's
and an edit's stage events, then one `prompt_action` event per choice the user made.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pipeline.cli import run as cli
from pipeline.cli.perform import Script
from pipeline.values import FollowUp, Result, TextKind

if TYPE_CHECKING:
    from pipeline.service import Caro, Handled
    from pipeline.settings import Settings
    from pipeline.values import Platform


class Session:
    """One request's interactive prompt, on the pipeline that answered the request."""

    def __init__(
        self,
        caro: Caro,
        settings: Settings,
        platform: Platform,
        *,
        cwd: str | None = None,
        home: str | None = None,
        verbose: bool = False,
        pulls: bool = True,
    ) -> None:
        self.caro = caro
        self.settings = settings
        self.platform = platform
        self.cwd = cwd
        self.home = home
        self.verbose = verbose
        self.pulls = pulls  # a missing model is pulled here (in process); the service asks the client to
        self.runs: list[Handled] = []
        self.shown: Result | None = None  # the last command the prompt showed after the first
        self.words: list[str] = []  # every follow-up and command since the first: the privacy check's needles

    # -- the prompt's requests ----------------------------------------------------------

    def revise(self, text: str, request: str, command: str) -> Script:
        """The script for the command the follow-up `text` makes of `command`, asked for by `request` (or for why there is none)."""
        follow_up = FollowUp(request, command)
        handled = self._revised(text, follow_up)
        if self.pulls and cli.missing_model(handled.result) and cli.pull_configured_model(self.settings, self.verbose):
            from pipeline.service import Caro

            self.caro = Caro.from_settings(self.settings)
            handled = self._revised(text, follow_up)
        return self._shown(handled, text)

    def judge(self, command: str) -> Script:
        """The script for a command the user edited: judged again, as `caro check` would."""
        return self._shown(self.caro.run(command, TextKind.COMMAND, self._options()), command)

    def explain(self, command: str) -> str:
        """What `caro explain` prints for the command, with the verdict it has here."""
        from pipeline.cli.explain import explained, plain_explanation

        result = self.caro.check(command, self._options())
        if result.risk is None or result.action is None:  # not a usable command (the prompt never shows one)
            return f"caro: cannot explain it: {result.explanation}\n"
        return plain_explanation(command, explained(command, result, self.settings))

    def answer(self, message: dict[str, Any]) -> dict[str, Any]:
        """The service's reply to one of the prompt's messages (`revise`, `judge`, `explain`)."""
        op, text = message.get("op"), str(message.get("text", ""))
        if op == "explain":
            return {"text": self.explain(text)}
        if op == "judge":
            return {"script": self.judge(text)}
        if op == "revise":
            follow_up = message.get("follow_up") or {}
            previous = FollowUp(str(follow_up.get("request", "")), str(follow_up.get("command", "")))
            handled = self._revised(text, previous)
            if cli.missing_model(handled.result) and _in_catalogue(self.settings["model"]):
                return {"pull": True}  # the client downloads it with its progress bar, then asks again
            return {"script": self._shown(handled, text)}
        return {"fault": "unknown operation"}

    # -- telemetry ------------------------------------------------------------------------

    def telemetry(self, text: str, first: Handled, taken: Iterable[object]) -> tuple[str, Result, tuple[Any, ...], dict[str, float]]:
        """The arguments of the request's one `Recorder.flush`, for the whole session.

        The words: every request, follow-up and command of the session, which no stored row may
        contain. The result: the last command shown (its outcome ends the session). The drafts:
        the first run's, each later run's (durations filled in from that run's times), then one
        `prompt_action` per choice. The durations: the first run's.
        """
        from pipeline.telemetry.builders import prompt_action_events

        drafts = [*first.drafts]
        for run in self.runs:
            drafts.extend(draft.timed(run.durations_ms) for draft in run.drafts)
        drafts.extend(prompt_action_events(taken))
        words = "\n".join(w for w in (text, first.result.command, *self.words) if w)
        return words, self.shown or first.result, tuple(drafts), first.durations_ms

    # -- helpers --------------------------------------------------------------------------

    def _options(self, follow_up: FollowUp | None = None) -> Any:
        options = cli.request_options(self.settings, self.platform, cwd=self.cwd, home=self.home)
        return dataclasses.replace(options, follow_up=follow_up) if follow_up is not None else options

    def _revised(self, text: str, follow_up: FollowUp) -> Handled:
        return self.caro.run(text, TextKind.REQUEST, self._options(follow_up))

    def _shown(self, handled: Handled, text: str) -> Script:
        """The prompt's script for a run; the run is kept for the telemetry, its command as the one shown."""
        self.runs.append(handled)
        result = handled.result
        self.words.extend(w for w in (text, result.command) if w)
        script = cli.respond_script(
            result, self.settings, self.platform, execute=False, yes=False, dry_run=False, verbose=self.verbose, tty=True
        )
        if script["plan"] == "menu":
            self.shown = result
        return script


def _in_catalogue(model: str) -> bool:
    from pipeline.models.catalogue import load_catalogue

    return model in load_catalogue()
