"""Environment for offline, quiet operation, applied before litellm or datasets are imported.

`setup_offline_env()` sets:
- LITELLM_LOCAL_MODEL_COST_MAP=True: litellm reads its bundled price map instead of fetching one;
- HF_HUB_OFFLINE=1 (and HF_DATASETS_OFFLINE=1) unless the user already set HF_HUB_OFFLINE or
  the suite asks for an `hf:` dataset (otherwise hub names fail at once instead of retrying
  for tens of seconds);
- LITELLM_TELEMETRY=False, HF_HUB_DISABLE_TELEMETRY=1, DO_NOT_TRACK=1: no telemetry.
Values the user set explicitly win, except the price map, which must never be fetched.
"""

from __future__ import annotations

import os

_DEFAULTS = {
    "LITELLM_TELEMETRY": "False",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
}


_HUB_SWITCHES: set[str] = set()  # the hub switches this module set (not the user)


def setup_offline_env(*, allow_hub: bool = False) -> None:
    """Set the offline/no-telemetry environment (idempotent, cheap). `allow_hub`: the suite
    asks for an `hf:` dataset, so the hub stays reachable unless the user said otherwise."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    if allow_hub:
        for key in _HUB_SWITCHES:
            os.environ.pop(key, None)
        _HUB_SWITCHES.clear()
    elif "HF_HUB_OFFLINE" not in os.environ:  # the user may opt in to the hub
        for key in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
            if key not in os.environ:
                os.environ[key] = "1"
                _HUB_SWITCHES.add(key)
    for key, value in _DEFAULTS.items():
        os.environ.setdefault(key, value)


def import_litellm():  # noqa: ANN201  (litellm has no useful module type)
    """Import litellm quietly: offline price map, no debug help text, logger at ERROR."""
    setup_offline_env()
    import logging

    import litellm

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return litellm
