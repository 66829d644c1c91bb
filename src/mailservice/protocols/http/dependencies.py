"""FastAPI dependencies: the wired services and settings, taken from the application state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from mailservice.config import Settings
from mailservice.services.registry import Services


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


ServicesDep = Annotated[Services, Depends(_services)]
SettingsDep = Annotated[Settings, Depends(_settings)]
