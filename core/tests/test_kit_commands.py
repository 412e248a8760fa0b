"""The provider kit's command-line helpers: listings printed one way, the --json flag, table cells."""

from __future__ import annotations

import json
from collections.abc import Sequence

import click
import pytest
from click.testing import CliRunner

from tradepay import InvalidInput, echo_records, json_option, table_amount, table_time

RECORDS = [("alice", 5), ("bob", 12)]


def listing(records: Sequence[tuple[str, int]], **shape: object) -> click.Command:
    @click.command()
    @json_option("Print JSON.")
    def command(as_json: bool) -> None:
        echo_records(records, as_json=as_json, to_json=lambda r: {"name": r[0], "n": r[1]}, empty="none", **shape)  # type: ignore[arg-type]

    return command


def run(command: click.Command, *args: str) -> str:
    done = CliRunner().invoke(command, list(args))
    assert done.exit_code == 0, done.output
    return done.output


def test_a_listing_prints_a_line_per_record_or_a_table_or_json() -> None:
    assert run(listing(RECORDS, line=lambda r: f"{r[0]}: {r[1]}")) == "alice: 5\nbob: 12\n"
    table = run(listing(RECORDS, header=("NAME", "N"), row=lambda r: (r[0], str(r[1]))))
    assert table.splitlines() == ["NAME   N", "alice  5", "bob    12"]
    assert json.loads(run(listing(RECORDS, line=str), "--json")) == [
        {"name": "alice", "n": 5},
        {"name": "bob", "n": 12},
    ]
    wrapped = run(listing(RECORDS, line=str, envelope=lambda rows: {"people": rows}), "--json")
    assert json.loads(wrapped) == {"people": [{"name": "alice", "n": 5}, {"name": "bob", "n": 12}]}


def test_an_empty_listing_says_so_but_its_json_is_an_empty_array() -> None:
    assert run(listing([], header=("NAME",), row=lambda r: (r[0],))) == "none\n"
    assert json.loads(run(listing([], line=str), "--json")) == []


@pytest.mark.parametrize("shape", [{}, {"line": str, "row": lambda r: (r[0],)}])
def test_a_listing_takes_exactly_one_way_to_print_a_record(shape: dict[str, object]) -> None:
    with pytest.raises(InvalidInput, match="line"):
        echo_records(RECORDS, as_json=False, to_json=str, empty="none", **shape)  # type: ignore[arg-type]


def test_table_cells_show_none_as_a_dash_and_times_in_utc_without_the_suffix() -> None:
    assert table_time(None) == "-"
    assert table_time(0.0) == "1970-01-01 00:00:00"
    assert table_amount("USD", None) == "-"
    assert table_amount("USD", 1050) == "USD 10.50"
    assert table_amount("JPY", 1050) == "JPY 1050"
