"""The ledger: what happened in the simulator, for tests and benchmarks."""

from collections import Counter, deque
from dataclasses import dataclass

from telephony.simulator.records import SimCall


@dataclass(frozen=True)
class RequestRecord:
    at: float
    method: str
    path: str
    operation: str
    status: int
    fault: str | None


class Ledger:
    """What happened, for tests and benchmarks: requests, calls, peak of live calls."""

    def __init__(self, history: int) -> None:
        self.requests: deque[RequestRecord] = deque(maxlen=history)
        self.request_counts: Counter[str] = Counter()
        self.status_counts: Counter[int] = Counter()
        self.fault_counts: Counter[str] = Counter()
        self.calls: list[SimCall] = []
        self.peak_live_calls = 0
        self.refused_over_cap = 0

    def record_request(self, record: RequestRecord) -> None:
        self.requests.append(record)
        self.request_counts[record.operation] += 1
        self.status_counts[record.status] += 1
        if record.fault:
            self.fault_counts[record.fault] += 1

    def duplicate_channels(self) -> dict[str, int]:
        """Channels that more than one accepted call used: each is a double dial."""
        counts = Counter(call.channel for call in self.calls)
        return {channel: count for channel, count in counts.items() if count > 1}

    def calls_with_label(self, key: str, value: str) -> list[SimCall]:
        return [call for call in self.calls if call.labels.get(key) == value]
