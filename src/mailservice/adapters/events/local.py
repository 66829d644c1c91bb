"""Fan-out of events to the subscribers of this process."""

from __future__ import annotations

from collections.abc import Sequence

from mailservice.adapters.events.subscription import QueueSubscription
from mailservice.domain.messages import MailboxEvent, Resync
from mailservice.ports import EventWatcher


class LocalFanout:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[QueueSubscription]] = {}
        self._watchers: list[EventWatcher] = []

    def watch(self, watcher: EventWatcher) -> None:
        self._watchers.append(watcher)

    def subscribe(self, mailbox_id: str) -> QueueSubscription:
        subscription = QueueSubscription(mailbox_id, self._forget)
        self._subscribers.setdefault(mailbox_id, set()).add(subscription)
        return subscription

    def subscriber_count(self) -> int:
        return sum(len(subscribers) for subscribers in self._subscribers.values())

    def dispatch(self, event: MailboxEvent) -> None:
        for watcher in self._watchers:
            watcher.heard(event)
        for subscription in tuple(self._subscribers.get(event.mailbox_id, ())):
            subscription.offer(event)

    def resync(self) -> None:
        """Events may have been missed: every subscriber of this process looks in the store again."""
        for watcher in self._watchers:
            watcher.missed()
        for subscriptions in tuple(self._subscribers.values()):
            for subscription in tuple(subscriptions):
                subscription.offer(Resync(subscription.mailbox_id))

    def _forget(self, subscription: QueueSubscription) -> None:
        subscribers = self._subscribers.get(subscription.mailbox_id)
        if subscribers is None:
            return
        subscribers.discard(subscription)
        if not subscribers:
            del self._subscribers[subscription.mailbox_id]


class InProcessEventBus:
    """For a single node: events never leave the process."""

    def __init__(self) -> None:
        self._fanout = LocalFanout()

    async def publish(self, events: Sequence[MailboxEvent]) -> None:
        for event in events:
            self._fanout.dispatch(event)

    def subscribe(self, mailbox_id: str) -> QueueSubscription:
        return self._fanout.subscribe(mailbox_id)

    def subscriber_count(self) -> int:
        """Open subscriptions in this process (waiting requests, event streams)."""
        return self._fanout.subscriber_count()

    def watch(self, watcher: EventWatcher) -> None:
        self._fanout.watch(watcher)

    def listening(self) -> bool:
        return True

    def resync(self) -> None:
        """Every subscriber looks in the store again. Nothing is lost within one process, so only a change
        made behind the service's back (a test's, for one) needs it."""
        self._fanout.resync()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None
