"""The command line of every entry point: checks before Hydra or argparse act, one-line errors."""

from __future__ import annotations

import argparse
import difflib
import os
import re
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import hydra
from hydra.core.override_parser.types import ValueType
from omegaconf import DictConfig, OmegaConf

from mnist_lab import LabError
from mnist_lab.runtime.resolvers import command_groups
from mnist_lab.runtime.rules import RENAMED_KEYS, ConfigError, check_config

CONF_DIR = Path(__file__).resolve().parents[3] / "conf"
# conf/scratch/*.yaml reach the lab's paths/ and hydra/ groups through this (their searchpath),
# so the NumPy entry points work from any directory.
os.environ.setdefault("MNIST_LAB_CONF_DIR", str(CONF_DIR))


# conf/ folders holding other commands' configs (`python -m mnist_lab.<folder>[.<config>]`,
# the NumPy lab), not config groups of the commands composed from conf/ itself.
COMMAND_FOLDERS = ("scratch",)


def _other_command(argument: str, key: str, value: str, config_name: str) -> LabError | None:
    """The error for `scratch=toy` and the like given to train: which command to run instead."""
    folder, _, group = key.partition("/")
    if folder not in COMMAND_FOLDERS:
        return None
    configs = sorted(p.stem for p in (CONF_DIR / folder).glob("*.yaml"))
    commands = [f"python -m mnist_lab.{folder}" + ("" if c == folder else f".{c}") for c in configs]
    first = value.split(",")[0]
    if group:
        use = f"python -m mnist_lab.{folder} {group}={value}"
    elif first in configs:
        use = commands[configs.index(first)]
    else:
        use = " or ".join(commands)
    return LabError(
        f"{argument}: conf/{folder}/ holds other commands' configs, not a config group of "
        f"{config_name}; run {use} instead"
    )


def check_group_choices(
    arguments: list[str], conf_dir: Path = CONF_DIR, config_name: str = "train"
) -> None:
    """Refuse `group=option` overrides naming an option that has no yaml, in one line.

    Hydra would refuse them too, but with a multi-line search-path dump; this runs first. A
    group of another command (train's `scratch=toy`) is answered with that command.
    """
    for argument in arguments:
        if argument.startswith(("-", "~")) or "=" not in argument:
            continue
        key, value = argument.lstrip("+").split("=", 1)
        other = _other_command(argument, key, value, config_name) if conf_dir == CONF_DIR else None
        if other is not None:
            raise other
        group = conf_dir / key
        if key.startswith("hydra") or not group.is_dir() or "(" in value:
            continue
        options = sorted(p.stem for p in group.glob("*.yaml"))
        where = f"conf/{group.relative_to(CONF_DIR)}" if group.is_relative_to(CONF_DIR) else group
        for choice in value.split(","):
            if choice not in options and choice != "null":
                raise LabError(
                    f"{key}={choice!r} is not a config in {where}/; choose one of "
                    f"{', '.join(options)}"
                )


def _flat_keys(node: DictConfig, prefix: str = "") -> list[str]:
    keys = []
    for key, value in node.items_ex(resolve=False):
        keys.append(f"{prefix}{key}")
        if isinstance(value, DictConfig):
            keys += _flat_keys(value, f"{prefix}{key}.")
    return keys


_MISSING = object()
_ENUMERABLE = (ValueType.CHOICE_SWEEP, ValueType.SIMPLE_CHOICE_SWEEP, ValueType.RANGE_SWEEP)


def _single_run_overrides(arguments: list[str]) -> tuple[list[str], list[str]]:
    """(overrides for one composition, keys only checked for existence) from the command line.

    A swept override contributes its first value; an Optuna interval or a glob has no first
    value here, so only its key is checked. Hydra's own settings (`hydra.*`, `hydra/...`) are
    left to Hydra.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    parser = OverridesParser.create()
    single, keys_only = [], []
    for argument in arguments:
        if argument.startswith("-") or argument.lstrip("+~").startswith("hydra"):
            continue
        try:
            (override,) = parser.parse_overrides([argument])
        except OverrideParseException as error:
            detail = " ".join(str(error).split("See https")[0].split())
            raise LabError(f"cannot read the override {argument!r}: {detail}") from None
        if not override.is_sweep_override():
            single.append(override.input_line)
        elif override.value_type in _ENUMERABLE:
            first = next(iter(override.sweep_string_iterator()), None)
            if first is None:
                raise ConfigError(f"{argument} sweeps over no values; give at least one")
            single.append(f"{override.get_key_element()}={first}")
        elif not override.is_add():
            keys_only.append(override.key_or_group)
    return single, keys_only


def _unknown_key_error(argument: str, key: str, cfg: DictConfig) -> LabError:
    keys = _flat_keys(cfg)
    renamed = RENAMED_KEYS.get(key)
    close = [renamed] if renamed in keys else difflib.get_close_matches(key, keys, n=1, cutoff=0.75)
    if close:
        hint = f"did you mean {close[0]}?"
    elif argument.startswith("~"):
        hint = "there is nothing to delete"
    else:
        hint = f"add a new key with +{argument}"
    return ConfigError(f"{argument} names no key of the config; {hint}")


def _unknown_group_error(argument: str, config_name: str, cfg: DictConfig) -> LabError:
    """`model=cnn` given to evaluate: a group of conf/ that this command is not composed from."""
    groups = command_groups(cfg.hydra.runtime.choices)
    # conf/ mirrors train's code: its other folders are groups train can add (an experiment's
    # regularisers); evaluate and visualize take the few they list and nothing else.
    hint = f"; add one with +{argument.lstrip('+')}" if config_name == "train" else ""
    return ConfigError(
        f"{argument} names no config group of {config_name} (its groups: {', '.join(groups)}){hint}"
    )


def check_overrides(
    arguments: list[str], config_name: str, conf_dir: Path = CONF_DIR
) -> DictConfig:
    """Compose the config the command line asks for and check it, before Hydra starts a run.

    Unknown keys are refused in one line with the closest valid key; a single run's values are
    checked against the config rules too (a multirun's members are checked one by one later,
    so that one bad member does not stop the others). Returns the composed config.
    """
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException

    single, keys_only = _single_run_overrides(arguments)
    with initialize_config_dir(str(conf_dir), version_base="1.3"):
        try:
            cfg = compose(config_name, overrides=single)
        except HydraException as error:
            bad = re.search(r"Could not (?:override |delete from config\. )'([^']+)'", str(error))
            if bad is None:
                raise LabError(" ".join(str(error).splitlines()[0].split())) from None
            key = bad.group(1)
            argument = next((a for a in single if a.lstrip("+~").split("=", 1)[0] == key), key)
            rest = [a for a in single if a != argument]
            if (conf_dir / key).is_dir():
                composed = compose(config_name, overrides=rest, return_hydra_config=True)
                raise _unknown_group_error(argument, config_name, composed) from None
            raise _unknown_key_error(argument, key, compose(config_name, overrides=rest)) from None
    for key in keys_only:
        is_group = (conf_dir / key.replace(".", "/")).is_dir()
        if not is_group and OmegaConf.select(cfg, key, default=_MISSING) is _MISSING:
            argument = next((a for a in arguments if a.lstrip("+~").split("=", 1)[0] == key), key)
            raise _unknown_key_error(argument, key, cfg)
    if not any(a in ("-m", "--multirun") for a in arguments):
        check_config(cfg, config_name)
    return cfg


def check_writable(path: str | Path, what: str) -> None:
    """LabError unless files can be written into the folder `path` (made if missing), naming
    `what` (the option), the path and the OS's reason. Leaves nothing behind that it made."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise LabError(f"{what} {path} is a file, not a folder; give a folder")
    made = [parent for parent in [path, *path.parents] if not parent.exists()]
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise LabError(f"{what} {path} cannot be written: {os_error_text(error)}") from None
    finally:
        for folder in made:  # innermost first
            if folder.is_dir():
                folder.rmdir()


def entry_point(
    main: Callable[[DictConfig], object],
    config_name: str,
    conf_dir: Path = CONF_DIR,
    rewrite: Callable[[list[str]], list[str]] | None = None,
) -> None:
    """Run `main` as the Hydra app `<conf_dir>/<config_name>.yaml` once the command line has
    passed the lab's checks.

    `rewrite` may expand arguments first (train's resume); the composed config is then checked
    before Hydra creates a run directory. `--help`, `--cfg` and the other Hydra flags skip the
    checks and go straight to Hydra. `main` must be defined in the command's own module: Hydra
    names the job (and its `<job>.log`) after it. Whatever fails, in the checks, in Hydra or in
    a sweep's members, ends as one line (`exit_status`).
    """
    arguments = sys.argv[1:]
    # Hydra prints a traceback of its own unless told to pass the exception on; the lab's
    # line is printed instead, and HYDRA_FULL_ERROR=1 given by the user still shows it all.
    # Kept under another name: child processes (DDP ranks) inherit both.
    os.environ.setdefault(_USER_FULL_ERROR, os.environ.get("HYDRA_FULL_ERROR", ""))
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        check_flags(arguments)
        check_group_choices(arguments, conf_dir, config_name)
        hydra_flags = [a for a in arguments if a.startswith("-") and a not in ("-m", "--multirun")]
        if not hydra_flags:
            if rewrite is not None:
                arguments = rewrite(arguments)
            cfg = check_overrides(arguments, config_name, conf_dir)
            log_dir = OmegaConf.select(cfg, "paths.log_dir", default=None)
            if log_dir is not None:  # else Hydra fails making the run dir, with a traceback
                check_writable(log_dir, "paths.log_dir")
        sys.argv[1:] = arguments
        hydra.main(version_base="1.3", config_path=str(conf_dir), config_name=config_name)(main)()
    except Exception as error:  # noqa: BLE001 - every failure gets the one-line treatment
        if wants_full_error(error):
            raise
        sys.exit(exit_status(error))
    except KeyboardInterrupt as error:
        sys.exit(exit_status(error))


_USER_FULL_ERROR = "MNIST_LAB_HYDRA_FULL_ERROR"


def wants_full_error(error: BaseException) -> bool:
    """True when the user asked for whole tracebacks (HYDRA_FULL_ERROR=1) and `error` is no
    user error, whose line says everything."""
    given = os.environ.get(_USER_FULL_ERROR, os.environ.get("HYDRA_FULL_ERROR", ""))
    return given == "1" and not is_user_error(error)


def is_user_error(error: BaseException) -> bool:
    """True for the errors the user's input causes (USER_ERRORS): they get exit status 2."""
    return any(isinstance(error, kind) for kind, _ in USER_ERRORS)


# Hydra's command-line flags (`--help` lists them); anything else starting with `-` is a typo.
HYDRA_FLAGS = (
    "--help", "-h", "--hydra-help", "--version", "--cfg", "-c", "--resolve", "--package", "-p",
    "--run", "-r", "--multirun", "-m", "--shell-completion", "-sc", "--config-path", "-cp",
    "--config-name", "-cn", "--config-dir", "-cd", "--experimental-rerun", "--info", "-i",
)  # fmt: skip


def check_flags(arguments: list[str]) -> None:
    """Refuse a flag Hydra does not know in one line, instead of argparse's usage dump."""
    for argument in arguments:
        flag = argument.split("=", 1)[0]
        if argument.startswith("-") and flag not in HYDRA_FLAGS:
            raise LabError(
                f"{argument} is not an option; the options are --help, --hydra-help, --cfg job, "
                f"--multirun (-m), --info and the rest of Hydra's (see --help), then key=value "
                f"overrides"
            )


def print_error(error: object) -> int:
    """Print a user error as the one line `error: ...` on stderr; returns exit status 2."""
    print(f"error: {error}", file=sys.stderr)
    return 2


class SweepMemberFailed(Exception):
    """A sweep member's failure, already recorded in its run dir, on its way back to the sweep.

    Launchers hand it back to the sweep (pickled, for joblib): `exit_status` then prints the
    sweep's summary instead of the member's traceback.
    """

    def __init__(self, sweep_dir: str, reason: str) -> None:
        super().__init__(sweep_dir, reason)
        self.sweep_dir, self.reason = sweep_dir, reason


def os_error_text(error: OSError) -> str:
    """An OS refusal as the path it names and the OS's reason, e.g. `cannot use /x: Read-only
    file system`."""
    paths = [str(p) for p in (error.filename, error.filename2) if p is not None]
    reason = error.strerror or str(error)
    return f"cannot use {' -> '.join(paths)}: {reason}" if paths else f"the OS refused: {reason}"


def sweep_summary(error: SweepMemberFailed) -> str:
    """One line for a sweep that had failed members: how many, and where their reasons are."""
    from mnist_lab.runtime.rundir import FAILED_FILE, find_runs

    try:
        failed = [run.name for run in find_runs(error.sweep_dir) if run.status == "failed"]
        total = len(find_runs(error.sweep_dir))
    except LabError:
        failed, total = [], 0
    if not failed:  # the member's dir is gone (or unreadable): its own reason is all there is
        return f"a sweep member failed: {error.reason}"
    return (
        f"{len(failed)} of {total} sweep members failed ({', '.join(failed)}); their reasons "
        f"are in <member>/{FAILED_FILE} under {error.sweep_dir}, and python -m mnist_lab.report "
        f"{error.sweep_dir} lists them"
    )


# The user's errors and the line each gets (exit status 2). A new kind of bad input is a
# LabError raised where it is found, or one more row here: never another try/except.
USER_ERRORS: tuple[tuple[type[BaseException], Callable[[Any], str]], ...] = (
    (LabError, str),
    (OSError, os_error_text),
    (MemoryError, lambda _: "out of memory; try a smaller model or data.batch_size"),
)


def exit_status(error: BaseException, traceback_dir: str | Path | None = None) -> int:
    """Print `error` as one `error:` line on stderr and return the exit status it gets.

    2 for the user's input (USER_ERRORS), 130 for Ctrl-C, 1 for a failed sweep member (the
    sweep's summary) and for anything else: a fault of the lab, whose full traceback is saved
    into `traceback_dir` (else a temporary file) and named in the line.
    """
    if isinstance(error, KeyboardInterrupt):
        print_error("interrupted by SIGINT (Ctrl-C)")
        return 128 + signal.SIGINT
    if isinstance(error, SweepMemberFailed):
        print_error(sweep_summary(error))
        return 1
    for kind, line in USER_ERRORS:
        if isinstance(error, kind):
            return print_error(line(error))
    saved = save_traceback(format_traceback(error), traceback_dir)
    where = f"the full traceback is in {saved}" if saved else "no file could hold the traceback"
    detail = " ".join(f"{type(error).__name__}: {error}".split())[:300]
    print_error(f"internal error ({detail}); {where}; HYDRA_FULL_ERROR=1 prints it here")
    return 1


def format_traceback(error: BaseException) -> str:
    """The full traceback of `error`, as Python prints it."""
    return "".join(traceback.format_exception(error))


def save_traceback(text: str, directory: str | Path | None) -> Path | None:
    """Write a traceback into `directory`'s traceback file, or a temporary file; None if neither
    can be written."""
    from mnist_lab.runtime.rundir import TRACEBACK_FILE

    if directory is not None:
        try:
            path = Path(directory) / TRACEBACK_FILE
            path.write_text(text)
            return path
        except OSError:
            pass
    try:
        handle, name = tempfile.mkstemp(prefix="mnist_lab-", suffix=f"-{TRACEBACK_FILE}")
        with os.fdopen(handle, "w") as file:
            file.write(text)
        return Path(name)
    except OSError:
        return None


def run_command(main: Callable[[], int]) -> int:
    """Run an argparse command's `main` with the lab's error path; returns its exit status."""
    try:
        return main()
    except Exception as error:  # noqa: BLE001 - every failure gets the one-line treatment
        if wants_full_error(error):
            raise
        return exit_status(error)
    except KeyboardInterrupt as error:
        return exit_status(error)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the lab's error style: one `error:` line, exit status 2, no usage dump."""

    def error(self, message: str) -> NoReturn:
        sys.exit(print_error(message))


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer >= `minimum`; anything else names itself and the range."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not accepted; expected an integer >= {minimum}"
            )
        return value

    return parse


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not accepted; expected a number > 0")
    return value


def exit_without_teardown() -> None:
    """End a command that finished after loading torch: its exit handlers run, Python's own
    teardown does not. A command that never loaded torch (`--help`, `--cfg`) just returns.

    Unloading torch and Lightning's modules at exit takes ~1 s of CPU per run (a fifth of a
    short run's time outside its epochs) and saves nothing: every file the run writes is closed
    by then, and the exit handlers (logging's flush, joblib's workers) still run here.
    """
    if "torch" not in sys.modules:
        return
    import atexit

    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
