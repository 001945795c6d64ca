"""What every `secureforms` command starts with: settings, logging and the runtime."""

from __future__ import annotations

import logging.config
import sys
from typing import TYPE_CHECKING

from configs import ConfigError, Settings, load_settings
from configs.logging import logging_config

if TYPE_CHECKING:
    from core.runtime import Runtime


def settings_or_exit() -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        sys.exit(f"secureforms: configuration error: {exc}")
    logging.config.dictConfig(logging_config(settings.log_level))
    return settings


def runtime_or_exit(settings: Settings) -> Runtime:
    from core.runtime import Runtime
    from vault import KeyringError

    try:
        return Runtime.from_settings(settings)
    except KeyringError as exc:
        sys.exit(f"secureforms: {exc}")
