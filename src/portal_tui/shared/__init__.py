"""The shared tier: N processes, each distinct upstream request fetched once.

Consoles, ``watch`` and cron ``check`` processes that share a records file
share the upstream responses, the single-flight and the master-token lock
through leases in that file (:mod:`.sqlite_tier`); ``[shared] redis_url``
does the same across machines through Redis (:mod:`.redis_tier`). Either way
:class:`~.loads.SharedLoads` runs one algorithm over a :class:`~.tier.Tier`:
serve a fresh shared response, or take the request's lease and fetch, or
wait for the holder's result. The tier is an accelerator, never a dependency
of correctness: when it fails, each process fetches for itself and says so.
"""
