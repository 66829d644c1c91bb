"""Mailgun: `POST {base}/v3/{domain}/messages`, HTTP basic auth `api:<key>`, form fields."""

from __future__ import annotations

from urllib.parse import quote

from mailservice.adapters.notify.http_api import post, sender
from mailservice.domain.notification import Notification


class MailgunNotifier:
    name = "mailgun"

    def __init__(
        self, api_key: str, domain: str, base_url: str, from_email: str, from_name: str, timeout: float
    ) -> None:
        self._auth = ("api", api_key)
        self._url = f"{base_url.rstrip('/')}/v3/{quote(domain, safe='')}/messages"
        self._from = sender(from_name, from_email)
        self._timeout = timeout

    async def send(self, notification: Notification) -> None:
        await post(
            self.name,
            self._url,
            self._timeout,
            auth=self._auth,
            data={
                "from": self._from,
                "to": notification.recipient,
                "subject": notification.subject,
                "text": notification.text,
                "html": notification.html,
                **({"h:Reply-To": notification.reply_to} if notification.reply_to else {}),
            },
        )
