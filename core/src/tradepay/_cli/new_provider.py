"""``tradepay new-provider NAME``: write a new provider distribution that installs and passes its tests.

The files are rendered from the templates in ``tradepay/_cli/templates/provider/`` (package data, named ``*.tmpl``
so that no tool takes them for the core's own code): each ``__TOKEN__`` is replaced by a form of the name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath

import click

from .. import __version__
from .._config import check_provider_names
from .._spi.errors import ConfigError

__all__ = ["ProviderNames", "new_provider", "render_provider", "write_provider"]

#: template file -> where it goes in the new distribution (``{package}`` and ``{snake}`` filled in).
FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "__init__.py.tmpl": "src/{package}/__init__.py",
    "_provider.py.tmpl": "src/{package}/_provider.py",
    "py.typed.tmpl": "src/{package}/py.typed",
    "test_conformance.py.tmpl": "tests/test_{snake}_conformance.py",
    "test_provider.py.tmpl": "tests/test_{snake}_provider.py",
}
_TOKEN = re.compile(r"__(NAME|SNAKE|PACKAGE|DIST|CLASS|CORE_VERSION)__")


@dataclass(frozen=True, slots=True)
class ProviderNames:
    """The forms of a provider's name: ``acme-pay`` is the distribution ``tradepay-acme-pay``, the package
    ``tradepay_acme_pay`` and the class ``AcmePayProvider``."""

    name: str

    @property
    def snake(self) -> str:
        return self.name.replace("-", "_")

    @property
    def package(self) -> str:
        return f"tradepay_{self.snake}"

    @property
    def distribution(self) -> str:
        return f"tradepay-{self.name}"

    @property
    def class_name(self) -> str:
        return "".join(part.capitalize() for part in re.split(r"[-_]+", self.name) if part) + "Provider"


def check_name(name: str) -> ProviderNames:
    """The names of provider ``name``; :class:`click.BadParameter` unless it is a valid provider name."""
    try:
        check_provider_names([name])
    except ConfigError:
        raise click.BadParameter(
            f"{name!r} is not a provider name: 1 to 40 of lowercase a-z 0-9 _ -, starting with a letter",
            param_hint="'NAME'",
        ) from None
    return ProviderNames(name)


def render_provider(names: ProviderNames) -> dict[PurePosixPath, str]:
    """Every file of the new distribution: its path (relative to the distribution's folder) and its text."""
    major, minor = __version__.split(".")[:2]
    values = {
        "NAME": names.name,
        "SNAKE": names.snake,
        "PACKAGE": names.package,
        "DIST": names.distribution,
        "CLASS": names.class_name,
        "CORE_VERSION": f"{major}.{minor}",
    }
    templates = resources.files("tradepay._cli").joinpath("templates", "provider")
    files: dict[PurePosixPath, str] = {}
    for template, target in FILES.items():
        text = templates.joinpath(template).read_text(encoding="utf-8")
        files[PurePosixPath(target.format(package=names.package, snake=names.snake))] = _TOKEN.sub(
            lambda match: values[match.group(1)], text
        )
    return files


def write_provider(names: ProviderNames, path: Path) -> list[Path]:
    """Write the distribution into ``path``, which must not exist or be an empty folder; the files written."""
    if path.exists() and not (path.is_dir() and not any(path.iterdir())):
        raise click.ClickException(f"{path} exists and is not an empty folder: nothing was written")
    written: list[Path] = []
    for relative, text in render_provider(names).items():
        target = path.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def new_provider(name: str, path: str | None, echo: Callable[[str], None]) -> None:
    """The command: check ``name``, refuse a name already installed, write, and say what to do next."""
    from .._discovery import installed_providers

    names = check_name(name)
    taken = [p.distribution or p.target for p in installed_providers() if p.name == name]
    if taken:
        raise click.BadParameter(
            f"a provider named {name!r} is already installed (by {taken[0]}): two would stop the host at start-up",
            param_hint="'NAME'",
        )
    target = Path(path) if path else Path(names.distribution)
    try:
        write_provider(names, target)
    except OSError as exc:
        raise click.ClickException(f"{target}: cannot be written: {exc.strerror or exc}") from None
    provider = f"provider {names.name!r} ({names.package}.{names.class_name})"
    echo(f"wrote {target}: the distribution {names.distribution}, {provider}")
    shown = str(target) if target.is_absolute() or str(target).startswith(".") else f"./{target}"
    echo("next:")
    echo(f'  pip install -e "{shown}[test]"      # next to tradepay')
    echo(f"  pytest {shown}                       # the conformance suite and the provider's own tests")
    echo(f'  add "{names.name}" to chain.providers in tradepay.toml (tradepay init --providers {names.name})')
    echo("  tradepay pay --amount 100 --currency USD --payer alice")
    echo(f"then replace charge and give_back in {target / 'src' / names.package / '_provider.py'} with your backend")
