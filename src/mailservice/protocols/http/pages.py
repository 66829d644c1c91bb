"""Server-rendered HTML pages (Jinja2, autoescaped)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

_pages = Environment(
    loader=PackageLoader("mailservice", "templates"), autoescape=select_autoescape(("html",))
)


def wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


def render_html(template: str, values: dict[str, Any]) -> str:
    return _pages.get_template(f"pages/{template}").render(**values)


def render_page(template: str, values: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    html = render_html(template, values)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def page_security_headers() -> dict[str, str]:
    """A strict policy for our own pages: no scripts, nothing from elsewhere, never framed."""
    return {
        "Content-Security-Policy": (
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
