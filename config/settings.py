"""Settings: every variable of the design's configuration table, typed and validated.

Nothing else in supportbot reads ``os.environ``: callers pass a mapping (tests pass a dict),
``load_settings`` merges a ``.env`` file under it, and a bad value raises ``SettingsError``
naming the variable. Secrets are ``SecretStr`` so they never show in ``repr`` or logs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

DEFAULT_LLM_MODEL = "claude-sonnet-5-5"
DEFAULT_EMBED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_DISCLOSURE = (
    "This reply was written automatically. If it does not help, reply \"human\" and a person"
    " will take over."
)
_WEBHOOK_VAR = re.compile(r"^SUPPORTBOT_WEBHOOK_([A-Z0-9_]+?)_(SECRET|CALLBACK_URL)$")
_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class SettingsError(ValueError):
    """A configuration value is missing or invalid; the message names the variable."""


class WebhookSource(BaseModel):
    """One webhook source: the shared secret and where replies are posted back."""

    model_config = ConfigDict(frozen=True)

    name: str
    secret: SecretStr
    callback_url: str | None = None


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseModel):
    """The whole configuration of one supportbot process. Field aliases are the env names."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    data_dir: Path = Field(Path("./data"), alias="SUPPORTBOT_DATA_DIR")
    database_url: SecretStr | None = Field(None, alias="DATABASE_URL")
    qdrant_url: str | None = Field(None, alias="QDRANT_URL")
    qdrant_api_key: SecretStr | None = Field(None, alias="QDRANT_API_KEY")
    kb_dir: Path = Field(Path("knowledge/samples"), alias="SUPPORTBOT_KB_DIR")
    embed_model: str = Field(DEFAULT_EMBED_MODEL, alias="SUPPORTBOT_EMBED_MODEL")
    embed_model_path: Path | None = Field(None, alias="SUPPORTBOT_EMBED_MODEL_PATH")
    sparse_model_path: Path | None = Field(None, alias="SUPPORTBOT_SPARSE_MODEL_PATH")

    anthropic_api_key: SecretStr | None = Field(None, alias="ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = Field(None, alias="ANTHROPIC_BASE_URL")
    llm_model: str = Field(DEFAULT_LLM_MODEL, alias="SUPPORTBOT_LLM_MODEL")
    llm_max_attempts: int = Field(4, ge=1, le=10, alias="SUPPORTBOT_LLM_MAX_ATTEMPTS")
    llm_timeout_seconds: float = Field(60.0, gt=0, alias="SUPPORTBOT_LLM_TIMEOUT")
    # Output budget of a draft, and the larger one asked for once when a reply is cut there.
    llm_max_tokens: int = Field(1024, ge=64, le=64000, alias="SUPPORTBOT_LLM_MAX_TOKENS")
    llm_retry_max_tokens: int = Field(4096, ge=64, le=64000,
                                      alias="SUPPORTBOT_LLM_RETRY_MAX_TOKENS")
    brand_name: str = Field("Acme Cloud", alias="SUPPORTBOT_BRAND_NAME")

    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL")
    approval_channel: str | None = Field(None, alias="SUPPORTBOT_APPROVAL_CHANNEL")
    support_channels: list[str] = Field(default_factory=list, alias="SUPPORTBOT_SUPPORT_CHANNELS")
    approvers: list[str] = Field(default_factory=list, alias="SUPPORTBOT_APPROVERS")
    admins: list[str] = Field(default_factory=list, alias="SUPPORTBOT_ADMINS")
    ignore_other_bots: bool = Field(True, alias="SUPPORTBOT_IGNORE_BOTS")

    imap_host: str | None = Field(None, alias="IMAP_HOST")
    imap_port: int = Field(993, ge=1, le=65535, alias="IMAP_PORT")
    imap_user: str | None = Field(None, alias="IMAP_USER")
    imap_password: SecretStr | None = Field(None, alias="IMAP_PASSWORD")
    imap_ssl: bool = Field(True, alias="IMAP_SSL")
    imap_folder: str = Field("INBOX", alias="IMAP_FOLDER")
    imap_starttls: bool | None = Field(None, alias="IMAP_STARTTLS")
    imap_processed_folder: str | None = Field(None, alias="IMAP_PROCESSED_FOLDER")
    imap_poll_seconds: float = Field(60.0, gt=0, alias="IMAP_POLL_SECONDS")

    smtp_host: str | None = Field(None, alias="SMTP_HOST")
    smtp_port: int = Field(587, ge=1, le=65535, alias="SMTP_PORT")
    smtp_user: str | None = Field(None, alias="SMTP_USER")
    smtp_password: SecretStr | None = Field(None, alias="SMTP_PASSWORD")
    smtp_starttls: bool = Field(True, alias="SMTP_STARTTLS")
    smtp_ssl: bool = Field(False, alias="SMTP_SSL")
    smtp_listen: str | None = Field(None, alias="SUPPORTBOT_SMTP_LISTEN")
    mail_domains: list[str] = Field(default_factory=list, alias="SUPPORTBOT_MAIL_DOMAINS")
    support_address: str | None = Field(None, alias="SUPPORTBOT_SUPPORT_ADDRESS")
    mail_max_bytes: int = Field(25 * 1024 * 1024, gt=0, alias="SUPPORTBOT_MAIL_MAX_BYTES")
    smtp_listen_tls_cert: Path | None = Field(None, alias="SUPPORTBOT_SMTP_TLS_CERT")
    smtp_listen_tls_key: Path | None = Field(None, alias="SUPPORTBOT_SMTP_TLS_KEY")
    smtp_listen_user: str | None = Field(None, alias="SUPPORTBOT_SMTP_AUTH_USER")
    smtp_listen_password: SecretStr | None = Field(None, alias="SUPPORTBOT_SMTP_AUTH_PASSWORD")
    auto_reply_cap_per_conversation: int = Field(3, ge=0, alias="SUPPORTBOT_AUTO_REPLY_CAP")
    auto_reply_cap_per_sender_daily: int = Field(10, ge=0, alias="SUPPORTBOT_AUTO_REPLY_SENDER_CAP")
    # Safe by default (issue 12): what an automatic reply says about itself, the burst window
    # in which one conversation's messages become one draft, and per-sender / per-source
    # rates above which messages are stored and handed to humans without drafting (0 = off).
    auto_disclosure: str | None = Field(DEFAULT_DISCLOSURE, alias="SUPPORTBOT_AUTO_DISCLOSURE")
    coalesce_seconds: float | None = Field(None, ge=0, le=600,
                                           alias="SUPPORTBOT_COALESCE_SECONDS")
    sender_limit_per_hour: int = Field(30, ge=0, alias="SUPPORTBOT_SENDER_LIMIT_PER_HOUR")
    source_limit_per_minute: int = Field(0, ge=0, alias="SUPPORTBOT_SOURCE_LIMIT_PER_MINUTE")

    webhooks: dict[str, WebhookSource] = Field(default_factory=dict)
    webhook_max_body_bytes: int = Field(256 * 1024, gt=0, alias="SUPPORTBOT_WEBHOOK_MAX_BODY")
    webhook_replay_window_seconds: int = Field(300, gt=0, alias="SUPPORTBOT_WEBHOOK_REPLAY_WINDOW")
    demo: bool | None = Field(None, alias="SUPPORTBOT_DEMO")

    auto_send_threshold: float | None = Field(None, alias="SUPPORTBOT_AUTO_SEND_THRESHOLD")
    # Confidence below which a draft goes to a human (the answer benchmark's trade-off between
    # out-of-scope questions to humans and answerable ones not: tests/benchmarks/
    # fit_confidence.py prints it per threshold).
    human_threshold: float = Field(0.4, ge=0, le=1, alias="SUPPORTBOT_HUMAN_THRESHOLD")
    earn_min_approvals: int = Field(5, ge=0, alias="SUPPORTBOT_EARN_MIN_APPROVALS")
    earn_min_rate: float = Field(0.9, ge=0, le=1, alias="SUPPORTBOT_EARN_MIN_RATE")
    earn_window: int = Field(30, ge=1, alias="SUPPORTBOT_EARN_WINDOW")
    topic_cosine: float = Field(0.8, ge=0, le=1, alias="SUPPORTBOT_TOPIC_COSINE")
    # What the drafter is given: the sections of the top articles' hits, up to this many
    # tokens in all (about 4 characters a token), from this many articles.
    context_tokens: int = Field(2400, ge=200, le=50_000, alias="SUPPORTBOT_CONTEXT_TOKENS")
    context_articles: int = Field(3, ge=1, le=10, alias="SUPPORTBOT_CONTEXT_ARTICLES")
    outbox_max_attempts: int = Field(8, ge=1, le=50, alias="SUPPORTBOT_OUTBOX_MAX_ATTEMPTS")
    outbox_backoff_seconds: float = Field(2.0, gt=0, alias="SUPPORTBOT_OUTBOX_BACKOFF")
    lease_seconds: float = Field(120.0, gt=0, alias="SUPPORTBOT_LEASE_SECONDS")
    inbox_max_attempts: int = Field(5, ge=1, le=50, alias="SUPPORTBOT_INBOX_MAX_ATTEMPTS")
    worker_concurrency: int = Field(8, ge=1, le=64, alias="SUPPORTBOT_WORKER_CONCURRENCY")

    reminder_minutes: float = Field(30.0, gt=0, alias="SUPPORTBOT_REMINDER_MINUTES")
    digest_hour_utc: int | None = Field(9, ge=0, le=23, alias="SUPPORTBOT_DIGEST_HOUR")
    kb_sync_minutes: float = Field(10.0, gt=0, alias="SUPPORTBOT_KB_SYNC_MINUTES")
    refit_hours: float = Field(24.0, gt=0, alias="SUPPORTBOT_REFIT_HOURS")
    retention_days: int | None = Field(None, ge=1, alias="SUPPORTBOT_RETENTION_DAYS")
    scheduler_enabled: bool = Field(True, alias="SUPPORTBOT_SCHEDULER")

    web_host: str = Field("127.0.0.1", alias="SUPPORTBOT_WEB_HOST")
    web_port: int = Field(8000, ge=1, le=65535, alias="PORT")
    log_level: str = Field("INFO", alias="SUPPORTBOT_LOG_LEVEL")

    # --- mail a team can depend on (issue 16) ---------------------------------------------
    # Where a mailbox seen for the first time starts: "new" (only mail arriving from now on),
    # "unseen" (unseen mail of the last IMAP_START_DAYS days), "all" (everything, read or not).
    imap_start: str = Field("new", alias="IMAP_START")
    imap_start_days: int = Field(7, ge=0, le=3650, alias="IMAP_START_DAYS")
    imap_keepalive_seconds: float = Field(240.0, gt=0, alias="IMAP_KEEPALIVE_SECONDS")
    imap_timeout_seconds: float = Field(30.0, gt=0, alias="IMAP_TIMEOUT_SECONDS")
    imap_ca_file: Path | None = Field(None, alias="IMAP_CA_FILE")
    imap_client_cert: Path | None = Field(None, alias="IMAP_CLIENT_CERT")
    imap_client_key: Path | None = Field(None, alias="IMAP_CLIENT_KEY")
    smtp_ca_file: Path | None = Field(None, alias="SMTP_CA_FILE")
    smtp_client_cert: Path | None = Field(None, alias="SMTP_CLIENT_CERT")
    smtp_client_key: Path | None = Field(None, alias="SMTP_CLIENT_KEY")
    own_addresses: list[str] = Field(default_factory=list, alias="SUPPORTBOT_OWN_ADDRESSES")
    mail_text_max_chars: int = Field(20_000, ge=500, alias="SUPPORTBOT_MAIL_TEXT_MAX_CHARS")
    mail_cc_participants: bool = Field(True, alias="SUPPORTBOT_MAIL_CC_PARTICIPANTS")
    # Copy replies to this IMAP folder and flag the answered mail \Answered (off when unset:
    # providers such as Gmail already keep what their SMTP relay sent).
    imap_sent_folder: str | None = Field(None, alias="IMAP_SENT_FOLDER")
    # OAuth2 (XOAUTH2) for IMAP and SMTP: an access token from this refresh token.
    mail_oauth2_token_url: str | None = Field(None, alias="SUPPORTBOT_MAIL_OAUTH2_TOKEN_URL")
    mail_oauth2_client_id: str | None = Field(None, alias="SUPPORTBOT_MAIL_OAUTH2_CLIENT_ID")
    mail_oauth2_client_secret: SecretStr | None = Field(
        None, alias="SUPPORTBOT_MAIL_OAUTH2_CLIENT_SECRET")
    mail_oauth2_refresh_token: SecretStr | None = Field(
        None, alias="SUPPORTBOT_MAIL_OAUTH2_REFRESH_TOKEN")
    # authserv-ids whose Authentication-Results we trust; set, unauthenticated mail is reviewed.
    mail_authserv_ids: list[str] = Field(default_factory=list,
                                         alias="SUPPORTBOT_MAIL_AUTHSERV_IDS")

    @field_validator("imap_start", mode="before")
    @classmethod
    def _imap_start(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() not in {"new", "unseen", "all"}:
            raise ValueError("must be new, unseen or all")
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("own_addresses", "mail_authserv_ids", mode="before")
    @classmethod
    def _own_addresses(cls, value: Any) -> Any:
        value = _split_csv(value)
        return [a.lower() for a in value] if isinstance(value, list) else value
    # --- end of issue 16 block --------------------------------------------------------------

    @field_validator("support_channels", "approvers", "admins", "mail_domains", mode="before")
    @classmethod
    def _csv(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("mail_domains")
    @classmethod
    def _lower_domains(cls, value: list[str]) -> list[str]:
        return [d.lower() for d in value]

    @field_validator("digest_hour_utc", "retention_days", "coalesce_seconds", mode="before")
    @classmethod
    def _off_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in {"off", "none"}:
            return None
        return value

    @field_validator("auto_disclosure", mode="before")
    @classmethod
    def _disclosure(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in {"off", "none", ""}:
            return None
        return value

    @field_validator("auto_send_threshold", mode="before")
    @classmethod
    def _threshold(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in {"off", "none", ""}:
            return None
        return value

    @field_validator("auto_send_threshold")
    @classmethod
    def _threshold_range(cls, value: float | None) -> float | None:
        if value is not None and not 0.0 <= value <= 1.0:
            raise ValueError("must be between 0 and 1, or 'off'")
        return value

    @field_validator("smtp_listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("must be host:port, e.g. 0.0.0.0:2525")
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    # --- derived values -------------------------------------------------------------------

    @property
    def embedded(self) -> bool:
        """True on the embedded defaults: SQLite and Qdrant Edge under the data dir."""
        return self.database_url is None

    @property
    def db_url(self) -> str:
        """The Tortoise connection URL; SQLite in the data dir unless DATABASE_URL is set."""
        if self.database_url is not None:
            url = self.database_url.get_secret_value()
            # Heroku-style URLs say postgresql://; Tortoise knows postgres://.
            return re.sub(r"^postgresql(\+\w+)?://", "postgres://", url)
        return f"sqlite://{(self.data_dir / 'supportbot.sqlite3').as_posix()}"

    @property
    def qdrant_path(self) -> Path:
        """Where Qdrant local mode kept its files before Qdrant Edge (imported once, then
        renamed)."""
        return self.data_dir / "qdrant"

    @property
    def edge_path(self) -> Path:
        """Where the embedded Qdrant Edge shards live (one directory per collection)."""
        return self.data_dir / "edge"

    @property
    def demo_enabled(self) -> bool:
        """The `demo` webhook source: on by default on the embedded setup only."""
        return self.embedded if self.demo is None else self.demo

    @property
    def slack_enabled(self) -> bool:
        """Slack is on when a bot token is set (and a signing secret or an app token)."""
        return self.slack_bot_token is not None and (
            self.slack_signing_secret is not None or self.slack_app_token is not None
        )

    @property
    def imap_enabled(self) -> bool:
        return bool(self.imap_host and self.imap_user)

    @property
    def smtp_send_enabled(self) -> bool:
        return bool(self.smtp_host and self.support_address)

    @property
    def smtp_listen_address(self) -> tuple[str, int] | None:
        if not self.smtp_listen:
            return None
        host, _, port = self.smtp_listen.rpartition(":")
        return host, int(port)

    def webhook_source(self, name: str) -> WebhookSource | None:
        """The configured webhook source of that name, if any."""
        return self.webhooks.get(name)


def _collect_webhooks(env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    sources: dict[str, dict[str, str]] = {}
    for key, value in env.items():
        match = _WEBHOOK_VAR.match(key)
        if not match:
            continue
        name = match.group(1).lower()
        field = "secret" if match.group(2) == "SECRET" else "callback_url"
        sources.setdefault(name, {"name": name})[field] = value
    for name, source in sources.items():
        if not _SOURCE_NAME.match(name):
            raise SettingsError(f"SUPPORTBOT_WEBHOOK_{name.upper()}_*: bad source name {name!r}")
        if "secret" not in source or not source["secret"]:
            raise SettingsError(
                f"SUPPORTBOT_WEBHOOK_{name.upper()}_SECRET is required when the "
                f"{name!r} webhook source is configured"
            )
    return sources


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    env_file: str | os.PathLike[str] | None = ".env",
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read settings from ``environ`` (default: the process environment) over a `.env` file.

    Raises ``SettingsError`` naming the variable when a value is invalid.
    """
    env: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        env.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    env.update(os.environ if environ is None else environ)
    data: dict[str, Any] = {k: v for k, v in env.items() if v != ""}
    data["webhooks"] = _collect_webhooks(data)
    if overrides:
        data.update(overrides)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = error["loc"][0] if error["loc"] else "?"
            field = Settings.model_fields.get(str(loc))
            name = field.alias if field is not None and field.alias else str(loc)
            problems.append(f"{name}: {error['msg']}")
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from None
