"""Datasets: loading (local files, HF hub, builtin generators), field mapping, stratified
sampling, and the `sample` verb's API. Heavy libraries (datasets, pandas) load lazily."""

from tts_bench.data.loader import (
    LoadedItem,
    fingerprint,
    load_items,
    map_rows,
    read_table,
)
from tts_bench.data.sampling import (
    SampleReport,
    StratumRow,
    allocate,
    sample_file,
    stratified_sample,
    write_table,
)

__all__ = [
    "LoadedItem",
    "SampleReport",
    "StratumRow",
    "allocate",
    "fingerprint",
    "load_items",
    "map_rows",
    "read_table",
    "sample_file",
    "stratified_sample",
    "write_table",
]
