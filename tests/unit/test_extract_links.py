"""Links of a message: which are kept, how they are told apart, in which order they come."""

from __future__ import annotations

import pytest

from mailservice.adapters.extract import Link, extract_links


def kinds(text: str, html: str | None = None) -> dict[str, str]:
    return {link.url: link.kind for link in extract_links(text, html)}


@pytest.mark.parametrize(
    ("anchor", "href", "kind"),
    [
        ("Verify email address", "https://x.example/e/abc", "verify"),
        ("Confirm my account", "https://x.example/c", "verify"),
        ("Activate your account", "https://x.example/a", "verify"),
        ("E-Mail-Adresse bestätigen", "https://x.example/b", "verify"),
        ("Reset password", "https://x.example/r", "reset"),
        ("I forgot my password", "https://x.example/f", "reset"),
        ("Passwort zurücksetzen", "https://x.example/p", "reset"),
        ("Sign in to Acme", "https://x.example/auth?token=Zk3u9Qp2LmX8vT4rN6", "magic-link"),
        ("Use this magic link", "https://x.example/m", "magic-link"),
        ("Unsubscribe", "https://x.example/u", "unsubscribe"),
        ("Manage email preferences", "https://x.example/settings", "unsubscribe"),
        ("Se désabonner", "https://x.example/d", "unsubscribe"),
        ("Opt out", "https://x.example/o", "unsubscribe"),
        ("View your order", "https://x.example/orders/448812", "other"),
        ("Log in", "https://x.example/login", "other"),
    ],
)
def test_anchor_text_tells_the_kind(anchor: str, href: str, kind: str) -> None:
    assert kinds("", f'<p><a href="{href}">{anchor}</a></p>') == {href: kind}


@pytest.mark.parametrize(
    ("href", "kind"),
    [
        ("https://x.example/verify-email?token=abc123def456ghi789", "verify"),
        ("https://x.example/account/password/reset?token=1234567890abcdef", "reset"),
        ("https://x.example/login/link?t=Zk3u9Qp2LmX8vT4rN6wB", "magic-link"),
        ("https://x.example/email/unsubscribe?id=5521", "unsubscribe"),
        ("https://x.example/order-confirmation/123?token=abc123def456ghi789", "other"),
        ("https://help.x.example/articles/verification", "other"),
    ],
)
def test_address_tells_the_kind_when_the_text_does_not(href: str, kind: str) -> None:
    assert kinds("", f'<a href="{href}">Click here</a>') == {href: kind}


def test_surrounding_words_tell_the_kind_of_a_click_here_link() -> None:
    html = '<p>To stop receiving these emails, <a href="https://x.example/u/9">click here</a>.</p>'
    assert kinds("", html) == {"https://x.example/u/9": "unsubscribe"}


def test_bare_address_in_text_takes_the_line_above_as_its_text() -> None:
    text = "Please confirm your email address by opening this link:\n\nhttps://x.example/c?t=abc123def456ghi789\n"
    [link] = extract_links(text)
    assert link == Link(
        "https://x.example/c?t=abc123def456ghi789",
        "Please confirm your email address by opening this link:",
        "verify",
    )


def test_trailing_punctuation_and_wrappers_are_not_part_of_bare_addresses() -> None:
    text = (
        "See https://a.example/x. Or (https://b.example/y), <https://c.example/z>! "
        "Wiki: https://en.example.org/wiki/Foo_(bar)."
    )
    assert [link.url for link in extract_links(text)] == [
        "https://a.example/x",
        "https://b.example/y",
        "https://c.example/z",
        "https://en.example.org/wiki/Foo_(bar)",
    ]


def test_only_web_links_are_kept() -> None:
    html = (
        '<a href="mailto:help@x.example">Mail us</a> <a href="javascript:alert(1)">Run</a>'
        '<a href="#top">Top</a> <a href="/relative">Rel</a> <a href="ftp://x.example/f">FTP</a>'
        '<a href="HTTPS://X.EXAMPLE/Upper">Upper</a>'
    )
    assert [link.url for link in extract_links("", html)] == ["HTTPS://X.EXAMPLE/Upper"]


def test_entities_in_hrefs_are_decoded() -> None:
    html = '<a href="https://x.example/v?a=1&amp;b=2&#38;c=3">Verify</a>'
    assert [link.url for link in extract_links("", html)] == ["https://x.example/v?a=1&b=2&c=3"]


def test_tracking_pixels_and_image_only_links_are_ignored() -> None:
    html = (
        '<a href="https://x.example/"><img src="https://x.example/logo.png" alt="Acme"></a>'
        '<img src="https://t.x.example/open.gif" width="1" height="1">'
        '<a href="https://x.example/verify?token=abc123def456ghi789"><img src="button.png" alt="Verify"></a>'
    )
    assert kinds("", html) == {"https://x.example/verify?token=abc123def456ghi789": "verify"}


def test_hidden_links_are_ignored() -> None:
    html = '<div style="display:none"><a href="https://evil.example/x">Verify</a></div><p>Hi</p>'
    assert extract_links("", html) == []


def test_same_address_is_listed_once_with_the_most_telling_text() -> None:
    url = "https://x.example/verify?token=abc123def456ghi789"
    html = f'<p><a href="{url}">{url}</a></p><p><a href="{url}">Verify your email</a></p>'
    text = f"Verify: {url}"
    assert extract_links(text, html) == [Link(url, "Verify your email", "verify")]


def test_important_links_come_first_and_unsubscribe_last() -> None:
    html = (
        '<a href="https://x.example/u">Unsubscribe</a>'
        '<a href="https://x.example/blog">Blog</a>'
        '<a href="https://x.example/reset?token=1234567890abcdef">Reset password</a>'
        '<a href="https://x.example/help">Help</a>'
        '<a href="https://x.example/verify?token=abc123def456ghi789">Verify email</a>'
    )
    assert [(link.url.rsplit("/", 1)[1].split("?")[0], link.kind) for link in extract_links("", html)] == [
        ("reset", "reset"),
        ("verify", "verify"),
        ("blog", "other"),
        ("help", "other"),
        ("u", "unsubscribe"),
    ]


def test_html_text_from_the_mime_converter_gives_the_same_links() -> None:
    text = "Verify (https://x.example/v?t=abc123def456ghi789)\n\nUnsubscribe (https://x.example/u)"
    assert kinds(text) == {
        "https://x.example/v?t=abc123def456ghi789": "verify",
        "https://x.example/u": "unsubscribe",
    }


def test_no_links_in_empty_input() -> None:
    assert extract_links("") == []
    assert extract_links("", "") == []
