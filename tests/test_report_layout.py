"""The report's and compare page's layout as a reader's browser draws it, checked by bounding
boxes: no legend over a data mark, a tick label or an axis label; no two tick labels of an
axis overlapping; no table clipped. Also the time and points-per-dollar formats.

Skipped (loudly) only where Debian's chromium is missing; scripts/ensure-chromium.sh installs it.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
from browser import SKIP_REASON, chromium_path, launch, load

from tts_bench.report import fmt, write_report
from tts_bench.report.compare import terminal_table, write_compare
from tts_bench.report.synthetic import write_synthetic_run

ROOT = Path(__file__).resolve().parents[1]
PLOTS = ("saturation", "cost_accuracy", "latency", "strata", "failures")

# For one plot: every pair of boxes that must not meet, as [kind, text of each side].
CLASHES = r"""(plot) => {
  const svg = document.querySelector(`svg[data-plot="${plot}"]`);
  if (!svg) return [["missing", plot, ""]];
  const box = e => e.getBoundingClientRect();
  const meet = (a, b) => a.width > 0 && a.height > 0 && b.width > 0 && b.height > 0 &&
    a.left < b.right - 0.5 && b.left < a.right - 0.5 &&
    a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
  const name = e => (e.textContent || e.id || "").trim().slice(0, 40);
  const out = [];
  const tickTexts = ax => [...ax.querySelectorAll('g[id*="tick_"] text')];
  const axisLabels = ax => [...ax.querySelectorAll(':scope > g[id*="-text_"]')];
  for (const axes of svg.querySelectorAll('g[id*="-axes_"]')) {
    const axisGroups = [...axes.querySelectorAll(':scope > g[id*="matplotlib.axis_"]')];
    const texts = axisGroups.flatMap(g => [...tickTexts(g), ...axisLabels(g)]);
    const marks = [...axes.querySelectorAll(
      ':scope > g[id*="PathCollection_"], :scope > g[id*="PolyCollection_"], ' +
      ':scope > g[id*="line2d_"], :scope > g[id*="patch_"], :scope > g[id*="FillBetween"]')];
    for (const leg of axes.querySelectorAll(':scope > g[id*="-legend_"]')) {
      for (const t of texts) if (meet(box(leg), box(t))) out.push(["legend/text", "legend", name(t)]);
      for (const m of marks) if (meet(box(leg), box(m))) out.push(["legend/data", "legend", m.id]);
    }
    for (const g of axisGroups) {
      // rotated labels (the heatmap's config names) have slanted boxes: left out
      const angle = t => Number((/rotate\(\s*(-?[\d.]+)/.exec(t.getAttribute("transform") || "") || [0, 0])[1]);
      const ticks = tickTexts(g).filter(t => angle(t) === 0);
      for (let i = 0; i < ticks.length; i++)
        for (let j = i + 1; j < ticks.length; j++)
          if (meet(box(ticks[i]), box(ticks[j]))) out.push(["ticks", name(ticks[i]), name(ticks[j])]);
    }
  }
  return out;
}"""
FITS = "t => t.scrollWidth <= t.parentElement.clientWidth + 1 && t.getBoundingClientRect().right <= window.innerWidth"

if chromium_path() is None:
    warnings.warn(SKIP_REASON, stacklevel=1)
    browser_only = pytest.mark.skip(reason=SKIP_REASON)
else:
    browser_only = pytest.mark.browser


def _demo_run(out: Path) -> Path:
    """The demo suite on 30 items through the runner (simulated models); a synthetic run when
    the runner cannot run here."""
    try:
        from tts_bench import runner
        from tts_bench import suite as suite_mod

        text = (ROOT / "suites" / "demo.yaml").read_text().replace("size: 200", "size: 30")
        path = out / "demo-small.yaml"
        path.write_text(text)
        res = runner.run(
            suite_mod.load(path), out_dir=out, run_id="demo", cache_path=out / "cache.sqlite"
        )
        return res.run_dir
    except Exception as exc:  # the runner is a separate part: keep testing the layout
        warnings.warn(f"demo run failed ({exc!r}); using a synthetic run", stacklevel=1)
        shutil.rmtree(out / "demo", ignore_errors=True)
        return write_synthetic_run(out / "demo", items=30, configs=6)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("layout")
    report = write_report(_demo_run(out))  # before the browser: the runner has its own loop
    runs = [
        write_synthetic_run(out / f"run-{i}-of-a-long-descriptive-name", items=40, seed=i)
        for i in range(3)
    ]
    rows: list[dict] = []
    compare, _ = write_compare(runs, out / "compare.html", resamples=300, rows_out=rows)
    with launch() as browser:
        yield {
            "report": load(browser, report, width=1300),
            "compare": load(browser, compare, width=1400),
            "rows": rows,
            "browser": browser,
        }


@browser_only
@pytest.mark.parametrize("page_name", ["report", "compare"])
def test_no_legend_over_data_or_labels_and_no_tick_overlap(pages, page_name: str) -> None:
    page = pages[page_name]
    assert not page.events["errors"]
    clashes = {p: page.evaluate(CLASHES, p) for p in PLOTS}
    assert clashes == {p: [] for p in PLOTS}
    # the checks see what they look for: legends and tick labels are there
    assert page.locator('svg[data-plot] g[id*="-legend_"]').count() >= 2
    assert page.locator('svg[data-plot="cost_accuracy"] g[id*="xtick_"] text').count() >= 2


@browser_only
def test_tables_are_not_clipped(pages) -> None:
    rep, cmp_ = pages["report"], pages["compare"]
    for sel in ("#summary-table", "#frontier-table"):
        assert rep.locator(sel).evaluate(FITS), sel
    for sel in ("#delta-table", "#runs-table"):
        assert cmp_.locator(sel).evaluate(FITS), sel


@browser_only
def test_compare_names_each_runs_marker(pages) -> None:
    legend = pages["compare"].locator('svg[data-plot="cost_accuracy"] g[id*="-legend_"]')
    text = legend.text_content()
    assert all(f"run-{i}-of-a-long-descriptive-name" in text for i in range(3))


@browser_only
def test_frontier_steps_in_verdict_and_table(pages) -> None:
    page = pages["report"]
    rows = page.locator("#frontier-table tbody tr").count()
    steps = page.locator("#frontier-sentences li").all_text_contents()
    assert rows >= 1 and len(steps) == rows - 1
    for s in steps:
        assert "pts per extra dollar per request" in s and "e+" not in s and "e-" not in s
    ticks = page.locator('svg[data-plot="latency"] g[id*="xtick_"] text').all_text_contents()
    assert ticks and not any("×" in t or "10" in t and "^" in t for t in ticks)


def test_terminal_table_has_every_row(pages) -> None:
    from rich.console import Console

    rows = pages["rows"]
    console = Console(width=160, record=True)
    console.print(terminal_table(rows))
    text = console.export_text()
    assert len(rows) == 2 * 4  # two runs against the reference, four configs each
    assert all(r["config"] in text for r in rows) and "Δ pts (95% CI)" in text


def test_time_format_one_unit_never_scientific() -> None:
    assert fmt.secs(0.2) == "200 ms" and fmt.secs(0.0042) == "4.2 ms"
    assert fmt.secs(1.234) == "1.23 s" and fmt.secs(0.2, "s") == "0.20 s"
    assert fmt.secs(2.0, "ms") == "2,000 ms"
    assert fmt.latencies(0.3, 0.5, 1.2) == "0.30 / 0.50 / 1.20 s"
    assert fmt.latencies(0.3, 0.5, 0.7, "s") == "0.30 / 0.50 / 0.70 s"
    assert fmt.time_unit([0.2, 0.9, None]) == "ms" and fmt.time_unit([0.2, 1.5]) == "s"
    for x in (2e-1, 5e-5, 1e-4, 3e-6, 12.5, 250.0):
        for s in (fmt.secs(x), fmt.axis_secs(x), fmt.usd_tick(x), fmt.per_usd(x * 1e4)):
            assert "e" not in s.replace("per", "") and "×" not in s, s
    assert [fmt.usd_tick(x) for x in (5e-5, 1e-4, 2e-4)] == ["$0.00005", "$0.0001", "$0.0002"]
    assert fmt.axis_secs(0.2) == "200 ms" and fmt.axis_secs(2.5) == "2.5 s"
    assert fmt.per_usd(695023.6) == "695,024" and fmt.per_usd(-12.34) == "−12.3"


@browser_only
def test_the_checks_catch_a_legend_over_data_and_crowded_ticks(pages, tmp_path: Path) -> None:
    """A control: a legend in the middle of the data and long tick labels packed together
    (as the compare page had them) are reported."""
    from matplotlib.ticker import FixedFormatter, FixedLocator

    from tts_bench.report.plots_axes import _plt

    plt = _plt()
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.scatter(range(20), range(20), label="points")
    ax.legend(loc="center")
    ax.xaxis.set_major_locator(FixedLocator([1, 2, 3]))
    ax.xaxis.set_major_formatter(FixedFormatter(["$0.000050", "$0.00010", "$0.00020"]))
    import io

    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    svg = buf.getvalue()
    svg = (
        svg[svg.index("<svg") :]
        .replace('id="', 'id="bad-')
        .replace("<svg ", '<svg data-plot="bad" ', 1)
    )
    path = tmp_path / "bad.html"
    path.write_text(f"<!DOCTYPE html><html><body>{svg}</body></html>")
    page = load(pages["browser"], path)
    kinds = {k for k, _, _ in page.evaluate(CLASHES, "bad")}
    page.close()
    assert kinds == {"legend/data", "ticks"}


@browser_only
def test_strata_in_one_order_everywhere(pages) -> None:
    """The heatmap's rows, the stratum tables and the explorer's filter list strata in the
    summary's order (analysis.strata: the dataset's order), on the report and compare pages."""
    page = pages["report"]
    heat = page.evaluate(
        "[...document.querySelectorAll('svg[data-plot=strata] g[id*=ytick_] text')]"
        ".map(t => t.textContent).filter(t => t.includes('='))"
    )
    tables = [h.split(" (")[0].replace(" = ", "=") for h in page.locator("h3").all_text_contents()]
    options = [
        o for o in page.locator("select option").all_text_contents() if o.startswith("difficulty=")
    ]
    assert heat and heat == [t for t in tables if t.startswith("difficulty=")] == options
    cmp_heat = pages["compare"].evaluate(
        "[...document.querySelectorAll('svg[data-plot=strata] g[id*=ytick_] text')]"
        ".map(t => t.textContent).filter(t => t.includes('='))"
    )
    from tts_bench.report.synthetic import DIFFICULTY

    assert cmp_heat == [f"difficulty={d}" for d in DIFFICULTY]


def test_compare_command_prints_its_table(tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from tts_bench.cli import app
    from tts_bench.report import compare

    monkeypatch.setattr(compare, "_plots", lambda runs, names: [])  # the table is under test

    runs = [
        str(write_synthetic_run(tmp_path / f"r{i}", items=20, seed=i, configs=2)) for i in range(2)
    ]
    out = tmp_path / "c.html"
    result = CliRunner().invoke(app, ["compare", *runs, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "Δ pts (95% CI)" in result.output and "cost ×" in result.output
    assert result.output.count("r1") >= 2  # one row per config of the second run
    assert f"comparison: {out}" in result.output and out.exists()
