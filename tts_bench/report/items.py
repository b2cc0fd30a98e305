"""The item explorer's data: every item × config, compact, as one JSON blob.

Layout (positional arrays keep 1,000 items × 8 configs small):
  {"configs": [name...], "baseline": i, "strata_cols": [col...],
   "strata_order": ["col=value"...], "texts": [str...],
   "labels": [failure label...], "roles": [...], "models": [...],
   "items": [[id, target, [stratum value per col], cells]]}
  cell (per config, null when the pair is missing):
    [answer, ok (1 correct, 0 wrong, null unscored), label index or -1, cost, latency,
     output text index, calls]
  call: [role index, sample_index, model index, in_tokens, out_tokens, reasoning_tokens,
         cost, latency, status, cache_hit (0/1), text index or -1]
Texts are deduplicated (a single call's output is the record's output) and each is capped at
`max_text` characters; when all texts together exceed `text_budget` characters the cap is
lowered, so a huge run still gives a report that opens. The cut is marked in the text; the
full text stays in records.jsonl / calls.jsonl.

Pages: a run of more than `PAGE_CELLS` (item, config) cells is cut into pages of whole items
in item order (`Pages`), each a blob of the layout above (its own texts; labels shared), plus
"pages": {"count", "size", "items", "dir", "ranges": [[first id, last id]...]}. The report
embeds the first; the others are `PAGES_DIR/page-0002.js`... beside it, each calling
`ttsItemsPage(blob)`, loaded by a <script src> (which works from file://, where a fetch
does not).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

MAX_TEXT = 4000
TEXT_BUDGET = 9_000_000  # characters of text per page
# (item, config) cells per explorer page: 1,250 items of 8 configs (about 13 MB with every
# call's 400-character text, a page a browser opens in about a second)
PAGE_CELLS = 10_000
PAGES_DIR = "report-items"


class _Table:
    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.values: list[str] = []

    def add(self, s: str | None) -> int:
        if s is None:
            return -1
        i = self.index.get(s)
        if i is None:
            i = self.index[s] = len(self.values)
            self.values.append(s)
        return i


def _num(x: Any, digits: int = 6) -> float | None:
    """A finite number rounded for the page, else None (shown as "—", never 0)."""
    t = type(x)
    if t is float or t is int:  # what JSON gives: no isinstance chain per figure
        return round(float(x), digits) if math.isfinite(x) else None
    if not isinstance(x, int | float) or isinstance(x, bool) or not math.isfinite(x):
        return None
    return round(float(x), digits)


def _s(x: Any) -> str:
    return x if type(x) is str else str(x)


# A call as the explorer keeps it: exactly the fields it shows, figures already rounded,
# (config, role, sample_index, model, input_tokens, output_tokens, reasoning_tokens, cost,
#  latency, status, cache_hit 0/1, text). A tuple, not the call's dict: a tenth of the memory.
CallRow = tuple[Any, ...]


def _compact(c: dict[str, Any], shared: dict[str, str]) -> CallRow:
    """The explorer's `CallRow` of call `c`. shared: each distinct short string (config, role,
    model, status) once, so a run's calls hold references to a handful of strings. The hot
    loop of a large report: `_s` and `_num`'s common case (a finite float) are inlined."""
    g = c.get
    config = g("config")
    config = config if type(config) is str else str(config)
    role = g("role") or ""
    role = role if type(role) is str else str(role)
    model = g("model") or ""
    model = model if type(model) is str else str(model)
    status = g("status")
    if type(status) is str:
        status = shared.setdefault(status, status)
    cost, lat = g("cost_usd"), g("latency_s")
    return (
        shared.setdefault(config, config),
        shared.setdefault(role, role),
        g("sample_index"),
        shared.setdefault(model, model),
        g("input_tokens"),
        g("output_tokens"),
        g("reasoning_tokens"),
        # x - x == 0: finite (NaN and inf give NaN)
        round(cost, 8) if type(cost) is float and cost - cost == 0 else _num(cost, 8),
        round(lat, 3) if type(lat) is float and lat - lat == 0 else _num(lat, 3),
        status,
        1 if g("cache_hit") else 0,
        g("text"),
    )


def _call_rows(
    rows: list[CallRow], roles: _Table, models: _Table, texts: _Table
) -> list[list[Any]]:
    """The explorer's row of each call (see the module doc), its strings numbered in the
    page's tables (look-ups inlined: once per call of the page)."""
    out = []
    role_get, model_get, text_get = roles.index.get, models.index.get, texts.index.get
    for _config, role, sample, model, tin, tout, treason, cost, lat, status, hit, text in rows:
        ri = role_get(role)
        if ri is None:
            ri = roles.add(role)
        mi = model_get(model)
        if mi is None:
            mi = models.add(model)
        ti = -1 if text is None else text_get(text)
        if ti is None:
            ti = texts.add(text)
        out.append([ri, sample, mi, tin, tout, treason, cost, lat, status, hit, ti])
    return out


def _cap(texts: list[str], max_text: int, budget: int) -> list[str]:
    total = sum(min(len(t), max_text) for t in texts)
    cap = max_text
    if total > budget:  # shrink the cap until the texts fit the budget
        lengths = sorted(len(t) for t in texts)
        lo, hi = 200, max_text
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if sum(min(n, mid) for n in lengths) <= budget:
                lo = mid
            else:
                hi = mid - 1
        cap = lo
    return [
        t
        if len(t) <= cap
        else t[:cap] + f"\n… [{len(t) - cap:,} more characters in the run directory]"
        for t in texts
    ]


def item_blob(
    records: list[dict[str, Any]],
    calls: Iterable[dict[str, Any]],
    configs: list[str],
    baseline: str | None,
    *,
    max_text: int = MAX_TEXT,
    text_budget: int = TEXT_BUDGET,
    strata_order: list[str] | None = None,
    labels: list[str] | None = None,
) -> dict[str, Any]:
    """The explorer's data (see the module doc for the layout). strata_order: the stratum
    filter's "column=value" entries in summary.json's order (others follow as found);
    labels: failure labels to number first (the same numbers on every page)."""
    shared: dict[str, str] = {}
    by_pair: dict[tuple[str, str], list[CallRow]] = {}
    for c in calls:
        row = _compact(c, shared)
        by_pair.setdefault((_s(c.get("item_id")), row[0]), []).append(row)
    return _blob(
        records,
        by_pair,
        configs,
        baseline,
        max_text=max_text,
        text_budget=text_budget,
        strata_order=strata_order,
        labels=labels,
    )


def _blob(
    records: list[dict[str, Any]],
    by_pair: dict[tuple[str, str], list[CallRow]],
    configs: list[str],
    baseline: str | None,
    *,
    max_text: int,
    text_budget: int,
    strata_order: list[str] | None,
    labels: list[str] | None,
) -> dict[str, Any]:
    """`item_blob` of calls already compact, grouped by (item id, config) in file order."""
    names = list(configs) + sorted({str(r["config"]) for r in records} - set(configs))
    cpos = {n: i for i, n in enumerate(names)}
    texts, label_t, roles, models = _Table(), _Table(), _Table(), _Table()
    for lab in labels or []:
        label_t.add(lab)
    strata_cols: list[str] = []
    items: dict[str, list[Any]] = {}
    for r in records:
        iid = str(r["item_id"])
        strata = r.get("strata") or {}
        for col in strata:
            if col not in strata_cols:
                strata_cols.append(col)
        row = items.setdefault(iid, [iid, r.get("target"), strata, [None] * len(names)])
        pair_calls = _call_rows(by_pair.get((iid, str(r["config"])), ()), roles, models, texts)
        correct = r.get("correct")
        row[3][cpos[str(r["config"])]] = [
            r.get("answer")
            if r.get("answer") is None or isinstance(r.get("answer"), str)
            else json.dumps(r.get("answer")),
            None if correct is None else int(bool(correct)),
            label_t.add(r.get("failure")) if r.get("failure") else -1,
            _num(r.get("cost_usd"), 8),
            _num(r.get("latency_s"), 3),
            texts.add(r.get("output")),
            pair_calls,
        ]
    out_items = []
    for iid in sorted(items):
        iid_, target, strata, cells = items[iid]
        out_items.append(
            [
                iid_,
                target if target is None or isinstance(target, str) else json.dumps(target),
                [None if strata.get(c) is None else str(strata.get(c)) for c in strata_cols],
                cells,
            ]
        )
    return {
        "configs": names,
        "baseline": cpos.get(baseline or "", -1),
        "strata_cols": strata_cols,
        "strata_order": list(strata_order or []),
        "texts": _cap(texts.values, max_text, text_budget),
        "labels": label_t.values,
        "roles": roles.values,
        "models": models.values,
        "items": out_items,
    }


class Pages:
    """The explorer's data cut into pages of whole items (sorted ids), built one page at a
    time. records are grouped by item once (references, no copies); calls are read once, in
    order (a generator will do), and only their `CallRow`s are kept, those of items with a
    record; configs and baseline as for `item_blob`; page_cells: cells per page (None:
    `PAGE_CELLS`)."""

    def __init__(
        self,
        records: list[dict[str, Any]],
        calls: Iterable[dict[str, Any]],
        configs: list[str],
        baseline: str | None,
        *,
        strata_order: list[str] | None = None,
        page_cells: int | None = None,
    ) -> None:
        self.configs = list(configs) + sorted({str(r["config"]) for r in records} - set(configs))
        self.baseline = baseline
        self.strata_order = list(strata_order or [])
        self._recs: dict[str, list[dict[str, Any]]] = {}
        labels = _Table()
        for r in records:
            self._recs.setdefault(str(r["item_id"]), []).append(r)
            if r.get("failure"):
                labels.add(r["failure"])
        self.labels = labels.values
        # an item's rows in file order; an item without a record is never shown
        self._calls: dict[str, list[CallRow]] = {i: [] for i in self._recs}
        shared: dict[str, str] = {}
        rows_of = self._calls.get
        for c in calls:
            iid = c.get("item_id")
            rows = rows_of(iid if type(iid) is str else str(iid))
            if rows is not None:
                rows.append(_compact(c, shared))
        self.ids = sorted(self._recs)
        cells = PAGE_CELLS if page_cells is None else page_cells
        self.size = max(1, cells // max(1, len(self.configs)))
        self.count = max(1, math.ceil(len(self.ids) / self.size))

    def ranges(self) -> list[list[str]]:
        """[first id, last id] of every page."""
        out = []
        for p in range(self.count):
            ids = self.ids[p * self.size : (p + 1) * self.size]
            out.append([ids[0], ids[-1]] if ids else ["", ""])
        return out

    def blob(self, page: int) -> dict[str, Any]:
        """Page `page` (0-based) in `item_blob`'s layout, with the "pages" block."""
        ids = self.ids[page * self.size : (page + 1) * self.size]
        recs = [r for i in ids for r in self._recs[i]]
        by_pair: dict[tuple[str, str], list[CallRow]] = {}
        for i in ids:
            for row in self._calls[i]:
                by_pair.setdefault((i, row[0]), []).append(row)
        out = _blob(
            recs,
            by_pair,
            self.configs,
            self.baseline,
            max_text=MAX_TEXT,
            text_budget=TEXT_BUDGET,
            strata_order=self.strata_order,
            labels=self.labels,
        )
        out["pages"] = {
            "index": page,
            "count": self.count,
            "size": self.size,
            "items": len(self.ids),
            "dir": PAGES_DIR,
            "ranges": self.ranges() if page == 0 else [],
        }
        return out

    def files(self) -> Iterator[tuple[str, str]]:
        """(file name, script) of every page but the first, one at a time."""
        for p in range(1, self.count):
            yield page_file(p), "ttsItemsPage(" + blob_json(self.blob(p)) + ");\n"


def page_file(page: int) -> str:
    """The file name of page `page` (0-based) in `PAGES_DIR`."""
    return f"page-{page + 1:04d}.js"


def blob_json(blob: dict[str, Any]) -> str:
    """`script_json` of an explorer blob, byte for byte, written by orjson (ten times the
    stdlib's speed) when its text is the stdlib's: the two differ only in numbers below 1e-4
    (orjson writes 0.00005 and 1e-7 where the stdlib writes 5e-05 and 1e-07), so a text with
    `0.0000` or a digit, `e-`, digit anywhere (in a model's text too) is written by the
    stdlib. A blob holds no NaN (figures are checked on read and rounded by `_num`)."""
    try:
        raw = orjson.dumps(blob)
    except (TypeError, orjson.JSONEncodeError):  # an integer past 64 bits, a lone surrogate
        return script_json(blob)
    if b"0.0000" in raw or _exponent(raw):
        return script_json(blob)
    return _script_safe(raw.decode("utf-8"))


def _exponent(raw: bytes) -> bool:
    """Whether raw has a digit, `e-` and a digit (a number in exponent form, or text)."""
    i = raw.find(b"e-")
    while i != -1:
        if 0 < i and i + 2 < len(raw) and raw[i - 1] in _DIGITS and raw[i + 2] in _DIGITS:
            return True
        i = raw.find(b"e-", i + 2)
    return False


_DIGITS = frozenset(b"0123456789")


def script_json(obj: Any) -> str:
    """JSON safe inside <script type="application/json">: no '</' (so no '</script>') and no
    '<!--' can end or confuse the element; the browser's JSON.parse reads '<\\/' as '</'."""
    return _script_safe(json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False))


def _script_safe(s: str) -> str:
    return (
        s.replace("</", "<\\/")
        .replace("<!--", "<\\u0021--")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
