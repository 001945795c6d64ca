"""Typed settings for every process, built once from `configs/<env>.toml` and `SECUREFORMS_*`."""

from __future__ import annotations

from configs.settings import ConfigError, Settings, load_settings

__all__ = ["ConfigError", "Settings", "load_settings"]
