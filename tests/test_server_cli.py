"""``tradepay merchants`` and ``tradepay serve``'s refusals, on a configured SQLite ledger."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tradepay import Host, load_config
from tradepay._ledger.merchants import merchant_book
from tradepay.server import public_pem


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "tradepay.toml"
    path.write_text('[chain]\nproviders = ["reference"]\n\n[host]\ndata_dir = "state"\n', encoding="utf-8")
    return path


class Result:
    """A finished ``tradepay`` process: its exit status, and its standard output and error together."""

    def __init__(self, done: subprocess.CompletedProcess[str]) -> None:
        self.exit_code = done.returncode
        self.output = done.stdout + done.stderr


def invoke(config: Path, *args: str) -> Result:
    """``tradepay --config CONFIG ARGS`` in its own process (as a user runs it)."""
    command = [sys.executable, "-m", "tradepay", "--config", str(config), *args]
    return Result(subprocess.run(command, capture_output=True, text=True, timeout=120, check=False))


def key_file(tmp_path: Path, name: str, bits: int = 2048) -> Path:
    path = tmp_path / f"{name}.pem"
    path.write_text(public_pem(rsa.generate_private_key(public_exponent=65537, key_size=bits)), encoding="ascii")
    return path


def registered(config: Path) -> list[str]:
    host = Host.from_config(load_config(config), reconcile=False)
    try:
        return [m.client_id for m in merchant_book(host.ledger).merchants()]
    finally:
        host.close()


def test_merchants_add_then_list(config: Path, tmp_path: Path) -> None:
    added = invoke(config, "merchants", "add", "shop-1", "--public-key", str(key_file(tmp_path, "shop-1")))
    assert added.exit_code == 0, added.output
    assert added.output.startswith("merchant shop-1 registered (key ")
    listed = invoke(config, "merchants", "list", "--json")
    assert listed.exit_code == 0, listed.output
    [merchant] = json.loads(listed.output)["merchants"]
    assert merchant["clientId"] == "shop-1"
    assert merchant["keyFingerprint"] in added.output
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", merchant["createdAt"])  # ISO 8601, as documented
    assert registered(config) == ["shop-1"]


def test_a_merchant_is_added_once(config: Path, tmp_path: Path) -> None:
    key = str(key_file(tmp_path, "shop-1"))
    assert invoke(config, "merchants", "add", "shop-1", "--public-key", key).exit_code == 0
    again = invoke(config, "merchants", "add", "shop-1", "--public-key", key)
    assert again.exit_code == 2
    assert "already registered" in again.output
    assert registered(config) == ["shop-1"]


@pytest.mark.parametrize(
    ("content", "says"), [("not a key", "is not a PEM public key"), (None, "at least 2048 are required")]
)
def test_a_file_that_is_no_usable_key_is_refused(config: Path, tmp_path: Path, content: str | None, says: str) -> None:
    path = key_file(tmp_path, "weak", bits=1024)
    if content is not None:
        path.write_text(content, encoding="ascii")
    refused = invoke(config, "merchants", "add", "shop-1", "--public-key", str(path))
    assert refused.exit_code == 2
    assert says in refused.output
    assert registered(config) == []


def test_an_empty_list_says_how_to_add_one(config: Path) -> None:
    listed = invoke(config, "merchants", "list")
    assert listed.exit_code == 0
    assert "tradepay merchants add ID --public-key FILE" in listed.output


def test_serve_refuses_several_workers_on_sqlite(config: Path) -> None:
    refused = invoke(config, "serve", "--workers", "2")
    assert refused.exit_code == 2
    assert "--workers 2 needs a PostgreSQL ledger" in refused.output
    assert "SQLite" in refused.output


def test_cli_add_set_and_list_the_url(config: Path, tmp_path: Path) -> None:
    key = str(key_file(tmp_path, "shop-1"))
    added = invoke(config, "merchants", "add", "shop-1", "--public-key", key, "--notify-url", "http://127.0.0.1:9/n")
    assert added.exit_code == 0, added.output
    assert "notified at http://127.0.0.1:9/n" in added.output
    [merchant] = json.loads(invoke(config, "merchants", "list", "--json").output)["merchants"]
    assert merchant["notifyUrl"] == "http://127.0.0.1:9/n"
    changed = invoke(config, "merchants", "set", "shop-1", "--notify-url", "https://shop.example/n")
    assert changed.exit_code == 0, changed.output
    [merchant] = json.loads(invoke(config, "merchants", "list", "--json").output)["merchants"]
    assert merchant["notifyUrl"] == "https://shop.example/n"
    cleared = invoke(config, "merchants", "set", "shop-1", "--no-notify-url")
    assert cleared.exit_code == 0
    assert "not notified" in cleared.output
    [merchant] = json.loads(invoke(config, "merchants", "list", "--json").output)["merchants"]
    assert merchant["notifyUrl"] is None


def test_cli_refuses_a_plain_http_url_and_stores_nothing(config: Path, tmp_path: Path) -> None:
    key = str(key_file(tmp_path, "shop-1"))
    refused = invoke(config, "merchants", "add", "shop-1", "--public-key", key, "--notify-url", "http://shop.example/")
    assert refused.exit_code == 2
    assert "--notify-url" in refused.output
    assert "must be https" in refused.output
    assert json.loads(invoke(config, "merchants", "list", "--json").output)["merchants"] == []
    neither = invoke(config, "merchants", "set", "shop-1")
    assert neither.exit_code == 2
    assert "exactly one of" in neither.output


def test_serve_on_an_address_in_use_is_one_error_line(config: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = invoke(config, "serve", "--port", str(port))
    assert refused.exit_code == 1, refused.output
    assert refused.output.strip().splitlines() == [f"Error: cannot listen on 127.0.0.1:{port}: address already in use"]
