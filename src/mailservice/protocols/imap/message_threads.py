"""The two THREAD algorithms of RFC 5256: ORDEREDSUBJECT (section 3) and REFERENCES (section 4), and
the parenthesized answer of `* THREAD`.

Both take the matching messages in sequence order; ties in sent date fall back to that order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby

from mailservice.mime.sort_keys import base_subject, comparable, is_reply_or_forward


@dataclass(frozen=True)
class ThreadMessage:
    """`number` is what the answer names it by (sequence number or uid); `position` its place in
    sequence order, the last tie-breaker."""

    number: int
    position: int
    sent: datetime
    subject: str
    message_id: str | None
    references: tuple[str, ...]


@dataclass(eq=False)
class Node:
    """A message in a thread tree, or a dummy (`message` None) standing for a message not in the
    result that others refer to."""

    message: ThreadMessage | None = None
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)

    def adopt(self, child: Node) -> None:
        if child.parent is not None:
            child.parent.children.remove(child)
        child.parent = self
        self.children.append(child)

    def has_ancestor(self, other: Node) -> bool:
        node: Node | None = self
        while node is not None:
            if node is other:
                return True
            node = node.parent
        return False

    def first_message(self) -> ThreadMessage | None:
        """The message itself, or for a dummy its first child's."""
        node = self
        while node.message is None and node.children:
            node = node.children[0]
        return node.message


_MESSAGE_ID = re.compile(r"<([^<>\s@]+@[^<>\s]+)>")


def message_ids(value: str) -> list[str]:
    """The valid `<local@domain>` ids of a Message-ID, References or In-Reply-To value."""
    return _MESSAGE_ID.findall(value)


def ordered_subject(messages: list[ThreadMessage]) -> list[Node]:
    """Messages of one base subject form a thread: the earliest is the parent of all the others."""
    subjects = {message.position: _subject_key(message) for message in messages}
    ordered = sorted(messages, key=lambda message: (subjects[message.position], _date_key(message)))
    threads = []
    for _, group in groupby(ordered, key=lambda message: subjects[message.position]):
        first, *rest = group
        root = Node(first)
        for message in rest:
            root.adopt(Node(message))
        threads.append(root)
    threads.sort(key=_node_date_key)
    return threads


def references(messages: list[ThreadMessage]) -> list[Node]:
    """RFC 5256 section 4: trees by Message-ID and References, then roots gathered by base subject."""
    nodes = _linked(messages)
    roots = _pruned([node for node in nodes if node.parent is None])
    _sort_siblings(roots)
    roots = _gathered_by_subject(roots)
    _sort_siblings(roots)
    return roots


def _linked(messages: list[ThreadMessage]) -> list[Node]:
    """Step 1: a node per id; each message's references linked in order, the message under the last."""
    by_id: dict[str, Node] = {}
    nodes: list[Node] = []
    for message in messages:
        node = by_id.get(message.message_id) if message.message_id is not None else None
        if node is None or node.message is not None:
            node = Node()  # no id, or one already taken: the message gets a unique one
            if message.message_id is not None and message.message_id not in by_id:
                by_id[message.message_id] = node
        node.message = message
        nodes.append(node)
        previous: Node | None = None
        for reference in message.references:
            current = by_id.setdefault(reference, Node())
            if previous is not None and current.parent is None and not previous.has_ancestor(current):
                previous.adopt(current)
            previous = current
        if node.parent is not None:
            node.parent.children.remove(node)
            node.parent = None
        if previous is not None and not previous.has_ancestor(node):
            previous.adopt(node)
    nodes.extend(node for node in by_id.values() if node.message is None)
    return nodes


def _pruned(roots: list[Node]) -> list[Node]:
    """Step 3, deepest first and without recursion (threads can be long)."""
    for node in reversed(_descendants(roots)):
        node.children = _promoted(node.children, node)
    return _promoted(roots, None)


def _promoted(children: list[Node], parent: Node | None) -> list[Node]:
    """Dummies without children go; a dummy's children take its place, except that a dummy at the
    root (`parent` None) with several children stays."""
    kept: list[Node] = []
    for child in children:
        if child.message is not None or (parent is None and len(child.children) > 1):
            kept.append(child)
        else:
            kept.extend(child.children)
    for child in kept:
        child.parent = parent
    return kept


def _descendants(roots: list[Node]) -> list[Node]:
    """Every node under the roots (roots included), each before its children."""
    found: list[Node] = []
    waiting = list(roots)
    while waiting:
        node = waiting.pop()
        found.append(node)
        waiting.extend(node.children)
    return found


def _gathered_by_subject(roots: list[Node]) -> list[Node]:
    """Step 5: roots with the same base subject joined (a reply under the original, else under a
    new dummy)."""
    table: dict[str, Node] = {}
    for root in roots:
        subject = _root_subject(root)
        if not subject:
            continue
        known = table.get(subject)
        if known is None or _preferred(root, known):
            table[subject] = root
    gathered = list(roots)
    for root in roots:
        subject = _root_subject(root)
        known = table.get(subject) if subject else None
        if known is None or known is root:
            continue
        gathered.remove(root)
        if known.message is None and root.message is None:
            for child in list(root.children):
                known.adopt(child)
        elif known.message is None or (root.message is not None and _is_reply(root) and not _is_reply(known)):
            known.adopt(root)
        elif root.message is None:
            root.adopt(known)  # not reached: the table prefers dummies
            gathered[gathered.index(known)] = root
            table[subject] = root
        else:
            dummy = Node()
            gathered[gathered.index(known)] = dummy
            dummy.adopt(known)
            dummy.adopt(root)
            table[subject] = dummy
    for root in gathered:
        root.parent = None
    return gathered


def _preferred(root: Node, known: Node) -> bool:
    """Whether `root` stands for its subject rather than `known`: a dummy over a message, an original
    over a reply or forward."""
    if known.message is None:
        return False
    return root.message is None or (_is_reply(known) and not _is_reply(root))


def _root_subject(root: Node) -> str:
    message = root.first_message()
    return comparable(base_subject(message.subject)) if message is not None else ""


def _is_reply(node: Node) -> bool:
    return node.message is not None and is_reply_or_forward(node.message.subject)


def _sort_siblings(roots: list[Node]) -> None:
    """Steps 4 and 6: every set of siblings by sent date, the deepest first, the roots last."""
    for node in reversed(_descendants(roots)):
        node.children.sort(key=_node_date_key)
    roots.sort(key=_node_date_key)


def _subject_key(message: ThreadMessage) -> str:
    return comparable(base_subject(message.subject))


def _date_key(message: ThreadMessage) -> tuple[datetime, int]:
    return message.sent, message.position


def _node_date_key(node: Node) -> tuple[datetime, int]:
    message = node.first_message()
    assert message is not None  # pruning leaves no empty dummy
    return _date_key(message)


def thread_text(threads: list[Node]) -> str:
    """The answer after `* THREAD`: `(1 2 (3)(4 5))`, a dummy root as `((3)(5))`."""
    pieces: list[str] = []
    for root in threads:
        pieces.append("(")
        waiting: list[Node | str] = [")", root]
        while waiting:
            item = waiting.pop()
            if isinstance(item, str):
                pieces.append(item)
            else:
                waiting.extend(reversed(_chain_items(item)))
    return "".join(pieces)


def _chain_items(node: Node) -> list[Node | str]:
    """What a node writes: its number, then its one child inline or each child in parentheses."""
    items: list[Node | str] = []
    if node.message is not None:
        items.append(str(node.message.number))
        if not node.children:
            return items
        items.append(" ")
        if len(node.children) == 1:
            items.append(node.children[0])
            return items
    for child in node.children:
        items.extend(("(", child, ")"))
    return items
