"""Alerts: the durable outbox, message rendering, and delivery through apprise.

Importing this package registers the credential-free ``console://`` and ``logfile://PATH``
apprise schemes used by the shipped config.
"""

from monitor.alerts import channels as channels  # registers console:// and logfile://
from monitor.alerts.outbox import SendStats, claim, enqueue, send_pending
from monitor.alerts.render import AlertView, build_view, render
from monitor.alerts.send import SendResult, send_message

__all__ = [
    "AlertView",
    "SendResult",
    "SendStats",
    "build_view",
    "claim",
    "enqueue",
    "render",
    "send_message",
    "send_pending",
]
