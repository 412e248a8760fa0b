"""The public enums' lookup: a value that is no member's is refused with :class:`InvalidInput`.

``ResultCode("1234")`` would raise a bare ``ValueError`` (and ``ErrorCode(10**5000)`` a ``ValueError`` about
converting the integer to text, from inside :mod:`enum`); a public enum made with :class:`CheckedEnumType` as
its metaclass raises :class:`InvalidInput` instead, naming the enum (``result_code``) and its members, with the
value echoed in a bounded form. Members are still found by value (``ResultCode("9000")``) and by themselves.
"""

from __future__ import annotations

import enum
import re
from typing import Any

from .errors import InvalidInput
from .numbers import shown_value

__all__ = ["CheckedEnumType"]


class CheckedEnumType(enum.EnumType):
    """The metaclass of the public enums: looking up a value that no member has raises :class:`InvalidInput`."""

    def __call__(cls, value: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:  # the functional API (Enum("Name", "A B")) makes a new enum: not a lookup
            return super().__call__(value, *args, **kwargs)
        try:  # a member is found too: it equals (and hashes as) its value
            return cls._value2member_map_[value]
        except (KeyError, TypeError):  # TypeError: an unhashable value, which no member has
            pass
        field = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()
        members: dict[enum.Enum, None] = dict.fromkeys(cls.__members__.values())
        choices = ", ".join(repr(member.value) for member in members)
        raise InvalidInput(field, f"{shown_value(value)} is not one of {choices}")
