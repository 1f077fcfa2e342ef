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

    data_dir: Path = Field(
        Path("./data"), alias="SUPPORTBOT_DATA_DIR",
        description=(
            "Where the embedded SQLite database and the Qdrant Edge shards keep their files."
        ),
    )
    database_url: SecretStr | None = Field(
        None, alias="DATABASE_URL",
        description=(
            "Tortoise URL of the database (`sqlite://…`, `postgres://…`); unset means SQLite "
            "in the data dir."
        ),
    )
    qdrant_url: str | None = Field(
        None, alias="QDRANT_URL",
        description=(
            "Qdrant server or cluster URL; unset means Qdrant Edge (in-process) in the data dir."
        ),
    )
    qdrant_api_key: SecretStr | None = Field(
        None, alias="QDRANT_API_KEY",
        description="API key of the Qdrant server.",
    )
    kb_dir: Path = Field(
        Path("knowledge/samples"), alias="SUPPORTBOT_KB_DIR",
        description="Knowledge folder (Markdown, text, HTML) ingested by `run` and the sync job.",
    )
    embed_model: str = Field(
        DEFAULT_EMBED_MODEL, alias="SUPPORTBOT_EMBED_MODEL",
        description="fastembed dense embedding model name.",
    )
    embed_model_path: Path | None = Field(
        None, alias="SUPPORTBOT_EMBED_MODEL_PATH",
        description="Local folder of the embedding model (offline machines).",
    )
    sparse_model_path: Path | None = Field(
        None, alias="SUPPORTBOT_SPARSE_MODEL_PATH",
        description="Local folder of fastembed's `Qdrant/bm25` sparse model (offline machines).",
    )

    anthropic_api_key: SecretStr | None = Field(
        None, alias="ANTHROPIC_API_KEY",
        description=(
            "Anthropic API key for the Claude drafter; unset means the offline extractive "
            "drafter."
        ),
    )
    anthropic_base_url: str | None = Field(
        None, alias="ANTHROPIC_BASE_URL",
        description="Override of the Anthropic API URL (a proxy or gateway).",
    )
    llm_model: str = Field(
        DEFAULT_LLM_MODEL, alias="SUPPORTBOT_LLM_MODEL",
        description="Claude model that drafts replies.",
    )
    llm_max_attempts: int = Field(
        4, ge=1, le=10, alias="SUPPORTBOT_LLM_MAX_ATTEMPTS",
        description="Tries per draft on 429/529/5xx before the message goes to humans.",
    )
    llm_timeout_seconds: float = Field(
        60.0, gt=0, alias="SUPPORTBOT_LLM_TIMEOUT",
        description="Seconds one Anthropic request may take.",
    )
    llm_max_tokens: int = Field(
        1024, ge=64, le=64000, alias="SUPPORTBOT_LLM_MAX_TOKENS",
        description="Output budget (tokens) of one Claude draft.",
    )
    llm_retry_max_tokens: int = Field(
        4096, ge=64, le=64000, alias="SUPPORTBOT_LLM_RETRY_MAX_TOKENS",
        description="The larger budget asked for once when a draft is cut at the first one.",
    )
    llm_generalise: bool = Field(
        True, alias="SUPPORTBOT_LLM_GENERALISE",
        description="With an API key, Claude generalises approved answers before they are "
                    "learned (the deterministic scrubber always runs after it); false: the "
                    "scrubber alone.",
    )
    brand_name: str = Field(
        "Acme Cloud", alias="SUPPORTBOT_BRAND_NAME",
        description="Company name used in reply signatures and the drafting prompt.",
    )

    slack_bot_token: SecretStr | None = Field(
        None, alias="SLACK_BOT_TOKEN",
        description="Bot token (`xoxb-…`) of the Slack app; unset means Slack off.",
    )
    slack_signing_secret: SecretStr | None = Field(
        None, alias="SLACK_SIGNING_SECRET",
        description="Signing secret of the Slack app (HTTP mode: `/slack/events`).",
    )
    slack_app_token: SecretStr | None = Field(
        None, alias="SLACK_APP_TOKEN",
        description="App-level token (`xapp-…`, scope `connections:write`); set means Socket Mode.",
    )
    slack_api_url: str = Field(
        "https://slack.com/api/", alias="SLACK_API_URL",
        description="Slack Web API base URL (tests and proxies).",
    )
    approval_channel: str | None = Field(
        None, alias="SUPPORTBOT_APPROVAL_CHANNEL",
        description="Channel id (`C…`) where agents approve, edit or reject drafts.",
    )
    support_channels: list[str] = Field(
        default_factory=list, alias="SUPPORTBOT_SUPPORT_CHANNELS",
        description=(
            "Comma-separated channel ids whose messages are customer messages (DMs and "
            "mentions always are)."
        ),
    )
    approvers: list[str] = Field(
        default_factory=list, alias="SUPPORTBOT_APPROVERS",
        description=(
            "Comma-separated user or user-group ids who may decide drafts; empty means anyone"
            " in the approval channel."
        ),
    )
    admins: list[str] = Field(
        default_factory=list, alias="SUPPORTBOT_ADMINS",
        description="Comma-separated user ids who may run the admin slash command.",
    )
    ignore_other_bots: bool = Field(
        True, alias="SUPPORTBOT_IGNORE_BOTS",
        description="Ignore messages from other bots in support channels.",
    )
    slash_command: str = Field(
        "/support", alias="SUPPORTBOT_SLASH_COMMAND",
        description="The admin slash command, as declared in the Slack app manifest.",
    )

    imap_host: str | None = Field(
        None, alias="IMAP_HOST",
        description="IMAP server of the support mailbox; unset means no mailbox is watched.",
    )
    imap_port: int = Field(
        993, ge=1, le=65535, alias="IMAP_PORT",
        description="IMAP server port.",
    )
    imap_user: str | None = Field(
        None, alias="IMAP_USER",
        description="IMAP login name.",
    )
    imap_password: SecretStr | None = Field(
        None, alias="IMAP_PASSWORD",
        description="IMAP password (or app password).",
    )
    imap_ssl: bool = Field(
        True, alias="IMAP_SSL",
        description="Connect with implicit TLS (port 993).",
    )
    imap_folder: str = Field(
        "INBOX", alias="IMAP_FOLDER",
        description="Folder to watch.",
    )
    imap_starttls: bool | None = Field(
        None, alias="IMAP_STARTTLS",
        description="STARTTLS on a plain connection; unset means on when `IMAP_SSL` is off.",
    )
    imap_processed_folder: str | None = Field(
        None, alias="IMAP_PROCESSED_FOLDER",
        description="Move processed mail to this folder instead of flagging it seen.",
    )
    imap_poll_seconds: float = Field(
        60.0, gt=0, alias="IMAP_POLL_SECONDS",
        description="Poll interval when the server has no IDLE.",
    )

    smtp_host: str | None = Field(
        None, alias="SMTP_HOST",
        description="Outgoing mail relay; with `SUPPORTBOT_SUPPORT_ADDRESS`, mail replies are on.",
    )
    smtp_port: int = Field(
        587, ge=1, le=65535, alias="SMTP_PORT",
        description="Port of the mail relay.",
    )
    smtp_user: str | None = Field(
        None, alias="SMTP_USER",
        description="Relay login (AUTH only when set).",
    )
    smtp_password: SecretStr | None = Field(
        None, alias="SMTP_PASSWORD",
        description="Relay password.",
    )
    smtp_starttls: bool = Field(
        True, alias="SMTP_STARTTLS",
        description="Use STARTTLS with the relay.",
    )
    smtp_ssl: bool = Field(
        False, alias="SMTP_SSL",
        description="Connect to the relay with implicit TLS (port 465).",
    )
    smtp_listen: str | None = Field(
        None, alias="SUPPORTBOT_SMTP_LISTEN",
        description="`host:port` of supportbot's own inbound SMTP server; unset means off.",
    )
    mail_domains: list[str] = Field(
        default_factory=list, alias="SUPPORTBOT_MAIL_DOMAINS",
        description="Comma-separated recipient domains our SMTP server accepts mail for.",
    )
    support_address: str | None = Field(
        None, alias="SUPPORTBOT_SUPPORT_ADDRESS",
        description=(
            "The main support address: From and Reply-To of mail replies (and of replies to"
            " mail that reached none of `SUPPORTBOT_MAIL_ADDRESSES`)."
        ),
    )
    mail_max_bytes: int = Field(
        25 * 1024 * 1024, gt=0, alias="SUPPORTBOT_MAIL_MAX_BYTES",
        description="Largest mail our SMTP server accepts (bytes).",
    )
    smtp_listen_tls_cert: Path | None = Field(
        None, alias="SUPPORTBOT_SMTP_TLS_CERT",
        description="Certificate file: our SMTP server offers STARTTLS with it.",
    )
    smtp_listen_tls_key: Path | None = Field(
        None, alias="SUPPORTBOT_SMTP_TLS_KEY",
        description="Private key file of that certificate.",
    )
    smtp_listen_user: str | None = Field(
        None, alias="SUPPORTBOT_SMTP_AUTH_USER",
        description="Our SMTP server requires AUTH with this user (only after STARTTLS).",
    )
    smtp_listen_password: SecretStr | None = Field(
        None, alias="SUPPORTBOT_SMTP_AUTH_PASSWORD",
        description="Password for that AUTH user.",
    )
    auto_reply_cap_per_conversation: int = Field(
        3, ge=0, alias="SUPPORTBOT_AUTO_REPLY_CAP",
        description="Most auto-sent replies in one conversation before humans take over.",
    )
    auto_reply_cap_per_sender_daily: int = Field(
        10, ge=0, alias="SUPPORTBOT_AUTO_REPLY_SENDER_CAP",
        description="Most auto-sent replies to one sender a day (loop guard).",
    )
    auto_disclosure: str | None = Field(
        DEFAULT_DISCLOSURE, alias="SUPPORTBOT_AUTO_DISCLOSURE",
        description="Line added to automatic replies saying they were written automatically "
                    "and how to reach a person; empty disables it.",
    )
    coalesce_seconds: float | None = Field(
        None, ge=0, le=600, alias="SUPPORTBOT_COALESCE_SECONDS",
        description="Messages of one conversation arriving within this many seconds become "
                    "one draft; unset means off.",
    )
    sender_limit_per_hour: int = Field(
        30, ge=0, alias="SUPPORTBOT_SENDER_LIMIT_PER_HOUR",
        description="Messages per sender and hour that are drafted; more are stored and "
                    "handed to humans (0 = no limit).",
    )
    source_limit_per_minute: int = Field(
        0, ge=0, alias="SUPPORTBOT_SOURCE_LIMIT_PER_MINUTE",
        description="Messages per source (channel or webhook source) and minute that are "
                    "drafted; more are stored and handed to humans (0 = no limit).",
    )

    webhooks: dict[str, WebhookSource] = Field(default_factory=dict)
    webhook_max_body_bytes: int = Field(
        256 * 1024, gt=0, alias="SUPPORTBOT_WEBHOOK_MAX_BODY",
        description="Largest webhook body accepted (bytes); larger answers 413.",
    )
    webhook_replay_window_seconds: int = Field(
        300, gt=0, alias="SUPPORTBOT_WEBHOOK_REPLAY_WINDOW",
        description="Seconds a signed webhook timestamp stays valid.",
    )
    demo: bool | None = Field(
        None, alias="SUPPORTBOT_DEMO",
        description=(
            "The built-in `demo` webhook source and `/api/conversations/{id}`; unset means on"
            " for the embedded setup only."
        ),
    )

    auto_send_threshold: float | None = Field(
        None, alias="SUPPORTBOT_AUTO_SEND_THRESHOLD",
        description=(
            "Confidence needed to send a draft without review (0–1); `off` disables auto-"
            "send."
        ),
    )
    human_threshold: float = Field(
        0.4, ge=0, le=1, alias="SUPPORTBOT_HUMAN_THRESHOLD",
        description="Below this confidence a draft goes to humans as escalated.",
    )
    coverage_floor: float = Field(
        0.6, ge=0, le=1, alias="SUPPORTBOT_COVERAGE_FLOOR",
        description="Out of scope: a draft goes to humans when the passages it used hold less "
        "than this share of the question's subject words (0 turns the check off).",
    )
    intent_reader: bool = Field(
        False, alias="SUPPORTBOT_INTENT_READER",
        description="Also read wants-human, churn and legal intent semantically (each clause "
        "against short intent statements with the embedding model). On the blind held-out "
        "set it raised recall a little (wants-human 0.76 to 0.80, churn 0.61 to 0.68) for one "
        "more false escalation and 5-7 ms of CPU per message; off by default.",
    )
    earn_min_approvals: int = Field(
        5, ge=0, alias="SUPPORTBOT_EARN_MIN_APPROVALS",
        description="Unedited approvals a topic needs before it may be auto-sent.",
    )
    earn_min_rate: float = Field(
        0.9, ge=0, le=1, alias="SUPPORTBOT_EARN_MIN_RATE",
        description="Share of unedited approvals a topic needs over its recent decisions.",
    )
    earn_window: int = Field(
        30, ge=1, alias="SUPPORTBOT_EARN_WINDOW",
        description="How many recent decisions of a topic that share is computed over.",
    )
    topic_cosine: float = Field(
        0.8, ge=0, le=1, alias="SUPPORTBOT_TOPIC_COSINE",
        description="Cosine similarity at which two questions count as the same topic.",
    )
    context_tokens: int = Field(
        2400, ge=200, le=50_000, alias="SUPPORTBOT_CONTEXT_TOKENS",
        description="Token budget (about 4 characters each) of the knowledge sections the "
                    "drafter is given.",
    )
    context_articles: int = Field(
        3, ge=1, le=10, alias="SUPPORTBOT_CONTEXT_ARTICLES",
        description="How many top articles the drafter's sections come from.",
    )
    outbox_max_attempts: int = Field(
        8, ge=1, le=50, alias="SUPPORTBOT_OUTBOX_MAX_ATTEMPTS",
        description="Send attempts before a reply is dead-lettered (shown in Slack).",
    )
    outbox_backoff_seconds: float = Field(
        2.0, gt=0, alias="SUPPORTBOT_OUTBOX_BACKOFF",
        description="Base seconds of the outbox's exponential backoff.",
    )
    lease_seconds: float = Field(
        120.0, gt=0, alias="SUPPORTBOT_LEASE_SECONDS",
        description="How long a worker holds an inbox or outbox item before another may take it.",
    )
    inbox_max_attempts: int = Field(
        5, ge=1, le=50, alias="SUPPORTBOT_INBOX_MAX_ATTEMPTS",
        description="Routing attempts before a message is handed to humans.",
    )
    worker_concurrency: int = Field(
        8, ge=1, le=64, alias="SUPPORTBOT_WORKER_CONCURRENCY",
        description="Messages one worker routes at a time.",
    )

    reminder_minutes: float = Field(
        30.0, gt=0, alias="SUPPORTBOT_REMINDER_MINUTES",
        description="Pending drafts older than this get a reminder in the approval channel.",
    )
    digest_hour_utc: int | None = Field(
        9, ge=0, le=23, alias="SUPPORTBOT_DIGEST_HOUR",
        description="UTC hour of the daily digest in the approval channel; `off` disables it.",
    )
    kb_sync_minutes: float = Field(
        10.0, gt=0, alias="SUPPORTBOT_KB_SYNC_MINUTES",
        description="How often the knowledge folder is re-ingested (changed files only).",
    )
    refit_hours: float = Field(
        24.0, gt=0, alias="SUPPORTBOT_REFIT_HOURS",
        description="How often the confidence calibration is refit from learning signals.",
    )
    retention_days: int | None = Field(
        None, ge=1, alias="SUPPORTBOT_RETENTION_DAYS",
        description=(
            "Blank message and draft texts older than this many days; unset or `off` keeps "
            "them."
        ),
    )
    scheduler_enabled: bool = Field(
        True, alias="SUPPORTBOT_SCHEDULER",
        description=(
            "Run the scheduled jobs (reminders, digest, sync, refit, retention) in this "
            "process."
        ),
    )

    web_host: str = Field(
        "127.0.0.1", alias="SUPPORTBOT_WEB_HOST",
        description="Address the HTTP server binds to.",
    )
    web_port: int = Field(
        8000, ge=1, le=65535, alias="PORT",
        description="Port of the HTTP server (`web`, `run`).",
    )
    worker_port: int | None = Field(
        9101, ge=0, le=65535, alias="SUPPORTBOT_WORKER_PORT",
        description=(
            "Port of the worker's own `/metrics`, `/healthz` and `/readyz` (on "
            "`SUPPORTBOT_WEB_HOST`); `off` disables it."
        ),
    )
    log_level: str = Field(
        "INFO", alias="SUPPORTBOT_LOG_LEVEL",
        description="Log level: DEBUG, INFO, WARNING or ERROR.",
    )

    # --- mail a team can depend on (issue 16) ---------------------------------------------
    # Where a mailbox seen for the first time starts: "new" (only mail arriving from now on),
    # "unseen" (unseen mail of the last IMAP_START_DAYS days), "all" (everything, read or not).
    imap_start: str = Field("new", alias="IMAP_START",
        description=(
            "Where a new mailbox starts: `new` (only mail arriving from now on), `unseen`"
            " (unread mail of the last `IMAP_START_DAYS` days) or `all`."
        ))
    imap_start_days: int = Field(7, ge=0, le=3650, alias="IMAP_START_DAYS",
        description=(
            "With `IMAP_START=unseen`, how many days of unread mail a first start picks "
            "up."
        ))
    imap_keepalive_seconds: float = Field(240.0, gt=0, alias="IMAP_KEEPALIVE_SECONDS",
        description="The IMAP IDLE is re-issued this often, so a silent server is noticed.")
    imap_timeout_seconds: float = Field(30.0, gt=0, alias="IMAP_TIMEOUT_SECONDS",
        description=(
            "Seconds an IMAP answer may take before the connection is dropped and "
            "reopened."
        ))
    imap_ca_file: Path | None = Field(None, alias="IMAP_CA_FILE",
        description="CA bundle the IMAP server's certificate is checked against (a private CA).")
    imap_client_cert: Path | None = Field(None, alias="IMAP_CLIENT_CERT",
        description="Client certificate presented to the IMAP server.")
    imap_client_key: Path | None = Field(None, alias="IMAP_CLIENT_KEY",
        description="Private key of that IMAP client certificate.")
    smtp_ca_file: Path | None = Field(None, alias="SMTP_CA_FILE",
        description="CA bundle the mail relay's certificate is checked against (a private CA).")
    smtp_client_cert: Path | None = Field(None, alias="SMTP_CLIENT_CERT",
        description="Client certificate presented to the mail relay.")
    smtp_client_key: Path | None = Field(None, alias="SMTP_CLIENT_KEY",
        description="Private key of that SMTP client certificate.")
    own_addresses: list[str] = Field(default_factory=list, alias="SUPPORTBOT_OWN_ADDRESSES",
        description=(
            "Comma-separated addresses that are ours: mail from them is never answered "
            "(loop guard)."
        ))
    mail_text_max_chars: int = Field(20_000, ge=500, alias="SUPPORTBOT_MAIL_TEXT_MAX_CHARS",
        description=(
            "Customer mail text is cut to this many characters for the card, triage and "
            "the LLM (the original is kept)."
        ))
    mail_cc_participants: bool = Field(True, alias="SUPPORTBOT_MAIL_CC_PARTICIPANTS",
        description="Mail replies keep the conversation's other participants on CC.")
    # Copy replies to this IMAP folder and flag the answered mail \Answered (off when unset:
    # providers such as Gmail already keep what their SMTP relay sent).
    imap_sent_folder: str | None = Field(None, alias="IMAP_SENT_FOLDER",
        description=(
            "When set, mail replies are copied to this folder and the original is flagged"
            " \\Answered."
        ))
    # OAuth2 (XOAUTH2) for IMAP and SMTP: an access token from this refresh token.
    mail_oauth2_token_url: str | None = Field(None, alias="SUPPORTBOT_MAIL_OAUTH2_TOKEN_URL",
        description=(
            "OAuth2 token endpoint for XOAUTH2 mailbox and relay login (Google Workspace,"
            " Microsoft 365)."
        ))
    mail_oauth2_client_id: str | None = Field(None, alias="SUPPORTBOT_MAIL_OAUTH2_CLIENT_ID",
        description="OAuth2 client id for mailbox and relay login.")
    mail_oauth2_client_secret: SecretStr | None = Field(
        None, alias="SUPPORTBOT_MAIL_OAUTH2_CLIENT_SECRET",
        description="OAuth2 client secret for mailbox and relay login.")
    mail_oauth2_refresh_token: SecretStr | None = Field(
        None, alias="SUPPORTBOT_MAIL_OAUTH2_REFRESH_TOKEN",
        description="OAuth2 refresh token for mailbox and relay login.")
    # authserv-ids whose Authentication-Results we trust; set, unauthenticated mail is reviewed.
    mail_authserv_ids: list[str] = Field(default_factory=list,
                                         alias="SUPPORTBOT_MAIL_AUTHSERV_IDS",
        description=(
            "Comma-separated authserv-ids whose Authentication-Results we trust; when "
            "set, unauthenticated mail is never auto-sent."
        ))

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
    # Several support addresses (billing@, sales@…) delivered to the same mailbox or to our
    # SMTP server; a reply goes out From the address the customer wrote to.
    mail_addresses: list[str] = Field(default_factory=list, alias="SUPPORTBOT_MAIL_ADDRESSES",
        description=(
            "Further support addresses besides `SUPPORTBOT_SUPPORT_ADDRESS`, comma-separated"
            " (e.g. `billing@acme.example,sales@acme.example`): mail to any of them is taken"
            " in, and its reply goes out From the address the customer wrote to."
        ))

    # Replies carry a Reply-To plus-address (support+<token>@) that threads even when the
    # customer's client drops In-Reply-To/References; it needs a mail system that delivers
    # plus-addresses to the mailbox. Off: no Reply-To, threading by headers only.
    mail_plus_addressing: bool = Field(True, alias="SUPPORTBOT_MAIL_PLUS_ADDRESSING",
        description=(
            "Replies carry a `support+<token>@` Reply-To that threads even without headers; "
            "needs plus-addressing (subaddressing) on your mail system. `false`: threading by "
            "In-Reply-To/References only."
        ))

    @field_validator("mail_addresses", mode="before")
    @classmethod
    def _mail_addresses(cls, value: Any) -> Any:
        value = _split_csv(value)
        if not isinstance(value, list):
            return value
        for address in value:
            local, at, domain = str(address).rpartition("@")
            if not at or not local or "." not in domain or "+" in local or " " in address:
                raise ValueError(f"{address!r} is not a plain address like billing@acme.example"
                                 " (no display name, no +tag)")
        return [str(a).lower() for a in value]
    # --- end of issue 16 block --------------------------------------------------------------

    @field_validator("support_channels", "approvers", "admins", "mail_domains", mode="before")
    @classmethod
    def _csv(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("mail_domains")
    @classmethod
    def _lower_domains(cls, value: list[str]) -> list[str]:
        return [d.lower() for d in value]

    @field_validator("digest_hour_utc", "retention_days", "coalesce_seconds", "worker_port",
                     mode="before")
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

    @field_validator("slash_command")
    @classmethod
    def _command(cls, value: str) -> str:
        # Slack's rule for command names: a slash, then at most 31 lowercase characters.
        if not re.fullmatch(r"/[a-z0-9_\-]{1,31}", value):
            raise ValueError("must be a slash and up to 31 lowercase letters, e.g. /support")
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
