"""A run's life beyond one process: which pairs a process runs (shards), where they run
(executors: local asyncio or Ray) and how shards come back together (merge)."""
