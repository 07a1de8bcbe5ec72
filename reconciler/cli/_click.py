"""The exceptions typer raises for exits and usage errors, whichever typer is installed, and typer's value
coercion made cheap for plain text and paths.

typer ≥ 0.26 vendors click as ``typer._click`` (and click is no longer installed with it); older typer re-exports
click's own. ``typer.Exit`` and ``typer.Abort`` are public in both.

Recent typer coerces every option value through a pydantic ``TypeAdapter`` built on first use, so the first option a
command reads imports pydantic (~130 ms, most of `validate`'s start-up). ``plain_coercion`` gives the parameters
whose value is text, a flag, a path with typer's default checks or a case-sensitive enum choice (``--format``) a
coercer that does what that adapter does for them (text and flags unchanged; ``Path(text)``, with typer's readable
check for an existing path; the member whose value is the text) and hands every other value to typer's own
coercion, built as before. With a typer that has no such coercion (older ones use click types) it changes nothing.
"""

from __future__ import annotations

import contextlib
import enum
import os
from pathlib import Path
from typing import Any, get_args, get_origin

import typer

ClickException: Any  # the vendored or the installed click class
try:  # pragma: no cover - which branch runs depends on the installed typer
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException  # type: ignore[no-redef,import-not-found,assignment,unused-ignore]

get_current_context: Any  # the click that runs the commands (vendored or installed)
try:  # pragma: no cover
    from typer._click.globals import get_current_context
except ImportError:  # pragma: no cover
    from click import get_current_context  # type: ignore[no-redef,import-not-found,assignment,unused-ignore]

Abort = typer.Abort
Exit = typer.Exit


def is_no_args_help(exc: BaseException) -> bool:
    """The "usage error" click raises for a group run without a command (its message is the group's help)."""
    return type(exc).__name__ == "NoArgsIsHelpError"

RuntimeParam: Any = None
with contextlib.suppress(ImportError):  # which branch runs depends on the installed typer
    from typer._coercion import RuntimeParam, build_runtime_param

# typer's defaults for a path parameter: with these, coercing a path is ``Path(value)`` plus a readable check.
_PATH_DEFAULTS = {"exists": False, "file_okay": True, "dir_okay": True, "writable": False, "readable": True,
                  "resolve_path": False, "allow_dash": False, "path_type": None}


def _leaf(annotation: Any, info: Any) -> type | None:
    """``str``, ``bool`` or ``Path`` when the annotation is one (or a list of one) with typer's default checks."""
    if get_origin(annotation) is list:
        args = get_args(annotation)
        annotation = args[0] if len(args) == 1 else None
    if getattr(info, "parser", None) is not None or getattr(info, "click_type", None) is not None:
        return None
    if annotation is str or annotation is bool:
        return annotation  # type: ignore[no-any-return]
    if annotation is Path and all(getattr(info, key, None) == value for key, value in _PATH_DEFAULTS.items()):
        return Path
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum) and getattr(info, "case_sensitive", False):
        return annotation  # a choice such as --format text|json: the member whose value is the text
    return None


if RuntimeParam is not None:
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class _PlainRuntimeParam(RuntimeParam):  # type: ignore[misc,valid-type,unused-ignore]
        """Text and paths from the command line without pydantic; anything else goes to typer's coercion."""

        leaf: type
        descriptor: Any

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            values = value if isinstance(value, list | tuple) else None
            if values is not None and get_origin(self.annotation) is not list:
                return self._typer(value, param, ctx)
            plain = [self._plain(item) for item in (values if values is not None else [value])]
            if any(item is None for item in plain):
                return self._typer(value, param, ctx)
            return plain if values is not None else plain[0]

        def _plain(self, item: Any) -> Any:
            if self.leaf is bool:
                return item if isinstance(item, bool) else None
            if issubclass(self.leaf, enum.Enum):
                if isinstance(item, self.leaf):
                    return item
                return next((m for m in self.leaf if isinstance(item, str) and m.value == item), None)
            if not isinstance(item, str):
                return None
            if self.leaf is str:
                return item
            if not item or (os.path.exists(item) and not os.access(item, os.R_OK)):
                return None  # typer's own coercion words the error
            return Path(item)

        def _typer(self, value: Any, param: Any, ctx: Any) -> Any:
            return build_runtime_param(self.descriptor)._coerce_value(value, param=param, ctx=ctx)


def plain_coercion(param: Any) -> None:
    """Give ``param`` the cheap coercer when it is a typer parameter whose values are plain text or paths."""
    descriptor = getattr(param, "type_descriptor", None)
    if RuntimeParam is None or descriptor is None or getattr(param, "_runtime_param", "absent") is not None:
        return
    if getattr(descriptor, "file_annotation", None) is not None:
        return
    leaf = _leaf(descriptor.annotation, descriptor.parameter_info)
    if leaf is not None:
        param._runtime_param = _PlainRuntimeParam(parameter_info=descriptor.parameter_info,
                                                  annotation=descriptor.annotation, leaf=leaf, descriptor=descriptor)


__all__ = ["Abort", "ClickException", "Exit", "get_current_context", "is_no_args_help", "plain_coercion"]
