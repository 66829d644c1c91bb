"""Pages for people and documents for agents: landing page, agent guide, llms.txt, legal pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from mailservice.config import Settings
from mailservice.protocols.http.agent_guide import agent_guide, llms_txt
from mailservice.protocols.http.dependencies import SettingsDep
from mailservice.protocols.http.pages import page_security_headers, render_html

router = APIRouter(tags=["pages"], include_in_schema=False)

LEGAL_PAGES = {
    "terms": "Terms of service",
    "privacy": "Privacy",
    "refund-policy": "Refund policy",
    "contact": "Contact",
}


@router.get("/", response_class=HTMLResponse)
async def landing(settings: SettingsDep, if_none_match: Annotated[str | None, Header()] = None) -> Response:
    """Cached by build: a matching If-None-Match gets 304."""
    etag = f'"{settings.build_number}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if if_none_match is not None and etag in (tag.strip() for tag in if_none_match.split(",")):
        return Response(status_code=304, headers=headers)
    html = render_html("landing.html", _landing_values(settings))
    return HTMLResponse(html, headers={**headers, **page_security_headers()})


@router.get("/docs/agent-api-skill.md", response_class=PlainTextResponse)
async def agent_skill(settings: SettingsDep) -> PlainTextResponse:
    return _markdown(agent_guide(settings.public_base_url))


@router.get("/llms.txt", response_class=PlainTextResponse)
async def llms(settings: SettingsDep) -> PlainTextResponse:
    return _markdown(llms_txt(settings.public_base_url), media_type="text/plain")


def _legal_route(page: str) -> None:
    async def legal(settings: SettingsDep) -> HTMLResponse:
        values = {
            "page": page,
            "heading": LEGAL_PAGES[page],
            "support_email": settings.support_email,
            "retention_days": settings.retention_days,
        }
        return HTMLResponse(
            render_html("legal.html", values),
            headers={"Cache-Control": "public, max-age=3600", **page_security_headers()},
        )

    router.add_api_route(f"/{page}", legal, methods=["GET"], response_class=HTMLResponse, name=page)


for _page in LEGAL_PAGES:
    _legal_route(_page)


def _landing_values(settings: Settings) -> dict[str, object]:
    price = settings.mailbox_price_cents
    return {
        "build_number": settings.build_number,
        "cache_buster": settings.landing_cache_token,
        "base_url": settings.public_base_url,
        "price": f"{price // 100}.{price % 100:02d}",
        "currency": settings.stripe_currency.upper(),
        "quota": f"{settings.mailbox_quota_bytes // 1_000_000} MB",
    }


def _markdown(text: str, media_type: str = "text/markdown") -> PlainTextResponse:
    return PlainTextResponse(
        text, media_type=f"{media_type}; charset=utf-8", headers={"Cache-Control": "no-cache"}
    )
