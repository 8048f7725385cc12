"""Work that each event of a batch would ask for, done once when the batch is through.

A webhook drain applies a batch of Agora's notifications; each hang-up among them frees a place
its campaign refills. Refilling after each hang-up costs a claim and a placement request per
place; refilling once after the batch claims every freed place at once and sends the requests
together (telephony's batch placement). `within_batch()` opens such a scope; `after_batch(key,
work)` inside it defers `work` to the scope's end, once per key (the last given wins); outside
any scope it answers False and the caller does the work itself.

`after_batch(key, work, late=True)` defers work that may wait for the rest: it runs after
every other deferred piece (a hang-up's contact outcome waits for the refill of its place).
"""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

logger = logging.getLogger(__name__)

Work = Callable[[], object]
# The open batch's deferred work: (what runs first, what runs late), each keyed.
_deferred: ContextVar[tuple[dict[str, Work], dict[str, Work]] | None] = ContextVar(
    "batch_deferred", default=None
)


@contextmanager
def within_batch() -> Iterator[None]:
    """Defer `after_batch` work to the end of this block (a nested block joins the outer)."""
    if _deferred.get() is not None:
        yield
        return
    token = _deferred.set(({}, {}))
    try:
        yield
    finally:
        first, late = _deferred.get() or ({}, {})
        _deferred.reset(token)
        for key, run in [*first.items(), *late.items()]:
            try:
                run()
            except Exception:  # one failure does not cost the others their turn
                logger.exception("work deferred to the end of a batch failed: %s", key)


def after_batch(key: str, work: Work, *, late: bool = False) -> bool:
    """Do `work` once at the end of the open batch (`late`: after the batch's other deferred
    work); False when none is open (do it now)."""
    deferred = _deferred.get()
    if deferred is None:
        return False
    stage = deferred[1 if late else 0]
    stage.pop(key, None)
    stage[key] = work  # the latest wins, and runs in the order of the last asking
    return True
