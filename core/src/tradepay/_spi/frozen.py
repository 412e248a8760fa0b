"""Frozen records that set their fields at once.

A frozen dataclass's generated ``__init__`` sets each field through ``object.__setattr__``: about 1,500
instructions a field on CPython 3.11, against about 150 for a plain attribute, and the host makes several
records of four to ten fields on every payment. :func:`set_at_once` gives a frozen, slotted dataclass an
``__init__`` that turns the new object into a plain twin class with the same slots, sets the fields as plain
attributes, turns it back into the record, and then calls ``__post_init__`` as the generated one does: the same
object, the same defaults, the same checks. Measured: 10,300 instructions of a ten-field ``Payment``'s 27,200
(docs/performance.md). ``core/tests/test_frozen_records.py`` checks, for each record made so, that its
``__init__`` takes what the generated one takes and makes what it makes.

:func:`unchecked` gives the twin itself, for a record whose checks its maker has already passed (the chain's
attempt records): called as the record's class is, it makes the record without ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["checked_init", "set_at_once", "unchecked"]

_T = TypeVar("_T")

#: Each record's twin, and the ``__init__`` its dataclass generated (kept for the tests' comparison).
_TWINS: dict[type, type] = {}
_GENERATED: dict[type, Callable[..., None]] = {}


def _plain_fields(cls: type) -> tuple[str, ...]:
    """The names of the fields of the frozen, slotted dataclass ``cls``, each its own slot in that order."""
    names = tuple(field.name for field in dataclasses.fields(cls))
    if (
        not cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
        or getattr(cls, "__slots__", None) != names
        or cls.__bases__ != (object,)
    ):
        raise TypeError(f"{cls.__name__}: set_at_once needs a frozen, slotted dataclass of plain fields")
    return names


def _twin(cls: type) -> type:
    """The plain class with ``cls``'s slots whose ``__init__`` takes every field, in order, sets each, and turns
    the object into ``cls``: made once per class."""
    found = _TWINS.get(cls)
    if found is not None:
        return found
    names = _plain_fields(cls)
    stores = "".join(f"    self.{name} = {name}\n" for name in names)
    namespace: dict[str, Any] = {"_cls": cls}
    source = f"def __init__(self, {', '.join(names)}):\n{stores}    self.__class__ = _cls\n"
    exec(source, namespace)  # noqa: S102 - the source is made here, of the class's own field names
    twin = type(f"_{cls.__name__}Twin", (), {"__slots__": names, "__module__": cls.__module__})
    namespace["__init__"].__qualname__ = f"{twin.__qualname__}.__init__"
    twin.__init__ = namespace["__init__"]  # type: ignore[misc]
    _TWINS[cls] = twin
    return twin


def set_at_once(cls: type[_T]) -> type[_T]:
    """Give the frozen, slotted dataclass ``cls`` (applied above ``@dataclass``) the ``__init__`` described in
    the module's documentation. Refuses, at import, a class whose generated ``__init__`` does more than set its
    fields and call ``__post_init__`` (a default factory, a field left out of ``__init__``, keyword-only or
    init-only fields): those keep the generated one's work, which this one does not repeat."""
    names = _plain_fields(cls)
    params = inspect.signature(cls.__init__).parameters
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if tuple(params)[1:] != names or any(
        not f.init or f.kw_only or f.default_factory is not dataclasses.MISSING for f in fields
    ):
        raise TypeError(f"{cls.__name__}: set_at_once needs a frozen, slotted dataclass of plain fields")
    empty = inspect.Parameter.empty
    defaults = {f"_default_{name}": params[name].default for name in names if params[name].default is not empty}
    signature = ", ".join(f"{name}=_default_{name}" if f"_default_{name}" in defaults else name for name in names)
    stores = "".join(f"    self.{name} = {name}\n" for name in names)
    post_init = "    self.__post_init__()\n" if hasattr(cls, "__post_init__") else ""
    source = (
        f"def __init__(self, {signature}):\n"
        "    if type(self) is not _cls:  # a subclass's instance: its layout may differ from the twin's\n"
        f"        return _generated(self, {', '.join(names)})\n"
        "    _set(self, '__class__', _twin)\n"
        f"{stores}"
        "    self.__class__ = _cls\n"
        f"{post_init}"
    )
    namespace: dict[str, Any] = {"_cls": cls, "_twin": _twin(cls), "_set": object.__setattr__, **defaults}
    namespace["_generated"] = generated = cls.__init__
    exec(source, namespace)  # noqa: S102 - the source is made here, of the class's own field names
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = generated.__doc__
    init.__annotations__ = dict(generated.__annotations__)
    cls.__init__ = init  # type: ignore[method-assign]
    _GENERATED[cls] = generated
    return cls


def unchecked(cls: type[_T]) -> Callable[..., _T]:
    """The twin of the frozen, slotted dataclass ``cls``: called with every field of ``cls``, in order (no
    defaults), it makes the record with those fields and no check at all, nor ``__post_init__``. Only for
    fields that passed the record's checks unchanged (a copy of a record with one field changed by the host)."""
    twin: Callable[..., _T] = _twin(cls)
    return twin


def checked_init(cls: type) -> Callable[..., None]:
    """The ``__init__`` that ``@dataclass`` generated for ``cls``, before :func:`set_at_once` replaced it."""
    return _GENERATED[cls]
