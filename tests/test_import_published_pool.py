"""A published-style last-letters pool, imported through the CLI: the summary.json figures
under plain exact scoring and under the paper's normalisation equal the hand computation in
tests/fixtures/last_letters/README.md and a brute force over every k-subset of hand-labelled
answer classes (written here, not derived with the package's normaliser or estimators)."""

from __future__ import annotations

import itertools
import json
from fractions import Fraction as F
from pathlib import Path

import pytest

from tests.conftest import cli
from tts_bench.analysis import write_summary

POOL = Path(__file__).parent / "fixtures" / "last_letters" / "pool.jsonl"
K = 4

# Per item, the class of each sample's answer under each scoring: "C" is the target's class,
# any other label a wrong answer (equal labels = the same answer after normalisation).
CLASSES = {
    "plain": {
        "q1": "C w x y",  # nkoe, n-k-o-e, N K O E, nkoa
        "q2": "C w C x",  # éa, e+U+0301 a, ÉA, ea
        "q3": "w x y z",  # y-r, r-y, r y, yr!
        "q4": "C C w x",  # dst, dst, d-s-t, dsp
        "q5": "C w x y",  # ab, c-d, c d, CD!
    },
    "letters_only,casefold": {
        "q1": "C C C w",
        "q2": "C C C w",
        "q3": "C W W C",
        "q4": "C C C w",
        "q5": "C W W W",
    },
    "nfkd,letters_only,casefold": {
        "q1": "C C C w",
        "q2": "C C C C",
        "q3": "C W W C",
        "q4": "C C C w",
        "q5": "C W W W",
    },
}

# The hand computation (README.md), k = 1..4.
HAND = {
    "plain": {
        "majority": [F(3, 10), F(3, 10), F(11, 30), F(1, 2)],
        "pass_at_k": [F(3, 10), F(8, 15), F(7, 10), F(4, 5)],
    },
    "letters_only,casefold": {
        "majority": [F(3, 5), F(3, 5), F(7, 10), F(7, 10)],
        "pass_at_k": [F(3, 5), F(13, 15), F(19, 20), F(1)],
    },
    "nfkd,letters_only,casefold": {
        "majority": [F(13, 20), F(13, 20), F(7, 10), F(7, 10)],
        "pass_at_k": [F(13, 20), F(13, 15), F(19, 20), F(1)],
    },
}


def brute(classes: str, k: int) -> tuple[F, F]:
    """(maj@k, pass@k) of one item: the mean over every k-subset, ties credited 1/#tied."""
    votes = classes.split()
    maj, hit, subsets = F(0), F(0), list(itertools.combinations(votes, k))
    for sub in subsets:
        counts = {c: sub.count(c) for c in set(sub)}
        tied = [c for c, n in counts.items() if n == max(counts.values())]
        maj += F(int("C" in tied), len(tied))
        hit += "C" in sub
    return maj / len(subsets), hit / len(subsets)


@pytest.fixture(scope="module")
def summaries(tmp_path_factory) -> dict[str, dict]:
    out = {}
    for scoring in CLASSES:
        run = tmp_path_factory.mktemp("published") / "run"
        norm = [] if scoring == "plain" else ["--normalize", scoring]
        proc = cli("import", str(POOL), "--scorer", "exact", *norm, "--out", str(run))
        assert proc.returncode == 0, proc.stderr
        write_summary(run, resamples=200)  # what `tts-bench report` writes, without the HTML
        out[scoring] = {
            "summary": json.loads((run / "summary.json").read_text()),
            "manifest": json.loads((run / "manifest.json").read_text()),
            "records": [json.loads(x) for x in (run / "records.jsonl").read_text().splitlines()],
        }
    return out


def curves(got: dict) -> dict:
    (cfg,) = got["summary"]["configs"]
    sat = cfg["saturation"]
    assert sat["ks"] == [1, 2, 3, 4]
    return sat["curves"]


@pytest.mark.parametrize("scoring", list(CLASSES))
def test_hand_computation_agrees_with_brute_force(scoring: str) -> None:
    items = CLASSES[scoring].values()
    for k in range(1, K + 1):
        maj = sum(brute(c, k)[0] for c in items) / len(items)
        hit = sum(brute(c, k)[1] for c in items) / len(items)
        assert (maj, hit) == (HAND[scoring]["majority"][k - 1], HAND[scoring]["pass_at_k"][k - 1])


@pytest.mark.parametrize("scoring", list(CLASSES))
def test_summary_reproduces_the_hand_computed_figures(summaries, scoring: str) -> None:
    got = curves(summaries[scoring])
    for curve in ("majority", "pass_at_k"):
        want = [float(x) for x in HAND[scoring][curve]]
        assert got[curve]["mean"] == pytest.approx(want, abs=1e-12), curve


@pytest.mark.parametrize("scoring", list(CLASSES))
def test_per_sample_scores_follow_the_classes(summaries, scoring: str) -> None:
    recs = {r["item_id"]: r for r in summaries[scoring]["records"]}
    for item, classes in CLASSES[scoring].items():
        got = [s["correct"] for s in recs[item]["samples"]]
        assert got == [c == "C" for c in classes.split()], item


def test_normalisation_lifts_the_figures_and_is_recorded(summaries) -> None:
    plain = curves(summaries["plain"])
    paper = curves(summaries["letters_only,casefold"])
    # single-sample accuracy 30% -> 60%, maj@4 50% -> 70%: the paper's figures need its scoring
    assert plain["majority"]["mean"][0] == pytest.approx(0.3)
    assert paper["majority"]["mean"][0] == pytest.approx(0.6)
    pairs = zip(plain["majority"]["mean"], paper["majority"]["mean"], strict=True)
    assert all(p < q for p, q in pairs)
    for scoring, got in summaries.items():
        steps = [] if scoring == "plain" else scoring.split(",")
        assert got["manifest"]["suite"]["scorer"]["normalize"] == steps
        assert got["summary"]["meta"]["scorer_normalize"] == steps
        # the records keep the answers as written; only the comparison is normalised
        q1 = next(r for r in got["records"] if r["item_id"] == "q1")
        assert [s["answer"] for s in q1["samples"]] == ["nkoe", "n-k-o-e", "N K O E", "nkoa"]
