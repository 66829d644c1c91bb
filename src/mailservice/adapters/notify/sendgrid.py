"""SendGrid: `POST {base}/v3/mail/send` (v3 Mail Send) with a Bearer key; success is 202."""

from __future__ import annotations

from mailservice.adapters.notify.http_api import post
from mailservice.domain.notification import Notification


class SendGridNotifier:
    name = "sendgrid"

    def __init__(self, api_key: str, base_url: str, from_email: str, from_name: str, timeout: float) -> None:
        self._api_key = api_key
        self._url = f"{base_url.rstrip('/')}/v3/mail/send"
        self._from = {"email": from_email, "name": from_name}
        self._timeout = timeout

    async def send(self, notification: Notification) -> None:
        await post(
            self.name,
            self._url,
            self._timeout,
            headers={"Authorization": f"Bearer {self._api_key}"},
            json={
                "personalizations": [{"to": [{"email": notification.recipient}]}],
                "from": self._from,
                "subject": notification.subject,
                # SendGrid requires text/plain first, then text/html.
                "content": [
                    {"type": "text/plain", "value": notification.text},
                    {"type": "text/html", "value": notification.html},
                ],
                **({"reply_to": {"email": notification.reply_to}} if notification.reply_to else {}),
            },
        )
