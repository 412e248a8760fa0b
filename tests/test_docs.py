"""The documentation says what the code does, and these tests fail when the two drift apart.

* every hook declared in ``tradepay._chain.hookspecs`` has a ``## name`` section in ``docs/hooks.md`` with its
  exact signature, and every such section names a real hook;
* every configuration key the code accepts is in the key table of ``docs/configuration.md`` (and only those),
  with the code's default, and the table's examples are accepted by the configuration loader;
* every built-in command of the command line has a ``## tradepay NAME`` section in ``docs/cli.md`` naming
  each of its options;
* every command path of the command line, read from the click commands themselves (the core's, and those the
  installed providers add through ``add_cli_commands``, such as ``tradepay wallet topup``), is mentioned in
  ``docs/cli.md`` or ``docs/plugins/*.md`` on lines that name each of its arguments and options;
* every ```` ```python ```` block of ``docs/*.md`` (``docs/plugins/`` belongs to the plugins) not starting with
  ``# not run`` runs without error in a fresh namespace, in a fresh working directory;
* every ```` ```sh ```` command of ``docs/quickstart.md`` runs, in order, in one fresh folder, and prints what the
  ```` ```text ```` block right after it shows;
* every relative link between the pages points at an existing page (and heading);
* the site (``mkdocs.yml``) lists every page in its nav, and the API reference covers the public API. The site
  itself is built with ``mkdocs build --strict`` by ``python3 tasks.py test``.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import shlex
import sys
import tomllib
import types
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import click
import pytest
import stevedore._cache
import structlog
from click.testing import CliRunner

import tradepay._logging
from tradepay import Config, Host
from tradepay._chain import hookspecs as _hookspecs
from tradepay._chain.rules import _RULE_KEYS
from tradepay._cli.main import cli
from tradepay._config import HOST_PROVIDER_KEYS, ChainSettings, HostSettings, LedgerSettings, NotificationSettings
from tradepay._discovery import installed_providers

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
#: The pages of the core's documentation; docs/plugins/ is written by the plugins and is not checked here.
PAGES = sorted(DOCS.glob("*.md"))
NOT_RUN = "# not run"


class Block(NamedTuple):
    """A fenced code block: its language, its text and the line of the page it starts on."""

    lang: str
    code: str
    line: int


class Section(NamedTuple):
    """A ``## heading`` section: the heading's text, its prose (code blocks removed) and its code blocks."""

    title: str
    prose: str
    blocks: list[Block]


def parse(page: Path) -> tuple[str, list[Section], list[Block]]:
    """Split a page into its prose before the first ``##`` heading, its ``##`` sections, and all its code
    blocks. Headings inside code blocks are code, not headings."""
    intro: list[str] = []
    sections: list[Section] = []
    blocks: list[Block] = []
    fence: tuple[str, int, list[str]] | None = None
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        if fence is None and line.startswith("```"):
            fence = (line[3:].strip(), number, [])
        elif fence is not None and line.strip() == "```":
            block = Block(fence[0], "".join(f"{text}\n" for text in fence[2]), fence[1])
            blocks.append(block)
            if sections:
                sections[-1].blocks.append(block)
            fence = None
        elif fence is not None:
            fence[2].append(line)
        elif line.startswith("## "):
            sections.append(Section(line[3:].strip(), "", []))
        elif sections:
            last = sections[-1]
            sections[-1] = last._replace(prose=f"{last.prose}{line}\n")
        else:
            intro.append(line)
    assert fence is None, f"{page.name}: the code block opened on line {fence[1]} is never closed"
    return "\n".join(intro), sections, blocks


def sections_of(page: str) -> dict[str, Section]:
    _intro, sections, _blocks = parse(DOCS / page)
    titles = [s.title for s in sections]
    duplicates = sorted({t for t in titles if titles.count(t) > 1})
    assert not duplicates, f"{page}: sections headed twice: {duplicates}"
    return {s.title: s for s in sections}


def tables(text: str) -> list[list[list[str]]]:
    """The Markdown tables of ``text``: each a list of rows (the header first), cells stripped, without the
    separator row."""
    found: list[list[list[str]]] = []
    previous_was_row = False
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("|"):
            previous_was_row = False
            continue
        cells = [cell.strip() for cell in stripped.strip("|").split("|")]
        if not previous_was_row:
            found.append([])
        previous_was_row = True
        if not all(re.fullmatch(r":?-+:?", cell) for cell in cells):
            found[-1].append(cells)
    return found


def code_span(cell: str) -> str | None:
    """The text of a cell that is exactly one code span (`` `x` ``), else ``None``."""
    match = re.fullmatch(r"`([^`]+)`", cell)
    return match.group(1) if match else None


# --- 1. hooks --------------------------------------------------------------------------------------------------


def declared_hooks() -> dict[str, tuple[Callable[..., Any], dict[str, Any]]]:
    """The hook specifications: the functions of ``_hookspecs`` that carry pluggy's spec marker (its options)."""
    found: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {}
    for name, value in vars(_hookspecs).items():
        options = getattr(value, "tradepay_spec", None)
        if inspect.isfunction(value) and options is not None:
            found[name] = (value, dict(options))
    return found


HOOKS = declared_hooks()


def test_there_are_hooks_to_document() -> None:
    assert {"pay", "inquire", "cancel", "capabilities", "resolve_order"} <= set(HOOKS)


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_has_a_section_with_its_signature(name: str) -> None:
    sections = sections_of("hooks.md")
    assert name in sections, f"docs/hooks.md has no `## {name}` section"
    section = sections[name]
    documented: list[str] | None = None
    for block in section.blocks:
        if block.lang != "python":
            continue
        for node in ast.parse(block.code).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
                args = node.args
                documented = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
                break
        if documented is not None:
            break
    assert documented is not None, f"`## {name}` has no ```python block with `def {name}(...)`"
    function, options = HOOKS[name]
    declared = list(inspect.signature(function).parameters)
    assert documented == declared, f"`## {name}` documents the arguments {documented}, the hook declares {declared}"

    firstresult = bool(options["firstresult"])
    said = re.search(r"\*\*firstresult:\*\* (yes|no)", section.prose)
    assert said is not None, f"`## {name}` does not say `**firstresult:** yes` or `no`"
    assert (said.group(1) == "yes") is firstresult, f"`## {name}`: firstresult is {firstresult} in the code"


def test_every_hook_section_names_a_real_hook() -> None:
    unknown = sorted(set(sections_of("hooks.md")) - set(HOOKS))
    assert not unknown, f"docs/hooks.md has sections for hooks that are not declared: {unknown}"


# --- 2. configuration keys -------------------------------------------------------------------------------------


def code_config_keys() -> set[str]:
    """Every key the configuration accepts, from the code that accepts it."""
    keys = {f"chain.{f.name}" for f in dataclasses.fields(ChainSettings)}
    keys |= {f"host.{f.name}" for f in dataclasses.fields(HostSettings)}
    keys |= {f"ledger.{f.name}" for f in dataclasses.fields(LedgerSettings)}
    keys |= {f"notifications.{f.name}" for f in dataclasses.fields(NotificationSettings)}
    keys |= {f"providers.NAME.{key}" for key in HOST_PROVIDER_KEYS}
    keys |= {f"rules[].{key}" for key in _RULE_KEYS}
    keys.add("merchants.ID.secret")
    return keys


def documented_keys() -> dict[str, dict[str, str]]:
    """The key tables of docs/configuration.md (first column ``key``): key -> {column header: cell}."""
    found: dict[str, dict[str, str]] = {}
    for table in tables((DOCS / "configuration.md").read_text(encoding="utf-8")):
        header, *rows = table
        if header[0] != "key":
            continue
        for row in rows:
            key = code_span(row[0])
            assert key is not None, f"configuration.md: the key cell {row[0]!r} is not one code span"
            assert key not in found, f"configuration.md: `{key}` is documented twice"
            found[key] = dict(zip(header, row, strict=True))
    assert found, "docs/configuration.md has no table whose first column is `key`"
    return found


def test_every_configuration_key_is_documented() -> None:
    missing = sorted(code_config_keys() - set(documented_keys()))
    assert not missing, f"docs/configuration.md does not document: {missing}"


def test_every_documented_key_exists() -> None:
    unknown = sorted(set(documented_keys()) - code_config_keys())
    assert not unknown, f"docs/configuration.md documents keys the code does not accept: {unknown}"


def toml_value(text: str) -> Any:
    return tomllib.loads(f"value = {text}")["value"]


@pytest.mark.parametrize("settings", [ChainSettings, HostSettings, NotificationSettings])
def test_documented_defaults_are_the_code_defaults(
    settings: type[ChainSettings | HostSettings | NotificationSettings],
) -> None:
    table = {ChainSettings: "chain", HostSettings: "host", NotificationSettings: "notifications"}[settings]
    keys = documented_keys()
    for field in dataclasses.fields(settings):
        cell = keys[f"{table}.{field.name}"]["default"]
        if field.default is dataclasses.MISSING:
            assert cell == "required", f"`{table}.{field.name}` has no default in the code: say `required`"
            continue
        literal = code_span(cell)
        assert literal is not None, f"`{table}.{field.name}`: the default {cell!r} is not a TOML literal in backticks"
        default = str(field.default) if isinstance(field.default, Path) else field.default
        assert toml_value(literal) == default, f"`{table}.{field.name}` defaults to {default!r} in the code"


def test_documented_examples_are_accepted() -> None:
    """Build one configuration from every key's example and load it: each key exists and takes its example."""
    raw: dict[str, Any] = {
        "chain": {},
        "host": {},
        "ledger": {},
        "merchants": {},
        "providers": {},
        "rules": [{}],
        "notifications": {},
    }
    examples: dict[str, Any] = {}
    for key, row in documented_keys().items():
        snippet = code_span(row["example"])
        assert snippet is not None, f"`{key}`: the example {row['example']!r} is not a TOML line in backticks"
        parsed = tomllib.loads(snippet)
        name = key.rsplit(".", 1)[1]
        assert list(parsed) == [name], f"`{key}`: the example {snippet!r} sets {list(parsed)}, not {name}"
        examples[key] = parsed[name]
    chain_names = examples["chain.providers"]
    for key, value in examples.items():
        table, name = key.rsplit(".", 1)
        if table == "providers.NAME":
            raw["providers"].setdefault(chain_names[-1], {})[name] = value
        elif table == "merchants.ID":
            raw["merchants"].setdefault("m-1", {})[name] = value
        elif table == "rules[]":
            raw["rules"][0][name] = value
        else:
            raw[table][name] = value
    config = Config.from_mapping(raw)
    assert config.chain.providers == tuple(chain_names)
    for field in dataclasses.fields(ChainSettings):
        value = getattr(config.chain, field.name)
        assert (list(value) if isinstance(value, tuple) else value) == examples[f"chain.{field.name}"]
    assert config.host.provider_threads == examples["host.provider_threads"]
    assert config.provider_settings(chain_names[-1]).deadline_s == examples["providers.NAME.deadline_s"]
    assert config.rules[0].name == examples["rules[].name"]
    assert config.merchants == {"m-1": examples["merchants.ID.secret"]}
    assert config.ledger.reconcile_on_start == examples["ledger.reconcile_on_start"]
    for field in dataclasses.fields(NotificationSettings):
        assert getattr(config.notifications, field.name) == examples[f"notifications.{field.name}"]


# --- 3. the command line ---------------------------------------------------------------------------------------


def builtin_commands() -> dict[str, click.Command]:
    """The commands the core defines (plugins may have added theirs to the same group)."""
    return {
        name: command
        for name, command in cli.commands.items()
        if command.callback is not None and command.callback.__module__ == "tradepay._cli.main"
    }


def long_options(command: click.Command) -> list[str]:
    return [
        opt
        for param in command.params
        if isinstance(param, click.Option)
        for opt in param.opts
        if opt.startswith("--") and opt != "--help"
    ]


def test_there_are_commands_to_document() -> None:
    assert {"providers", "init", "explain", "pay", "demo"} <= set(builtin_commands())


@pytest.mark.parametrize("name", sorted(builtin_commands()))
def test_every_command_has_a_section_naming_its_options(name: str) -> None:
    sections = sections_of("cli.md")
    title = f"tradepay {name}"
    assert title in sections, f"docs/cli.md has no `## {title}` section"
    section = sections[title]
    text = section.prose + "".join(block.code for block in section.blocks)
    missing = [opt for opt in long_options(builtin_commands()[name]) if opt not in text]
    assert not missing, f"`## {title}` does not mention the options {missing}"


def test_every_command_section_names_a_command() -> None:
    commands = set(command_paths(core_group()))
    for title in sections_of("cli.md"):
        if title.startswith("tradepay "):
            assert title in commands, f"docs/cli.md: `## {title}` is not a command of the core"


def test_the_global_options_are_documented() -> None:
    intro, _sections, _blocks = parse(DOCS / "cli.md")
    missing = [opt for opt in long_options(cli) if opt not in intro]
    assert not missing, f"docs/cli.md does not mention the global options {missing} before its first section"


def origin(command: click.Command) -> str:
    """The module that defines ``command`` (for a group without a callback, the module of a sub-command)."""
    if command.callback is not None:
        return command.callback.__module__
    if isinstance(command, click.Group):
        return next((origin(sub) for sub in command.commands.values() if origin(sub)), "")
    return ""


def core_group() -> click.Group:
    """The core's own command line: the commands of ``tradepay._cli.main.cli`` that the core defines (tests elsewhere
    may have left plugin commands on it)."""
    own = {name: c for name, c in cli.commands.items() if origin(c) == "tradepay" or origin(c).startswith("tradepay.")}
    return click.Group("tradepay", commands=own)


def command_paths(group: click.Group, prefix: str = "tradepay") -> dict[str, click.Command]:
    """Every command and group under ``group``, by its path as typed: ``tradepay wallet fault set``."""
    found: dict[str, click.Command] = {}
    for name, command in sorted(group.commands.items()):
        found[f"{prefix} {name}"] = command
        if isinstance(command, click.Group):
            found.update(command_paths(command, f"{prefix} {name}"))
    return found


#: Where commands are documented: the core's in docs/cli.md, the plugins' in their own pages.
COMMAND_PAGES = [DOCS / "cli.md", *sorted((DOCS / "plugins").glob("*.md"))]


def word(text: str) -> re.Pattern[str]:
    """``text`` as a whole word: not part of a longer name (``tradepay pay`` is not in ``tradepay payments``)."""
    return re.compile(rf"(?<![\w-]){re.escape(text)}(?![\w-])")


def undocumented(path: str, command: click.Command) -> list[str]:
    """What the documentation lacks about ``command``: its path, or (on the lines that mention the path) any of
    its arguments and long options. Empty when it is documented."""
    pattern = word(path)
    lines = [
        line for page in COMMAND_PAGES for line in page.read_text(encoding="utf-8").splitlines() if pattern.search(line)
    ]
    if not lines:
        return [f"`{path}` is mentioned in none of docs/cli.md, docs/plugins/*.md"]
    text = "\n".join(lines)
    names = [p.human_readable_name for p in command.params if isinstance(p, click.Argument)] + long_options(command)
    missing = [name for name in names if not word(name).search(text)]
    return [f"`{path}`: the lines that mention it do not name {missing}"] if missing else []


CORE_COMMANDS = command_paths(core_group())


def test_the_core_command_tree_is_read_from_click() -> None:
    assert {"tradepay pay", "tradepay new-provider"} <= set(CORE_COMMANDS)
    # The check itself: an option or argument the lines do not name, or a path nowhere, is reported.
    extra = [click.Argument(["token"]), click.Option(["--no-such-option"])]
    assert undocumented("tradepay new-provider", click.Command("new-provider", params=extra)) == [
        "`tradepay new-provider`: the lines that mention it do not name ['TOKEN', '--no-such-option']"
    ]
    assert undocumented("tradepay no-such-command", click.Command("x")) == [
        "`tradepay no-such-command` is mentioned in none of docs/cli.md, docs/plugins/*.md"
    ]


@pytest.mark.parametrize("path", sorted(CORE_COMMANDS))
def test_every_core_command_is_documented_with_its_arguments_and_options(path: str) -> None:
    problems = undocumented(path, CORE_COMMANDS[path])
    assert not problems, problems


@pytest.fixture
def isolated_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """For commands run in this process: stevedore's entry-point cache under ``tmp_path``, logging configured
    uncached and given back afterwards, and the plugin commands the command line loads kept off ``cli``."""
    configure = tradepay._logging.configure_logging
    saved = structlog.get_config()

    def uncached(**kwargs: Any) -> None:
        configure(**{**kwargs, "cache": False})

    monkeypatch.setattr(tradepay._logging, "configure_logging", uncached)
    monkeypatch.setattr(stevedore._cache._c, "_dir", str(tmp_path / "xdg-cache" / "python-entrypoints"))
    monkeypatch.setattr(stevedore._cache._c, "_internal", {})
    monkeypatch.setattr(cli, "_plugins_loaded", False)
    monkeypatch.setattr(cli, "commands", dict(cli.commands))
    yield
    structlog.configure(**saved)


@pytest.mark.usefixtures("isolated_cli")
def test_every_command_the_installed_providers_add_is_documented(tmp_path: Path) -> None:
    """Build a host whose chain is every installed provider, let each add its commands to a fresh group, and
    check each command path (``tradepay wallet topup``) against the provider pages and docs/cli.md."""
    names = sorted({p.name for p in installed_providers()})
    raw = {"chain": {"providers": names}, "host": {"data_dir": str(tmp_path / "state")}}
    host = Host.from_config(Config.from_mapping(raw, base_dir=tmp_path))
    group = click.Group("tradepay")
    try:
        host.pm.hook.add_cli_commands(cli=group)
    finally:
        host.close()
    added = command_paths(group)
    clashes = sorted(set(added) & set(CORE_COMMANDS))
    assert not clashes, f"plugins add commands the core has: {clashes}"
    problems = [problem for path, command in added.items() for problem in undocumented(path, command)]
    assert not problems, "\n".join(problems)


# --- 4. the samples run ----------------------------------------------------------------------------------------


def python_blocks() -> list[tuple[str, Block]]:
    return [(page.name, block) for page in PAGES for block in parse(page)[2] if block.lang == "python"]


BLOCKS = python_blocks()
RUNNABLE = [(page, block) for page, block in BLOCKS if not block.code.startswith(NOT_RUN)]


def test_there_are_samples() -> None:
    assert len(RUNNABLE) >= 10


@pytest.mark.parametrize(("page", "block"), BLOCKS, ids=[f"{page}:{block.line}" for page, block in BLOCKS])
def test_every_python_block_is_python(page: str, block: Block) -> None:
    compile(block.code, f"docs/{page}:{block.line}", "exec")


@pytest.fixture
def fresh_world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A fresh working directory and no configuration from the environment; structlog's configuration is put
    back afterwards (the logging samples configure it)."""
    saved = structlog.get_config()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRADEPAY_CONFIG", raising=False)
    yield
    structlog.configure(**saved)


@pytest.mark.usefixtures("fresh_world")
@pytest.mark.parametrize(("page", "block"), RUNNABLE, ids=[f"{page}:{block.line}" for page, block in RUNNABLE])
def test_every_sample_runs(page: str, block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    # A real module, so that what a sample defines (classes, dataclasses, hook implementations) has a home.
    module = types.ModuleType(f"docs_sample_{Path(page).stem.replace('-', '_')}_{block.line}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(block.code, f"docs/{page}:{block.line}", "exec"), module.__dict__)  # noqa: S102


# --- 5. links --------------------------------------------------------------------------------------------------

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """The anchor MkDocs (Python-Markdown's toc) gives a heading."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> set[str]:
    found = set()
    fenced = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (heading := re.match(r"#{1,6} (.+)", line)):
            found.add(slug(heading.group(1)))
    return found


def links(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    text = re.sub(r"`[^`\n]*`", "", text)
    return LINK.findall(text)


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_every_relative_link_points_at_a_page(page: Path) -> None:
    for target in links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue  # http:, https:, mailto: ...
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.is_file(), f"{page.name}: the link {target!r} points at no file"
        if anchor and linked.suffix == ".md":
            assert anchor in anchors(linked), f"{page.name}: the link {target!r} names no heading of {linked.name}"


# --- 6. the quickstart's commands run ----------------------------------------------------------------------------

QUICKSTART = DOCS / "quickstart.md"
#: What changes from run to run: trade numbers, card tokens, durations, versions, runs of spaces.
VARYING = [
    (re.compile(r"\bT[0-9a-f]{20}\b"), "T<trade-no>"),
    (re.compile(r"\bpay_[0-9a-f]{16}\b"), "pay_<id>"),
    (re.compile(r"\bcard_[0-9a-f]+\b"), "card_<token>"),
    (re.compile(r"\(\d+(\.\d+)? ms\)"), "(<ms>)"),
    (re.compile(r"==[0-9][\w.+-]*"), "==<version>"),
    (re.compile(r"[ \t]+"), " "),
]


def normalized(line: str) -> str:
    for pattern, replacement in VARYING:
        line = pattern.sub(replacement, line)
    return line.strip()


def quickstart_steps() -> list[tuple[list[str], Block | None]]:
    """Each command of the quickstart's ```sh blocks, with the ```text block that follows a one-command block
    (its expected output), in the page's order."""
    blocks = parse(QUICKSTART)[2]
    steps: list[tuple[list[str], Block | None]] = []
    for block, after in zip(blocks, [*blocks[1:], None], strict=True):
        if block.lang != "sh":
            continue
        commands = [shlex.split(line, comments=True) for line in block.code.splitlines()]
        commands = [command for command in commands if command]
        end = block.line + block.code.count("\n") + 1
        shown = after if after is not None and after.lang == "text" and after.line == end + 2 else None
        steps += [(command, shown if len(commands) == 1 else None) for command in commands]
    return steps


def test_the_quickstart_has_commands_with_outputs() -> None:
    steps = quickstart_steps()
    assert all(command[0] == "tradepay" for command, _shown in steps), "a ```sh line of the quickstart is not tradepay"
    assert sum(shown is not None for _command, shown in steps) >= 3


@pytest.mark.usefixtures("isolated_cli")
def test_the_quickstart_commands_run_and_print_what_it_shows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    installed = {p.name for p in installed_providers()}
    if not {"wallet", "card"} <= installed:
        pytest.skip("the quickstart needs tradepay-wallet and tradepay-card installed")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRADEPAY_CONFIG", raising=False)
    builtin = dict(cli.commands)
    for command, shown in quickstart_steps():
        # Each run is a new process for the command line: its plugin commands are loaded afresh.
        monkeypatch.setattr(cli, "_plugins_loaded", False)
        monkeypatch.setattr(cli, "commands", dict(builtin))
        result = CliRunner().invoke(cli, command[1:])
        assert result.exit_code == 0, f"$ {shlex.join(command)}\n{result.output}{result.exception!r}"
        if shown is None:
            continue
        # Every line the page shows is printed, in that order (the page may leave lines out, as `...`).
        actual = iter(normalized(line) for line in result.output.splitlines())
        for expected in (normalized(line) for line in shown.code.splitlines()):
            if expected and expected != "...":
                assert any(line == expected for line in actual), (
                    f"quickstart.md:{shown.line}: `$ {shlex.join(command)}` does not print {expected!r} "
                    f"(in this order); it printed:\n{result.output}"
                )


# --- 7. the site ---------------------------------------------------------------------------------------------------


def nav_pages() -> list[str]:
    """The pages mkdocs.yml lists in its nav, relative to docs/."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = re.search(r"^nav:\n((?:[ \t]+.*\n|\n)+)", text, flags=re.M)
    assert nav is not None, "mkdocs.yml has no nav"
    return re.findall(r"^\s*- (?:[^:\n]+: )?(\S+\.md)\s*$", nav.group(1), flags=re.M)


def test_the_site_lists_every_page_once() -> None:
    listed = nav_pages()
    pages = sorted(page.relative_to(DOCS).as_posix() for page in DOCS.rglob("*.md"))
    assert sorted(set(listed)) == sorted(listed), "mkdocs.yml lists a page twice"
    assert not sorted(set(pages) - set(listed)), f"mkdocs.yml's nav does not list {sorted(set(pages) - set(listed))}"
    assert not sorted(set(listed) - set(pages)), (
        f"mkdocs.yml's nav lists missing pages {sorted(set(listed) - set(pages))}"
    )


def test_the_api_reference_covers_the_public_api() -> None:
    """mkdocstrings renders what each ``::: module`` directive names; every public name needs a docstring."""
    directives = re.findall(r"^::: (\S+)$", (DOCS / "reference.md").read_text(encoding="utf-8"), flags=re.M)
    assert directives == ["tradepay", "tradepay.testing"]
    import tradepay.testing

    bare = [
        f"{module.__name__}.{name}"
        for module in (tradepay, tradepay.testing)
        for name in module.__all__
        if name != "__version__" and not inspect.getdoc(getattr(module, name))
    ]
    assert not bare, f"public names without a docstring (the API reference would show nothing): {bare}"


def test_the_index_links_to_every_page() -> None:
    linked = {Path(target.partition("#")[0]).name for target in links(DOCS / "index.md")}
    missing = sorted(page.name for page in PAGES if page.name != "index.md" and page.name not in linked)
    assert not missing, f"docs/index.md does not link to {missing}"


# --- 8. the architecture page --------------------------------------------------------------------------------


def core_modules() -> set[str]:
    """The core's modules by path (``_chain/chain.py``), its folders (``_chain/``, ``testing/``) and the data
    folders inside its private packages (``_cli/templates/``); ``testing/``'s own modules are its business."""
    package = Path(tradepay.__file__).parent
    names = {path.name for path in package.glob("*.py")}
    for folder in package.iterdir():
        if not folder.is_dir() or folder.name == "__pycache__":
            continue
        names.add(f"{folder.name}/")
        if folder.name.startswith("_"):
            names |= {f"{folder.name}/{path.name}" for path in folder.glob("*.py") if path.name != "__init__.py"}
            names |= {f"{folder.name}/{d.name}/" for d in folder.iterdir() if d.is_dir() and d.name != "__pycache__"}
    return names


def test_the_architecture_page_names_every_core_module() -> None:
    section = sections_of("architecture.md")["Modules"]
    [table] = [t for t in tables(section.prose) if t[0][0] == "module"]
    spans = [code_span(row[0]) for row in table[1:]]
    listed = [span for span in spans if span is not None]
    assert len(listed) == len(spans), "architecture.md: a module cell is not one code span"
    missing = sorted(core_modules() - set(listed))
    unknown = sorted(set(listed) - core_modules())
    assert not missing, f"docs/architecture.md's module table does not name {missing}"
    assert not unknown, f"docs/architecture.md's module table names modules that do not exist: {unknown}"
    assert len(listed) == len(set(listed)), "docs/architecture.md names a module twice"
