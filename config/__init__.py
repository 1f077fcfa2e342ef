"""Typed settings for supportbot, read once from an environment mapping (and `.env`)."""

from config.settings import Settings, SettingsError, WebhookSource, load_settings

__all__ = ["Settings", "SettingsError", "WebhookSource", "load_settings"]
