"""A stand-in for both APIs the bot talks to (cvety.kz API v2 and the shop's CRM), serving the
contract on 127.0.0.1 over a seeded demo flower shop in Almaty, with fault injection for tests.

Stdlib + aiohttp (+ pydantic for the CRM's request validation); nothing from the bot.
"""

from sandbox.app import RecordedRequest, Sandbox, create_app, main_serve, start_sandbox
from sandbox.faults import Fault, Faults
from sandbox.state import SandboxState

__all__ = [
    "Fault",
    "Faults",
    "RecordedRequest",
    "Sandbox",
    "SandboxState",
    "create_app",
    "main_serve",
    "start_sandbox",
]
