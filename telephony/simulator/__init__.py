"""A local stand-in for Agora's telephony, phone-number and agent REST APIs.

In process (tests)::

    sim = Simulator(SimulatorConfig(...), clock=ManualClock(), webhook_sender=send)
    client = AgoraClient(config, transport=sim_transport(sim))
    sim.advance(30)  # plays every call for 30 simulated seconds, webhooks included

As a server: ``python manage.py agora_simulator --port 8900`` (see README).
"""

from telephony.simulator.clock import ManualClock, SystemClock
from telephony.simulator.core import Simulator, SimulatorConfig
from telephony.simulator.faults import Fault, HttpFaults
from telephony.simulator.http import SimulatorHTTP, SimulatorTransport
from telephony.simulator.ledger import Ledger
from telephony.simulator.outcomes import CallPlan, Outcome, RandomMix, Timings, parse_mix
from telephony.simulator.records import SimCall
from telephony.simulator.validation import ApiError
from telephony.simulator.webhooks import WebhookFaults


def sim_transport(simulator: Simulator, **kwargs) -> SimulatorTransport:
    """An httpx transport that answers from `simulator` in process."""
    return SimulatorTransport(SimulatorHTTP(simulator, **kwargs))


__all__ = [
    "ApiError",
    "CallPlan",
    "Fault",
    "HttpFaults",
    "Ledger",
    "ManualClock",
    "Outcome",
    "RandomMix",
    "SimCall",
    "Simulator",
    "SimulatorConfig",
    "SimulatorHTTP",
    "SimulatorTransport",
    "SystemClock",
    "Timings",
    "WebhookFaults",
    "parse_mix",
    "sim_transport",
]
