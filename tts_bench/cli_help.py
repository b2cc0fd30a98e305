"""Metavars for `--help`: typer's rich help prints every parameter's Python type (`<bool>`
after a flag, `<list[Path]>`, `<str>`) unless the parameter declares a `metavar`. Declaring
one on each of some fifty options would drift; this pass gives every parameter of the built
command tree one from its type instead, once, before the command runs:

- flags (`--quiet`, `--help`): none, a flag takes no value;
- paths: `FILE` or `DIR` by what the help text names first, else `PATH`;
- numbers: `N` for integers, `NUMBER` for floats; text: `TEXT`;
- arguments: their name (`SUITE`); choices keep typer's `a|b|c`.

A metavar declared in the code is kept.
"""

from __future__ import annotations

from typing import Any, get_args

_NAMED = {int: "N", float: "NUMBER", str: "TEXT"}


def apply(command: Any) -> Any:
    """Give every parameter of `command` and its subcommands a metavar; returns `command`."""
    from typer import _click

    for param in command.params:
        if param.metavar is None:
            param.metavar = metavar(param)
        if param.param_type_name == "argument" and param.metavar:
            # its name column already reads SUITE: no `<path>` type column beside it
            param.display_type_rich = _no_type
    ctx = _click.Context(command)
    help_option = command.get_help_option(ctx)  # created on first use, then cached
    if help_option is not None:
        help_option.metavar = ""
    for sub in (getattr(command, "commands", None) or {}).values():
        apply(sub)
    return command


def metavar(param: Any) -> str | None:
    """The metavar for one typer parameter ('' for a flag; None: leave typer's)."""
    if getattr(param, "is_flag", False):
        return ""
    desc = getattr(param, "type_descriptor", None)
    if desc is None or desc.is_choice or desc.is_tuple or desc.is_datetime:
        return None
    if desc.is_path or _element(desc.annotation) is _path():
        label = _path_kind(getattr(param, "help", None) or "")
    else:
        label = _NAMED.get(_element(desc.annotation))
        if label is None:
            return None
    if param.param_type_name == "argument":  # typer's usage line adds the `...` itself
        return (param.name or label).upper()
    return label


def _path_kind(help_text: str) -> str:
    """FILE or DIR by whichever the option's help names first ("Output HTML file.",
    "Parent folder of run directories."); PATH when it names neither."""
    text = help_text.lower()
    found = {text.find(w): k for w, k in (("file", "FILE"), ("folder", "DIR"), ("director", "DIR"))}
    found.pop(-1, None)
    return found[min(found)] if found else "PATH"


def _no_type(ctx: Any) -> None:
    return None


def _element(annotation: Any) -> Any:
    """list[X] -> X; X -> X."""
    args = get_args(annotation)
    return args[0] if args and getattr(annotation, "__origin__", None) is list else annotation


def _path() -> type:
    from pathlib import Path

    return Path
