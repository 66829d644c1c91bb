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


def render_page(template: str, values: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    html = _pages.get_template(f"pages/{template}").render(**values)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})
