"""`python -m tts_bench.llm.price_rows MODEL...`: the rates tts-bench would use for each model,
one markdown row per model (the columns of the price table in docs/providers.md)."""

from __future__ import annotations

import sys

from tts_bench.llm.pricing import PriceTable, table_row


def main(models: list[str]) -> None:
    prices = PriceTable()
    for model in models:
        print(table_row(model, prices))


if __name__ == "__main__":
    main(sys.argv[1:])
