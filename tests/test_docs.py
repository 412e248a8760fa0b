"""The documentation says what the code does, and these tests fail when the two drift apart.

* every hook declared in ``tradepay._hookspecs`` has a ``## name`` section in ``docs/hooks.md`` with its
  exact signature, and every such section names a real hook;
* every configuration key the code accepts is in the key table of ``docs/configuration.md`` (and only those),
  with the code's default, and the table's examples are accepted by the configuration loader;
* every built-in command of the command line has a ``## tradepay NAME`` section in ``docs/cli.md`` naming
  each of its options;
* every ```` ```python ```` block of ``docs/*.md`` (``docs/plugins/`` belongs to the plugins) not starting with
  ``# not run`` runs without error in a fresh namespace, in a fresh working directory;
* every relative link between the pages points at an existing page (and heading).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import sys
import tomllib
import types
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import click
import pytest
import structlog

from tradepay import Config, _hookspecs
from tradepay._cli import cli
from tradepay._config import HOST_PROVIDER_KEYS, ChainSettings, HostSettings
from tradepay._rules import _RULE_KEYS

DOCS = Path(__file__).resolve().parent.parent / "docs"
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
    keys |= {f"providers.NAME.{key}" for key in HOST_PROVIDER_KEYS}
    keys |= {f"rules[].{key}" for key in _RULE_KEYS}
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


@pytest.mark.parametrize("settings", [ChainSettings, HostSettings])
def test_documented_defaults_are_the_code_defaults(settings: type[ChainSettings | HostSettings]) -> None:
    table = "chain" if settings is ChainSettings else "host"
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
    raw: dict[str, Any] = {"chain": {}, "host": {}, "providers": {}, "rules": [{}]}
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


# --- 3. the command line ---------------------------------------------------------------------------------------


def builtin_commands() -> dict[str, click.Command]:
    """The commands the core defines (plugins may have added theirs to the same group)."""
    return {
        name: command
        for name, command in cli.commands.items()
        if command.callback is not None and command.callback.__module__ == "tradepay._cli"
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
    commands = set(builtin_commands())
    for title in sections_of("cli.md"):
        if title.startswith("tradepay "):
            assert title.removeprefix("tradepay ") in commands, f"docs/cli.md: `## {title}` is not a built-in command"


def test_the_global_options_are_documented() -> None:
    intro, _sections, _blocks = parse(DOCS / "cli.md")
    missing = [opt for opt in long_options(cli) if opt not in intro]
    assert not missing, f"docs/cli.md does not mention the global options {missing} before its first section"


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


def test_the_index_links_to_every_page() -> None:
    linked = {Path(target.partition("#")[0]).name for target in links(DOCS / "index.md")}
    missing = sorted(page.name for page in PAGES if page.name != "index.md" and page.name not in linked)
    assert not missing, f"docs/index.md does not link to {missing}"
