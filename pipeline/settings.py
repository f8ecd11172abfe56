"""caro's settings: the keys, their layers, and the user's TOML file.

Precedence, highest first: flags > CARO_* environment > user config file > configs/defaults.toml.
Every key is declared once in `KEYS`; its environment variable is derived from its name
(`telemetry.enabled` -> `CARO_TELEMETRY_ENABLED`).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from pipeline.errors import CaroError, state_unwritable, usage_error
from pipeline.integration import parse_key
from pipeline.paths import REPO_CONFIGS
from pipeline.values import SafetyLevel, Shell, Userland

DEFAULTS_FILE = REPO_CONFIGS / "defaults.toml"


class OutputFormat(str, Enum):
    PLAIN = "plain"
    JSON = "json"
    YAML = "yaml"


class Layer(str, Enum):
    """Where an effective value came from."""

    FLAG = "flag"
    ENV = "env"
    USER = "user"
    DEFAULT = "default"


def _choice(*choices: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return text

    return parse


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError("must be true or false")


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value.strip()


def _paths(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):  # from the environment: os.pathsep-separated
        return tuple(p for p in value.split(os.pathsep) if p)
    if isinstance(value, list) and all(isinstance(p, str) for p in value):
        return tuple(value)
    raise ValueError("must be a list of file paths")


def _number(value: Any) -> float:
    if isinstance(value, bool):  # TOML's true is not a number of seconds
        raise ValueError("must be a number")
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise ValueError("must be a number") from None
    return number


def _seconds(value: Any) -> float:
    number = _number(value)
    if not 0 < number <= 3600:
        raise ValueError("must be a number of seconds above 0 and at most 3600")
    return number


def _count(value: Any) -> int:
    number = _number(value)
    if number != int(number) or number < 0:
        raise ValueError("must be a whole number, 0 or more")
    return int(number)


def _optional_text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value.strip()


def _http_url(value: Any) -> str:
    text = _text(value).rstrip("/")
    if not text.startswith(("http://", "https://")) or len(text.split("://", 1)[1]) == 0:
        raise ValueError("must be an http:// or https:// URL")
    return text


BACKENDS = ("llama_cpp", "vllm")


def _backends(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):  # from the environment: comma-separated
        value = [part for part in (p.strip() for p in value.split(",")) if part]
    if not isinstance(value, list) or not all(isinstance(b, str) for b in value):
        raise ValueError(f"must be a list of backends ({', '.join(BACKENDS)})")
    names = tuple(b.strip().lower() for b in value)
    if any(name not in BACKENDS for name in names):
        raise ValueError(f"each backend must be one of {', '.join(BACKENDS)}")
    return names


@dataclass(frozen=True)
class KeySpec:
    """One setting: its dotted name, how to parse it, and what it means."""

    name: str
    parse: Callable[[Any], Any]
    help: str

    @property
    def env_var(self) -> str:
        return "CARO_" + self.name.upper().replace(".", "_")


KEYS: dict[str, KeySpec] = {
    spec.name: spec
    for spec in (
        KeySpec("safety", _choice(*(s.value for s in SafetyLevel)), "safety level: strict, moderate or permissive"),
        KeySpec("shell", _choice("auto", *(s.value for s in Shell)), "target shell: auto, sh, bash, zsh, dash or ksh"),
        KeySpec("userland", _choice("auto", *(u.value for u in Userland)), "utilities flavour: auto, gnu or bsd"),
        KeySpec("backend", _choice(*BACKENDS, "none"), "model backend: llama_cpp, vllm or none"),
        KeySpec("fallback", _backends, "backends to try, in order, when the first one fails"),
        KeySpec("model", _text, "model name from the catalogue, or a GGUF file path"),
        KeySpec("integration.key", parse_key, "the key `caro init` binds in the shell: alt-<key>, ctrl-<key> or ctrl-alt-<key>"),
        KeySpec("generation.timeout_s", _seconds, "time budget of one request's own work with the language models, in seconds (see below)"),
        KeySpec("generation.warmup_s", _seconds, "the longest a request waits, off its budget, for the model to load, read its shared prompt, or be free"),
        KeySpec("generation.retries", _count, "retries of a backend after a failure that may pass (timeout, bad reply)"),
        KeySpec(
            "generation.answer_format",
            _choice("code", "json"),
            "how the model writes its command: code (a free answer, its first code block) or json (decoding constrained to {\"cmd\": ...})",
        ),
        KeySpec("llama_cpp.n_ctx", _count, "llama.cpp context size in tokens (0: the model's own)"),
        KeySpec("llama_cpp.threads", _count, "llama.cpp CPU threads (0: automatic)"),
        KeySpec("vllm.mode", _choice("http", "local"), "vllm backend: http (a vLLM server) or local (in-process, GPU)"),
        KeySpec("vllm.base_url", _http_url, "the vLLM server's base URL (OpenAI-compatible API)"),
        KeySpec("vllm.model", _optional_text, "model the vLLM server serves (empty: its only model); for local mode, a model id or folder"),
        KeySpec("vllm.api_key", _optional_text, "API key for the vLLM server (empty: none)"),
        KeySpec("vllm.timeout_s", _seconds, "seconds to wait for the vLLM server on one HTTP request"),
        KeySpec("vllm.retries", _count, "retries of an HTTP request the vLLM server could not take (refused, 5xx)"),
        KeySpec(
            "vllm.send_directory_names",
            _boolean,
            "send the names of the files and folders in the working directory to a vLLM server on another machine",
        ),
        KeySpec("output", _choice(*(o.value for o in OutputFormat)), "output format: plain, json or yaml"),
        KeySpec("extra_static_tables", _paths, "extra static-match table files"),
        KeySpec("extra_safety_rules", _paths, "extra safety-rule files"),
        KeySpec("serve.enabled", _boolean, "answer requests through the resident caro service, started on demand"),
        KeySpec("serve.idle_s", _seconds, "seconds the caro service waits for a request before it exits"),
        KeySpec("telemetry.enabled", _boolean, "record anonymous usage telemetry on this machine"),
        KeySpec(
            "telemetry.flush",
            _choice("background", "inline"),
            "store a request's events after caro exits, in a detached child (background), or before (inline)",
        ),
    )
}


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _read_toml(path: Path, *, what: str) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return _flatten(tomllib.load(handle))
    except (FileNotFoundError, NotADirectoryError):
        # Not there, or a file stands where its folder should be (CARO_HOME naming a file):
        # either way there are no user settings, and commands that need no state still work.
        return {}
    except UnicodeDecodeError:
        raise CaroError(
            f"the {what} is not UTF-8 text",
            code="config_invalid",
            hint="save it as UTF-8, or run `caro config reset`; `caro config path` shows where it is",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise CaroError(
            f"the {what} is not valid TOML ({exc})",
            code="config_invalid",
            hint="fix it, or run `caro config reset`; `caro config path` shows where it is",
        ) from None
    except OSError as exc:
        raise CaroError(f"the {what} cannot be read ({exc.strerror})", code="config_unreadable") from None


def _parse(spec: KeySpec, value: Any, layer: Layer) -> Any:
    try:
        return spec.parse(value)
    except ValueError as exc:
        where = {Layer.FLAG: "option", Layer.ENV: spec.env_var, Layer.USER: "user config", Layer.DEFAULT: "defaults"}[layer]
        message = f"invalid value for {spec.name} ({where}): {exc}"
        if layer in (Layer.FLAG, Layer.ENV):
            raise usage_error(message, hint="see `caro config show`") from None
        raise CaroError(message, code="config_invalid", hint="run `caro config set` or `caro config reset`") from None


@dataclass(frozen=True)
class Settings:
    """The effective settings, with the layer each value came from."""

    values: Mapping[str, Any]
    layers: Mapping[str, Layer]
    config_file: Path

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    @property
    def safety(self) -> SafetyLevel:
        return SafetyLevel(self.values["safety"])

    @property
    def output(self) -> OutputFormat:
        return OutputFormat(self.values["output"])

    @property
    def shell(self) -> Shell | None:
        value = self.values["shell"]
        return None if value == "auto" else Shell(value)

    @property
    def userland(self) -> Userland | None:
        value = self.values["userland"]
        return None if value == "auto" else Userland(value)


def default_values() -> dict[str, Any]:
    """The settings from configs/defaults.toml alone, parsed (no user file, no environment)."""
    defaults = _read_toml(DEFAULTS_FILE, what="defaults file")
    return {name: _parse(spec, defaults[name], Layer.DEFAULT) for name, spec in KEYS.items() if name in defaults}


def load_settings(
    config_file: Path,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """The effective settings from defaults, the user's file, the environment and flags."""
    env = os.environ if environ is None else environ
    defaults = _read_toml(DEFAULTS_FILE, what="defaults file")
    user = _read_toml(config_file, what="user config file")
    unknown = sorted(set(user) - set(KEYS))
    if unknown:
        raise CaroError(
            f"the user config file has unknown keys: {', '.join(unknown)}",
            code="config_invalid",
            hint="remove them (`caro config show` lists the keys)",
        )
    values: dict[str, Any] = {}
    layers: dict[str, Layer] = {}
    for name, spec in KEYS.items():
        candidates = (
            (Layer.FLAG, (flags or {}).get(name)),
            (Layer.ENV, env.get(spec.env_var) or None),
            (Layer.USER, user.get(name)),
            (Layer.DEFAULT, defaults.get(name)),
        )
        for layer, raw in candidates:
            if raw is not None:
                values[name] = _parse(spec, raw, layer)
                layers[name] = layer
                break
        else:
            raise CaroError(f"the defaults file lacks the key {name}", code="config_invalid")
    return Settings(values=values, layers=layers, config_file=config_file)


def _unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, value in flat.items():
        node = tree
        *parents, leaf = name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def set_user_value(config_file: Path, key: str, raw: str) -> Any:
    """Validate `raw` for `key` and store it in the user's file; returns the stored value."""
    spec = KEYS.get(key)
    if spec is None:
        raise usage_error(f"unknown key {key!r}", hint="`caro config show` lists the keys")
    value = _parse(spec, raw, Layer.FLAG)
    current = _read_toml(config_file, what="user config file")  # refuses to overwrite a broken file
    current[key] = list(value) if isinstance(value, tuple) else value
    _write_toml(config_file, current)
    return value


def unset_user_values(config_file: Path) -> bool:
    """Remove the user's file, keeping a backup beside it; True if there was one."""
    if not config_file.exists():
        return False
    try:
        config_file.replace(config_file.with_suffix(".toml.bak"))
    except OSError as exc:
        raise _unwritable(exc) from None
    return True


def _unwritable(error: OSError) -> CaroError:
    return state_unwritable(
        error, "user config file", code="config_unwritable", where="the folder `caro config path` shows",
        kept="nothing was changed",
    )


def _write_toml(config_file: Path, flat: Mapping[str, Any]) -> None:
    import tomli_w  # only when writing

    text = tomli_w.dumps(_unflatten(flat))
    tmp = config_file.with_suffix(".toml.tmp")
    try:
        config_file.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())  # a full disk shows here, before the old file is replaced
        os.replace(tmp, config_file)  # atomic: a crash never leaves half a file
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)  # never leave a half-written config.toml.tmp behind
        except OSError:
            pass  # could not be created in the first place
        raise _unwritable(exc) from None


def check_key(key: str) -> KeySpec:
    """The spec of a known key, or a usage error."""
    spec = KEYS.get(key)
    if spec is None:
        raise usage_error(f"unknown key {key!r}", hint="`caro config show` lists the keys")
    return spec


