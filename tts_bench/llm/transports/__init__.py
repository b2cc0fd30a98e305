"""How a call travels besides one request at a time: `batch` (queued calls submitted as a
provider batch, polled, resolved; `batch_wire` speaks OpenAI's and Anthropic's batch APIs,
`batch_journal` keeps the run directory's record of submitted batches)."""
