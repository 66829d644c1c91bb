"""Resend: `POST {base}/emails` with a Bearer key and a JSON body."""

from __future__ import annotations

from mailservice.adapters.notify.http_api import post, sender
from mailservice.domain.notification import Notification


class ResendNotifier:
    name = "resend"

    def __init__(self, api_key: str, base_url: str, from_email: str, from_name: str, timeout: float) -> None:
        self._api_key = api_key
        self._url = f"{base_url.rstrip('/')}/emails"
        self._from = sender(from_name, from_email)
        self._timeout = timeout

    async def send(self, notification: Notification) -> None:
        await post(
            self.name,
            self._url,
            self._timeout,
            headers={"Authorization": f"Bearer {self._api_key}"},
            json={
                "from": self._from,
                "to": [notification.recipient],
                "subject": notification.subject,
                "text": notification.text,
                "html": notification.html,
                **({"reply_to": notification.reply_to} if notification.reply_to else {}),
            },
        )
