"""Every command of the command line, the core's and the installed plugins', against broken environments.

The commands are read from click (the core's group, and the groups the providers add through
``add_cli_commands``), so a new command is covered without editing this file; each gets sample values for
its required parameters. Against each environment every command must fail cleanly: exit status 1 or 2, no
``Traceback`` on either stream, and a message (``Error: ...``, or one of ``doctor``'s ``fail`` lines) naming
the key or path at fault. Commands that do not use the broken thing must still succeed.

Click's runner is used in this process where it is faithful (files and configuration); a real process runs
the console script where the failure needs one: a full disk (a file size limit, ``RLIMIT_FSIZE``, makes every
write past it fail as a full disk does), bytes that are not UTF-8 in ``argv``, and Ctrl-C (``SIGINT``).
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest
import stevedore._cache
import structlog
from click.testing import CliRunner

import tradepay._logging
from tradepay import Config, Host, PaymentStatus, SQLiteLedger
from tradepay._cli.main import cli
from tradepay._discovery import installed_providers

#: Commands that never read the configuration; they are run against the environments that concern them.
CONFIG_FREE = frozenset({("init",), ("new-provider",), ("demo",)})
#: Commands that read the configuration but start no host: a broken ledger or data directory is not theirs.
NO_HOST = frozenset({("providers",)})

#: Sample values for the parameters a command requires, by the name click shows.
VALUES = {
    "PAYER": "alice",
    "MERCHANT": "m-shop",
    "CURRENCY": "USD",
    "AMOUNT": "100",
    "TRADE_NO": "T-env-1",
    "PAYMENT_ID": "pay_0123456789abcdef",
    "AGREEMENT_ID": "agr_0123456789abcdef",
    "NUMBER": "4242424242424242",
    "TOKEN": "card_0123456789abcdef",
    "NAME": "acme",
    "--amount": "100",
    "--currency": "USD",
    "--payer": "alice",
    "--merchant": "m-shop",
    "--exp": "12/30",
    "--cvc": "123",
}
#: What a command needs beyond its required parameters to get to its work.
EXTRA = {
    ("pay",): ["--amount", "100", "--currency", "USD", "--payer", "alice"],
    ("demo",): ["--workspace", "demo-workspace"],
    ("wallet", "fault", "set"): ["--seconds", "1"],  # the first KIND, latency, needs them
}


def leaf_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], click.Command]:
    found: dict[tuple[str, ...], click.Command] = {}
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found.update(leaf_commands(command, (*prefix, name)))
        else:
            found[(*prefix, name)] = command
    return found


def sample_args(path: tuple[str, ...], command: click.Command) -> list[str]:
    """``path`` and values for every required (or prompted-for) parameter of ``command``."""
    args = [*path]
    for param in command.params:
        choices = list(param.type.choices) if isinstance(param.type, click.Choice) else []
        if isinstance(param, click.Argument) and param.required:
            args.append(str(choices[0]) if choices else VALUES.get(param.human_readable_name, "x-1"))
        elif isinstance(param, click.Option) and (param.required or param.prompt):
            option = max(param.opts, key=len)
            args += [option, str(choices[0]) if choices else VALUES.get(option, "x-1")]
    return [*args, *EXTRA.get(path, [])]


def chain_of_every_provider() -> list[str]:
    return sorted({p.name for p in installed_providers()})


def write_config(path: Path, state: Path, extra: str = "") -> Path:
    providers = ", ".join(f'"{name}"' for name in chain_of_every_provider())
    path.write_text(f'[chain]\nproviders = [{providers}]\n[host]\ndata_dir = "{state}"\n{extra}', encoding="utf-8")
    return path


@dataclass
class CommandLine:
    """The command line of this installation: every leaf command, and how to run one in this process."""

    commands: dict[tuple[str, ...], click.Command]
    core: dict[str, click.Command]
    cwd: Path
    problems: list[str] = field(default_factory=list)

    def run(self, args: Sequence[str], env: dict[str, str] | None = None) -> Outcome:
        # Each invocation looks the plugin commands up afresh, from its own configuration.
        cli._plugins_loaded = False
        cli.commands = dict(self.core)
        result = CliRunner().invoke(cli, list(args), prog_name="tradepay", env=env)
        crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
        stderr = result.stderr + (f"\nTraceback (caught by the runner): {result.exception!r}" if crashed else "")
        return Outcome(result.exit_code, result.stdout, stderr)


@dataclass(frozen=True)
class Outcome:
    status: int
    stdout: str
    stderr: str


def problem_of(args: Sequence[str], outcome: Outcome, names: Sequence[str]) -> str | None:
    """Why ``outcome`` is not a clean failure naming one of ``names``, or ``None``."""
    both = outcome.stdout + outcome.stderr
    lines = [line for line in both.splitlines() if line.startswith(("Error: ", "fail  "))]
    if outcome.status not in (1, 2):
        return f"{' '.join(args)}: exit status {outcome.status}\n{both}"
    if "Traceback" in both:
        return f"{' '.join(args)}: a traceback\n{both}"
    if not any(name in line for line in lines for name in names):
        return f"{' '.join(args)}: no Error line naming {list(names)}\n{both}"
    return None


@pytest.fixture(scope="module")
def command_line(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CommandLine]:
    """Every command, read from click: the core's, and those the installed providers add to a group of a host
    whose chain is every installed provider. Logging and stevedore's cache are kept off the user's."""
    home = tmp_path_factory.mktemp("command-line")
    saved_logging = structlog.get_config()
    configure = tradepay._logging.configure_logging
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tradepay._logging, "configure_logging", lambda **kw: configure(**{**kw, "cache": False}))
        patch.setattr(stevedore._cache._c, "_dir", str(home / "xdg-cache" / "python-entrypoints"))
        patch.setattr(stevedore._cache._c, "_internal", {})
        patch.setattr(cli, "_plugins_loaded", False)
        patch.setattr(cli, "commands", dict(cli.commands))
        patch.delenv("TRADEPAY_CONFIG", raising=False)
        core = {n: c for n, c in cli.commands.items() if c.name in {"orders", "payments"} or _is_core(c)}
        raw = {"chain": {"providers": chain_of_every_provider()}, "host": {"data_dir": str(home / "state")}}
        host = Host.from_config(Config.from_mapping(raw, base_dir=home), reconcile=False)
        plugins = click.Group("plugins")
        try:
            host.pm.hook.add_cli_commands(cli=plugins)
        finally:
            host.close()
        commands = {**leaf_commands(click.Group("core", commands=core)), **leaf_commands(plugins)}
        yield CommandLine(commands, core, home)
    structlog.configure(**saved_logging)


def _is_core(command: click.Command) -> bool:
    module = command.callback.__module__ if command.callback is not None else ""
    return module == "tradepay._cli.main" or module.startswith("tradepay._")


def test_the_commands_are_read_from_click(command_line: CommandLine) -> None:
    paths = set(command_line.commands)
    assert {("pay",), ("orders", "create"), ("payments", "list"), ("doctor",)} <= paths
    assert {("wallet", "topup"), ("wallet", "fault", "set"), ("card", "add"), ("agreement", "sign")} <= paths


# --- broken files and configurations, in this process ---------------------------------------------------------


@dataclass(frozen=True)
class Broken:
    """A configuration that names something broken: the arguments and environment that use it, whether only a
    starting host meets the fault (a command that starts none is unaffected), and what the message must name."""

    args: list[str]
    env: dict[str, str]
    names: list[str]
    host_only: bool = False


def unwritable_directory(tmp_path: Path) -> Path:
    """A directory in which this process cannot create a file: a read-only folder; as root, whom permission
    bits do not stop, ``/sys``, where nobody can."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    for candidate in (folder, Path("/sys")):
        try:
            (candidate / "probe").touch()
        except OSError:
            return candidate
        (candidate / "probe").unlink()
    raise AssertionError("no directory refuses new files here")


def _config(tmp_path: Path, *, state: Path | None = None, extra: str = "", host_only: bool, names: list[str]) -> Broken:
    config = write_config(tmp_path / "tradepay.toml", state or tmp_path / "state", extra)
    return Broken(["--config", str(config)], {}, names, host_only)


def _special(path: Path, via: str) -> Broken:
    if via == "--config":
        return Broken(["--config", str(path)], {}, [str(path)])
    return Broken([], {"TRADEPAY_CONFIG": str(path)}, [str(path)])


def _fifo(tmp_path: Path, stack: contextlib.ExitStack) -> Path:
    """A FIFO no one writes to. Should a command wait on it for a writer (the defect), a thread becomes that
    writer at once and closes it, so that the command reads nothing and the test fails instead of hanging."""
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    done = threading.Event()

    def unblock_readers() -> None:
        while not done.wait(0.05):
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # succeeds only while a reader waits
            except OSError:
                continue

    thread = threading.Thread(target=unblock_readers, daemon=True)
    thread.start()
    stack.callback(thread.join)
    stack.callback(done.set)
    return fifo


def _ledger_at(tmp_path: Path, ledger: Path) -> Broken:
    return _config(tmp_path, extra=f'[ledger]\nurl = "sqlite:///{ledger}"\n', host_only=True, names=[str(ledger)])


def not_a_database(tmp_path: Path, _stack: contextlib.ExitStack) -> Broken:
    (tmp_path / "ledger.sqlite3").write_bytes(b"this is not a database, " * 100)
    return _ledger_at(tmp_path, tmp_path / "ledger.sqlite3")


def a_directory_as_ledger(tmp_path: Path, _stack: contextlib.ExitStack) -> Broken:
    (tmp_path / "ledger.sqlite3").mkdir()
    return _ledger_at(tmp_path, tmp_path / "ledger.sqlite3")


def a_ledger_that_cannot_be_opened(tmp_path: Path, _stack: contextlib.ExitStack) -> Broken:
    return _ledger_at(tmp_path, unwritable_directory(tmp_path) / "ledger.sqlite3")


def a_file_as_data_dir(tmp_path: Path, _stack: contextlib.ExitStack) -> Broken:
    (tmp_path / "a-file").write_text("not a directory", encoding="utf-8")
    return _config(tmp_path, state=tmp_path / "a-file", host_only=True, names=[str(tmp_path / "a-file")])


def a_data_dir_that_cannot_be_created(tmp_path: Path, _stack: contextlib.ExitStack) -> Broken:
    state = unwritable_directory(tmp_path) / "state"
    return _config(tmp_path, state=state, host_only=True, names=[str(state)])


def a_read_only_data_dir(tmp_path: Path, _stack: contextlib.ExitStack) -> Broken:
    state = unwritable_directory(tmp_path)
    return _config(tmp_path, state=state, host_only=True, names=[str(state)])


def a_nul_in_data_dir(tmp_path: Path, _stack: contextlib.ExitStack) -> Broken:
    return _config(tmp_path, state=Path("st\\u0000ate"), host_only=False, names=["host.data_dir"])


def a_nul_in_ledger_url(tmp_path: Path, _stack: contextlib.ExitStack) -> Broken:
    return _config(tmp_path, extra='[ledger]\nurl = "sqlite:///led\\u0000ger"\n', host_only=False, names=["ledger.url"])


def a_deeply_nested_toml(tmp_path: Path, _stack: contextlib.ExitStack) -> Broken:
    config = tmp_path / "tradepay.toml"
    config.write_text("[chain]\nproviders = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    return Broken(["--config", str(config)], {}, [str(config)])


def a_device(device: str, via: str) -> Callable[[Path, contextlib.ExitStack], Broken]:
    return lambda _tmp, _stack: _special(Path(device), via)


def a_fifo(via: str) -> Callable[[Path, contextlib.ExitStack], Broken]:
    return lambda tmp, stack: _special(_fifo(tmp, stack), via)


ENVIRONMENTS: dict[str, Callable[[Path, contextlib.ExitStack], Broken]] = {
    "ledger-not-a-database": not_a_database,
    "ledger-is-a-directory": a_directory_as_ledger,
    "ledger-cannot-be-opened": a_ledger_that_cannot_be_opened,
    "data-dir-is-a-file": a_file_as_data_dir,
    "data-dir-cannot-be-created": a_data_dir_that_cannot_be_created,
    "data-dir-read-only": a_read_only_data_dir,
    "nul-in-data-dir": a_nul_in_data_dir,
    "nul-in-ledger-url": a_nul_in_ledger_url,
    "deeply-nested-toml": a_deeply_nested_toml,
    "config-is-dev-zero": a_device("/dev/zero", "--config"),
    "env-is-dev-zero": a_device("/dev/zero", "TRADEPAY_CONFIG"),
    "config-is-dev-urandom": a_device("/dev/urandom", "--config"),
    "env-is-dev-urandom": a_device("/dev/urandom", "TRADEPAY_CONFIG"),
    "config-is-a-fifo": a_fifo("--config"),
    "env-is-a-fifo": a_fifo("TRADEPAY_CONFIG"),
}


@contextlib.contextmanager
def address_space_capped(headroom: int = 1 << 30) -> Iterator[None]:
    """Cap this process's memory at what it uses now plus ``headroom``: a command that reads a device without
    end (the defect) then fails with ``MemoryError`` instead of taking the machine's memory."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    in_use = int(Path("/proc/self/statm").read_text(encoding="ascii").split()[0]) * os.sysconf("SC_PAGE_SIZE")
    cap = in_use + headroom if hard == resource.RLIM_INFINITY else min(in_use + headroom, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.mark.parametrize("environment", sorted(ENVIRONMENTS))
def test_every_command_fails_on_one_line_naming_what_is_broken(
    command_line: CommandLine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    monkeypatch.chdir(tmp_path)
    problems: list[str] = []
    with contextlib.ExitStack() as stack:
        broken = ENVIRONMENTS[environment](tmp_path, stack)
        stack.enter_context(address_space_capped())
        for path, command in command_line.commands.items():
            if path in CONFIG_FREE:
                continue
            args = [*broken.args, *sample_args(path, command)]
            outcome = command_line.run(args, env=broken.env)
            if broken.host_only and path in NO_HOST:
                if outcome.status != 0 or "Traceback" in outcome.stderr:
                    problems.append(f"{' '.join(args)}: starts no host, yet failed\n{outcome}")
                continue
            problem = problem_of(args, outcome, broken.names)
            if problem is not None:
                problems.append(problem)
    assert not problems, "\n\n".join(problems)


def test_the_commands_that_read_no_configuration_ignore_a_broken_one(
    command_line: CommandLine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with contextlib.ExitStack() as stack:
        broken = ENVIRONMENTS["config-is-a-fifo"](tmp_path, stack)
        for path in sorted(CONFIG_FREE):
            args = [*broken.args, *sample_args(path, command_line.commands[path])]
            outcome = command_line.run(args)
            assert (outcome.status, "Traceback" in outcome.stderr) == (0, False), (args, outcome)


def test_a_configuration_larger_than_the_cap_is_refused_unread(command_line: CommandLine, tmp_path: Path) -> None:
    from tradepay._config import MAX_CONFIG_BYTES

    config = write_config(tmp_path / "tradepay.toml", tmp_path / "state")
    with config.open("a", encoding="utf-8") as file:
        file.write("#" * MAX_CONFIG_BYTES + "\n")

    outcome = command_line.run(["--config", str(config), "payments", "list"])

    assert problem_of(["payments", "list"], outcome, [str(config)]) is None
    assert f"is larger than {MAX_CONFIG_BYTES} bytes" in outcome.stderr


# --- one rule of exit statuses, for the core's commands and the plugins' -------------------------------------


def test_a_refused_request_exits_2_in_the_core_and_in_every_plugin(
    command_line: CommandLine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = ["--config", str(write_config(tmp_path / "tradepay.toml", tmp_path / "state"))]
    order = [*config, "orders", "create", "--amount", "100", "--currency", "USD", "--payer", "alice"]
    assert command_line.run([*order, "--merchant", "m-shop", "--trade-no", "T-taken"]).status == 0
    signed = command_line.run([*config, "agreement", "sign", "alice", "m-shop", "--currency", "USD"])
    agreement = signed.stdout.strip()
    assert command_line.run([*config, "agreement", "revoke", agreement]).status == 0
    refused = {
        "a bad amount": [*config, "pay", "--amount", "1.50", "--currency", "USD", "--payer", "alice"],
        "a taken trade number": [*order, "--merchant", "m-shop", "--trade-no", "T-taken"],
        "an unknown order": [*config, "orders", "close", "T-nowhere"],
        "a bad top-up": [*config, "wallet", "topup", "alice", "USD", "1.50"],
        "an unknown card": [*config, "card", "remove", "alice", "card_0123456789abcdef"],
        "an unknown agreement": [*config, "agreement", "activate", "agr_0123456789abcdef"],
        "a revoked agreement": [*config, "agreement", "revoke", agreement],
    }
    problems = []
    for what, args in refused.items():
        outcome = command_line.run(args)
        errors = [line for line in outcome.stderr.splitlines() if line.startswith("Error: ")]
        if (outcome.status, len(errors), "Traceback" in outcome.stderr) != (2, 1, False):
            problems.append(f"{what}: {' '.join(args)}\n{outcome}")
    assert not problems, "\n\n".join(problems)


def test_a_plugin_group_whose_host_cannot_start_is_that_failure_not_an_unknown_command(
    command_line: CommandLine, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.toml"

    plugin = command_line.run(["--config", str(missing), "wallet", "balance", "alice"])
    unknown = command_line.run(["--config", str(missing), "chargeback"])

    assert (plugin.status, plugin.stderr) == (
        1,
        "Error: `tradepay wallet` comes from the provider 'wallet' (tradepay-wallet 0.1.0), which needs a "
        f"configuration that lists it in chain.providers: configuration: {missing}: no such file (run `tradepay "
        "init` to write one)\n",
    )
    assert unknown.status == 2
    assert "no such command 'chargeback' (plugin commands unavailable: configuration: " in unknown.stderr


# --- numbers too large for any arithmetic ---------------------------------------------------------------------


def numeric_options(command: click.Command) -> list[str]:
    numeric = (click.types.IntParamType, click.types.FloatParamType)
    return [max(p.opts, key=len) for p in command.params if isinstance(p, click.Option) and isinstance(p.type, numeric)]


def test_there_are_numeric_options(command_line: CommandLine) -> None:
    assert "--expires-in" in numeric_options(command_line.commands[("orders", "create")])
    assert "--expires-in" in numeric_options(command_line.commands[("agreement", "sign")])


@pytest.mark.parametrize("number", ["1e400", "1" + "0" * 400, "nan", "-inf"])
def test_every_numeric_option_refuses_a_number_out_of_range_naming_it(
    command_line: CommandLine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, number: str
) -> None:
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path / "tradepay.toml", tmp_path / "state")
    problems: list[str] = []
    for path, command in command_line.commands.items():
        for option in numeric_options(command):
            args = ["--config", str(config), *sample_args(path, command), option, number]
            outcome = command_line.run(args)
            problem = problem_of(args, outcome, [option])
            if problem is None and outcome.status != 2:
                problem = f"{' '.join(args)}: exit status {outcome.status}, not 2 (the command line is refused)"
            if problem is not None:
                problems.append(problem)
    assert not problems, "\n\n".join(problems)


# --- real processes: a full disk, bytes that are not UTF-8, Ctrl-C --------------------------------------------


def console_script() -> str:
    found = shutil.which("tradepay", path=str(Path(sys.executable).parent))
    assert found is not None, f"no tradepay console script next to {sys.executable}"
    return found


def run_console_script(
    cwd: Path, args: Sequence[str], preexec_fn: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TRADEPAY_CONFIG"}
    env.update(XDG_CACHE_HOME=str(cwd / "xdg-cache"), HOME=str(cwd / "home"))
    return subprocess.run(
        [console_script(), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        errors="surrogateescape",
        timeout=60,
        check=False,
        preexec_fn=preexec_fn,
    )


def _disk_full() -> None:
    """In the child: no file may grow (a write past the limit fails with EFBIG, as one on a full disk fails
    with ENOSPC), and the signal the kernel sends for it is ignored so that the write fails instead."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


#: What the message of a command that starts no host names on a full disk: the file it writes.
WRITTEN: dict[tuple[str, ...], str] = {
    ("init",): "tradepay.toml",
    ("new-provider",): "tradepay-acme",
    ("demo",): "demo-workspace",
}


def test_every_command_fails_on_one_line_when_the_disk_is_full(command_line: CommandLine, tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = write_config(tmp_path / "tradepay.toml", state)
    host = Host.from_config(
        Config.from_mapping({"chain": {"providers": chain_of_every_provider()}, "host": {"data_dir": str(state)}}),
        reconcile=False,
    )
    host.close()  # the ledger and every provider's file exist; SQLite removed its -wal and -shm files
    assert sorted(p.name for p in state.iterdir() if p.name.endswith(("-wal", "-shm"))) == []
    problems: list[str] = []
    for path, command in command_line.commands.items():
        args = ["--config", str(config), *sample_args(path, command)]
        done = run_console_script(tmp_path, args, preexec_fn=_disk_full)
        outcome = Outcome(done.returncode, done.stdout, done.stderr)
        if path in NO_HOST:
            if outcome.status != 0:
                problems.append(f"{' '.join(args)}: writes nothing, yet failed\n{outcome}")
            continue
        problem = problem_of(args, outcome, [WRITTEN.get(path, str(state))])
        if problem is not None:
            problems.append(problem)
    assert not problems, "\n\n".join(problems)


def test_an_argument_that_is_not_utf8_is_refused_by_every_command(command_line: CommandLine, tmp_path: Path) -> None:
    config = write_config(tmp_path / "tradepay.toml", tmp_path / "state")
    undecodable = os.fsdecode(b"caf\xe9")  # what Python makes of argv bytes that are not UTF-8
    problems: list[str] = []
    for path, command in command_line.commands.items():
        args = ["--config", str(config), *sample_args(path, command), undecodable]
        done = run_console_script(tmp_path, args)
        outcome = Outcome(done.returncode, done.stdout, done.stderr)
        problem = problem_of(args, outcome, ["'caf\\xe9'"])
        if problem is None and outcome.status != 2:
            problem = f"{' '.join(args)}: exit status {outcome.status}, not 2 (the command line is refused)"
        if problem is not None:
            problems.append(problem)
    assert not problems, "\n\n".join(problems)


def test_ctrl_c_during_pay_leaves_the_payment_for_reconcile_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "tradepay.toml"
    config.write_text(
        '[chain]\nproviders = ["reference"]\ndeadline_s = 600\nprovider_deadline_s = 600\n'
        '[host]\ndata_dir = "state"\n[providers.reference]\nscript = ["hang"]\nhang_s = 600\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k != "TRADEPAY_CONFIG"}
    env.update(XDG_CACHE_HOME=str(tmp_path / "xdg-cache"), HOME=str(tmp_path / "home"))
    args = ["--config", str(config), "pay", "--amount", "100", "--currency", "USD", "--payer", "alice"]
    child = subprocess.Popen(
        [console_script(), *args, "--trade-no", "T-ctrl-c"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        payment_id = _wait_for_a_sent_attempt(tmp_path / "state" / "ledger.sqlite3", "T-ctrl-c", child)
        child.send_signal(signal.SIGINT)
        stdout, stderr = child.communicate(timeout=60)
    finally:
        child.kill()
        child.wait()

    assert child.returncode == 1, (stdout, stderr)
    assert "Traceback" not in stdout + stderr
    assert "Aborted!" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert errors == [f"Error: interrupted: payment {payment_id} of order T-ctrl-c is left for `tradepay reconcile`"]
    ledger = SQLiteLedger(tmp_path / "state" / "ledger.sqlite3")
    try:
        payment = ledger.get_payment(payment_id)
    finally:
        ledger.close()
    assert payment is not None
    assert payment.status is PaymentStatus.NEEDS_RECONCILIATION


def _wait_for_a_sent_attempt(ledger_path: Path, trade_no: str, child: subprocess.Popen[str]) -> str:
    """The id of order ``trade_no``'s payment once its attempt is recorded as sent (the provider then hangs)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert child.poll() is None, child.communicate()
        if ledger_path.exists():
            ledger = SQLiteLedger(ledger_path)
            try:
                found = ledger.payments(trade_no=trade_no)
            finally:
                ledger.close()
            if found and found[0].pending is not None:
                return found[0].payment_id
        time.sleep(0.05)
    raise AssertionError("the payment never reached its provider")
