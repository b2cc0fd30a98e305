"""Reading YAML (suites, gate rules, import specs) with YAML 1.2 booleans and limits.

`read_yaml(path)` refuses, with `YamlLimitError` (a yaml.YAMLError carrying the line), a
file over `MAX_YAML_BYTES`, nesting deeper than `MAX_YAML_DEPTH`, aliases that expand to more
than `MAX_YAML_NODES` values (a "billion laughs") and an alias of a node containing it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

# A suite is a few hundred values. Aliases may share blocks, but a "billion laughs" (each
# level aliasing the one before nine times) must fail at once, not after gigabytes.
MAX_YAML_NODES = 100_000  # values after expanding every alias
MAX_YAML_DEPTH = 100  # nesting levels (the composer recurses once per level)
MAX_YAML_BYTES = 16 * 1024 * 1024


class YamlLimitError(yaml.composer.ComposerError):
    """A YAML file beyond the limits above (a YAMLError, so callers word it like any other)."""


class _Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. Under YAML 1.1 `on: ci` (a gate key) would
    silently become `True: ci`, and `no`/`yes` answers would turn into booleans.

    Also counts, while composing, how many values each node stands for once its aliases are
    expanded, and how deep it nests; past `MAX_YAML_NODES` / `MAX_YAML_DEPTH`, or for an
    alias of a node that contains it, it raises `YamlLimitError` at that node."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0
        self._sizes: dict[int, int] = {}  # id(node) -> expanded size; nodes stay alive

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            node = super().compose_node(parent, index)
            if id(node) not in self._sizes:  # its anchor is still being composed
                raise YamlLimitError(None, None, "an alias refers to a node containing it", mark)
            return node
        mark = self.peek_event().start_mark
        self._depth += 1
        if self._depth > MAX_YAML_DEPTH:
            raise YamlLimitError(None, None, f"nested deeper than {MAX_YAML_DEPTH} levels", mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            children = []
        size = 1 + sum(self._sizes.get(id(c), 1) for c in children)
        if size > MAX_YAML_NODES:
            raise YamlLimitError(
                None, None, f"aliases expand to more than {MAX_YAML_NODES:,} values", mark
            )
        self._sizes[id(node)] = size
        return node


_Yaml12Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file with YAML 1.2 booleans and limits on size, nesting and alias
    expansion (see `_Yaml12Loader`); those raise `YamlLimitError`, a yaml.YAMLError."""
    if path.stat().st_size > MAX_YAML_BYTES:
        raise YamlLimitError(None, None, f"larger than {MAX_YAML_BYTES >> 20} MiB", None)
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Yaml12Loader)  # noqa: S506
