"""Every e-mail template escapes every value in its HTML body, whatever the template and the value."""

from __future__ import annotations

from importlib import resources

import pytest
from jinja2 import meta

from mailservice.services.notifications import _templates, compose

HOSTILE = '"><script>alert(1)</script>&'
EMAIL_DIR = resources.files("mailservice") / "templates" / "email"
KINDS = sorted(
    {entry.name.rsplit(".", 1)[0] for entry in EMAIL_DIR.iterdir() if entry.name.endswith(".html")}
)


def template_values(kind: str) -> set[str]:
    names: set[str] = set()
    for suffix in ("txt", "html"):
        source = (EMAIL_DIR / f"{kind}.{suffix}").read_text(encoding="utf-8")
        names |= meta.find_undeclared_variables(_templates.parse(source))
    return names


def test_the_renewal_templates_are_among_those_checked() -> None:
    assert {"payment_link", "renewal_link", "renewal_reminder", "mailbox_expired"} <= set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_every_value_of_every_html_template_is_escaped(kind: str) -> None:
    values = {name: HOSTILE for name in template_values(kind)}
    assert values, f"{kind} has no values"

    note = compose(kind, "p@example.com", "subject", None, **values)

    assert "<script>" not in note.html
    assert note.html.count("&lt;script&gt;alert(1)&lt;/script&gt;&amp;") == note.html.count("alert(1)")
    assert HOSTILE in note.text
