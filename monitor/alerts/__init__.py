"""Alerts: the durable outbox, message rendering, delivery through apprise, digests.

Importing this package registers the credential-free ``console://`` and ``logfile://PATH``
apprise schemes used by the shipped config.
"""

from monitor.alerts import channels as channels  # registers console:// and logfile://
from monitor.alerts.admin import AlertRow, RetryResult, list_alerts, notify_test, retry_alerts
from monitor.alerts.digest import DigestStats, send_digests
from monitor.alerts.outbox import SendStats, claim, enqueue, send_pending
from monitor.alerts.render import AlertView, Rendered, build_view, render, render_message
from monitor.alerts.send import SendResult, send_message, send_rendered

__all__ = [
    "AlertRow",
    "AlertView",
    "DigestStats",
    "Rendered",
    "RetryResult",
    "SendResult",
    "SendStats",
    "build_view",
    "claim",
    "enqueue",
    "list_alerts",
    "notify_test",
    "render",
    "render_message",
    "retry_alerts",
    "send_digests",
    "send_message",
    "send_pending",
    "send_rendered",
]
