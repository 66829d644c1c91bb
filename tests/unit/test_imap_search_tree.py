"""SEARCH keys of any shape parse (without recursion) into a tree that selects what the keys mean."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mailservice.domain.mail_session import MessageMeta
from mailservice.protocols.imap.command_reader import CommandReader
from mailservice.protocols.imap.search_keys import parse_search
from mailservice.protocols.imap.search_match import Candidate, matches

MESSAGES = [
    MessageMeta(uid, 1, flags, datetime(2026, 2, 1, tzinfo=UTC), size)
    for uid, (flags, size) in enumerate(
        [
            (frozenset(), 100),
            (frozenset({"\\Seen"}), 2000),
            (frozenset({"\\Seen", "\\Flagged"}), 50),
            (frozenset({"\\Deleted"}), 5000),
        ],
        start=1,
    )
]
LEAVES: dict[str, Any] = {
    "ALL": lambda m: True,
    "SEEN": lambda m: "\\Seen" in m.flags,
    "UNSEEN": lambda m: "\\Seen" not in m.flags,
    "FLAGGED": lambda m: "\\Flagged" in m.flags,
    "DELETED": lambda m: "\\Deleted" in m.flags,
    "LARGER 1000": lambda m: m.size > 1000,
    "SMALLER 100": lambda m: m.size < 100,
}

Tree = Any
trees: st.SearchStrategy[Tree] = st.recursive(
    st.sampled_from(sorted(LEAVES)),
    lambda inner: st.one_of(
        st.tuples(st.just("NOT"), inner),
        st.tuples(st.just("OR"), inner, inner),
        st.tuples(st.just("AND"), st.lists(inner, min_size=1, max_size=4)),
    ),
    max_leaves=40,
)


def render(tree: Tree) -> str:
    if isinstance(tree, str):
        return tree
    if tree[0] == "NOT":
        return f"NOT {render(tree[1])}"
    if tree[0] == "OR":
        return f"OR {render(tree[1])} {render(tree[2])}"
    return "(" + " ".join(render(inner) for inner in tree[1]) + ")"


def meaning(tree: Tree, message: MessageMeta) -> bool:
    if isinstance(tree, str):
        return bool(LEAVES[tree](message))
    if tree[0] == "NOT":
        return not meaning(tree[1], message)
    if tree[0] == "OR":
        return meaning(tree[1], message) or meaning(tree[2], message)
    return all(meaning(inner, message) for inner in tree[1])


@given(st.lists(trees, min_size=1, max_size=3))
def test_parsed_keys_select_what_the_keys_mean(keys: list[Tree]) -> None:
    text = " ".join(render(tree) for tree in keys)

    parsed = parse_search(CommandReader(text.encode()), "UTF-8")

    for message in MESSAGES:
        candidate = Candidate(message.uid, message, len(MESSAGES), [m.uid for m in MESSAGES])
        assert matches(parsed, candidate) == all(meaning(tree, message) for tree in keys), text
