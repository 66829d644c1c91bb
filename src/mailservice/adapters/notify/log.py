"""The log notifier: writes each notification to the log instead of sending it."""

from __future__ import annotations

import logging

from mailservice.domain.notification import Notification

log = logging.getLogger("mailservice.notify")


class LogNotifier:
    name = "log"

    async def send(self, notification: Notification) -> None:
        log.info(
            "notification kind=%s to=%s subject=%r\n%s",
            notification.kind,
            notification.recipient,
            notification.subject,
            notification.text,
        )
