"""Values that cross node boundaries: enums for every category, frozen dataclasses for results.

Nothing here imports anything heavy; the CLI, the nodes and the engines all share these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, IntEnum


class Risk(IntEnum):
    """How much harm a command can do, ordered so that `max()` gives the worst."""

    SAFE = 0
    MODERATE = 1
    HIGH = 2
    CRITICAL = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Risk:
        return cls[text.strip().upper()]


class SafetyLevel(str, Enum):
    """How cautious the user wants caro to be; maps a risk to an action."""

    STRICT = "strict"
    MODERATE = "moderate"
    PERMISSIVE = "permissive"


class Action(str, Enum):
    """What caro does with a judged command."""

    ALLOWED = "allowed"
    CONFIRM = "confirm"
    BLOCKED = "blocked"


# strict: moderate -> confirm, high+ -> block; moderate: high -> confirm, critical -> block;
# permissive: critical -> confirm.  Anything not listed is allowed.
_ACTIONS: dict[SafetyLevel, dict[Risk, Action]] = {
    SafetyLevel.STRICT: {Risk.MODERATE: Action.CONFIRM, Risk.HIGH: Action.BLOCKED, Risk.CRITICAL: Action.BLOCKED},
    SafetyLevel.MODERATE: {Risk.HIGH: Action.CONFIRM, Risk.CRITICAL: Action.BLOCKED},
    SafetyLevel.PERMISSIVE: {Risk.CRITICAL: Action.CONFIRM},
}


def action_for(risk: Risk, level: SafetyLevel) -> Action:
    """The action a safety level takes for a risk."""
    return _ACTIONS[level].get(risk, Action.ALLOWED)


class Category(str, Enum):
    """Why a command is risky. Rules in configs/safety_rules.toml name one of these."""

    DESTRUCTIVE_RM = "destructive_rm"
    PIPE_TO_SHELL = "pipe_to_shell"
    PRIVILEGE_ESCALATION = "privilege_escalation"
    DATA_EXFILTRATION = "data_exfiltration"
    RECURSIVE_OPERATIONS = "recursive_operations"
    DISK_OVERWRITE = "disk_overwrite"
    SYSTEM_FILES = "system_files"
    PROCESS = "process"
    NETWORK = "network"
    SYSTEM_CONFIG = "system_config"
    RESOURCE_EXHAUSTION = "resource_exhaustion"
    UNPARSABLE = "unparsable"
    UNKNOWN = "unknown"  # caro cannot tell what it does, so it asks (tier 3)
    PERSISTENCE = "persistence"  # makes something run later by itself: startup files, cron, keys
    OBFUSCATION = "obfuscation"  # hides what runs: parser tricks, invisible characters, erased history
    HISTORY_REWRITE = "history_rewrite"  # rewrites shared version-control history (force push)


class Shell(str, Enum):
    """Target shells. caro writes POSIX commands; these are the POSIX-family shells it targets."""

    SH = "sh"
    BASH = "bash"
    ZSH = "zsh"
    DASH = "dash"
    KSH = "ksh"


class Userland(str, Enum):
    """Which flavour of the core utilities the platform has; flags differ between them."""

    GNU = "gnu"
    BSD = "bsd"


class Source(str, Enum):
    """Where the command came from."""

    STATIC = "static"
    LLM = "llm"
    PASSTHROUGH = "passthrough"
    NONE = "none"


class TextKind(str, Enum):
    """What the user's text is: a request to turn into a command, or a command to judge."""

    REQUEST = "request"
    COMMAND = "command"


class Outcome(str, Enum):
    """How a request ended, before any execution."""

    COMMAND = "command"  # a command was produced and judged (allowed, confirm or blocked)
    NO_COMMAND = "no_command"  # nothing could produce a command
    BAD_INPUT = "bad_input"  # the request itself was unusable
    REFUSED = "refused"  # the request asks for something caro will not write (configs/refusals.toml)


@dataclass(frozen=True)
class Platform:
    """The machine a command is written for."""

    os: str  # "linux", "macos", "freebsd", ... (lower case)
    userland: Userland
    shell: Shell


@dataclass(frozen=True)
class FollowUp:
    """What a follow-up request revises: the user's earlier words and the command they were shown.

    `request` holds the first request and any earlier follow-ups, one a line; `command` is the
    command on screen when the follow-up was asked for (the user may have edited it).
    """

    request: str
    command: str


@dataclass(frozen=True)
class InputProblem:
    """Why a request cannot be handled; `message` never quotes the request."""

    code: str  # "empty", "too_long", "nul_byte", "control_character", "invalid_utf8"
    message: str


@dataclass(frozen=True)
class Refusal:
    """Why caro will not write a command for a request; `why` never quotes the request."""

    rule: str  # the entry of configs/refusals.toml
    category: str  # the safety category of the commands it refuses
    why: str


@dataclass(frozen=True)
class StaticMatch:
    """A command from the static table, with how sure the matcher is (0..1)."""

    intent_id: str
    command: str
    confidence: float
    category: str
    slots: dict[str, str] = field(default_factory=dict)


class GenerationErrorKind(str, Enum):
    """Why a language model produced no command."""

    NOT_CONFIGURED = "not_configured"
    MODEL_LOAD_FAILED = "model_load_failed"
    INFERENCE_FAILED = "inference_failed"
    TIMEOUT = "timeout"
    PARSE_ERROR = "parse_error"
    OOM = "oom"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class GenerationError:
    kind: GenerationErrorKind
    message: str
    backend: str | None = None
    recoverable: bool = False


@dataclass(frozen=True)
class Generation:
    """What the language-model stages produced: a command, a failure, or nothing because they did not run."""

    ran: bool  # this request needed a model
    command: str | None = None
    backend: str | None = None
    error: GenerationError | None = None  # why there is no command
    failures: tuple[GenerationError, ...] = ()  # every backend failure on the way, recovered from or not
    refine_ran: bool = False  # refine found problems and asked the model for a repair
    refine_changed: bool = False  # the repaired command was kept
    findings: tuple[str, ...] = ()  # problems the linters still see in the final command
    latency_ms: float | None = None

    @classmethod
    def skipped(cls) -> Generation:
        return cls(ran=False)


@dataclass(frozen=True)
class Candidate:
    """The one command that goes to the safety stage, and where it came from."""

    command: str
    source: Source
    backend: str | None
    confidence: float = 1.0


@dataclass(frozen=True)
class Finding:
    """One matched safety rule."""

    rule_id: str
    category: Category
    risk: Risk
    message: str  # human explanation; may name the dangerous target, never logged


@dataclass(frozen=True)
class SafetyVerdict:
    """The safety stage's judgement of one command at one safety level."""

    risk: Risk
    action: Action
    findings: tuple[Finding, ...] = ()
    parsed: bool = True

    @property
    def categories(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for f in self.findings:
            seen.setdefault(f.category.value, None)
        return tuple(seen)

    @property
    def explanation(self) -> str:
        if not self.findings:
            return "No risky pattern found."
        worst = max(self.findings, key=lambda f: f.risk)
        return worst.message


@dataclass(frozen=True)
class Result:
    """The final value of a request: what the CLI renders and the telemetry sees."""

    outcome: Outcome
    command: str | None
    source: Source
    backend: str | None
    risk: Risk | None
    action: Action | None
    categories: tuple[str, ...]
    explanation: str
    warnings: tuple[str, ...] = ()
    confidence: float | None = None  # how sure the producing stage is (0..1); None without a command
    problem: InputProblem | None = None
    generation_error: GenerationError | None = None
    backend_failures: tuple[GenerationError, ...] = ()  # failures recovered from (or not) on the way
    refine_ran: bool = False
    refine_changed: bool = False
    alternatives: tuple[Result, ...] = ()  # other commands for the request, best first (`caro -n`)
    slots: tuple[str, ...] = ()  # what the user must fill in before it can run (`<file>`: pipeline/slots.py)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict with the documented field names (not the alternatives: `caro -n` lists them)."""
        return {
            "command": self.command,
            "source": self.source.value,
            "backend": self.backend,
            "risk": self.risk.label if self.risk is not None else None,
            "action": self.action.value if self.action is not None else None,
            "categories": list(self.categories),
            "explanation": self.explanation,
            "warnings": list(self.warnings),
            "confidence": None if self.confidence is None else round(self.confidence, 3),
            "outcome": self.outcome.value,
            "backend_failures": [
                {"backend": f.backend, "kind": f.kind.value, "recoverable": f.recoverable} for f in self.backend_failures
            ],
            "refine": {"ran": self.refine_ran, "changed": self.refine_changed},
            "slots": list(self.slots),
            "error": (
                {"code": self.problem.code, "message": self.problem.message}
                if self.problem
                else (
                    {"code": self.generation_error.kind.value, "message": self.generation_error.message}
                    if self.generation_error
                    else None
                )
            ),
        }
