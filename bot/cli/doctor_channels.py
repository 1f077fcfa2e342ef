"""``supportbot doctor``'s channel checks: Slack, the IMAP mailbox and the SMTP relay.

These read the channels' own settings interpretation (``ImapAccount.from_settings``, the
scopes the manifest declares), so the doctor checks what the worker will really do.
"""

from __future__ import annotations

import smtplib
import ssl
from typing import Any

from imapclient import IMAPClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.cli.doctor import Verdict, describe, fail, ok, skip, warn
from channels.mail.imap_connect import ImapAccount
from channels.slack.scopes import REQUIRED_SCOPES
from config import Settings

_MANIFEST_HINT = "reinstall the app from slack/manifest.yml (OAuth & Permissions → Reinstall)"


async def check_slack(settings: Settings, *, client: AsyncWebClient | None = None) -> list[Verdict]:
    """auth.test, the granted scopes, the approval channel, and the approvers and admins."""
    if settings.slack_bot_token is None:
        return [skip("slack", "SLACK_BOT_TOKEN not set: Slack is off")]
    if not settings.slack_enabled:
        return [fail("slack", "SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET (HTTP) "
                              "nor SLACK_APP_TOKEN (Socket Mode)",
                     "copy the signing secret from the app's Basic Information page")]
    if client is None:
        client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value(),
                                base_url=settings.slack_api_url)
    try:
        auth = await client.auth_test()
    except SlackApiError as exc:
        return [fail("slack auth", f"auth.test failed: {exc.response.get('error')}",
                     "copy the Bot User OAuth Token (xoxb-…) into SLACK_BOT_TOKEN")]
    except Exception as exc:
        return [fail("slack auth", f"Slack unreachable ({describe(exc)})",
                     "check SLACK_API_URL and outbound network access")]
    verdicts = [ok("slack auth", f"bot {auth.get('user')} in workspace {auth.get('team')}")]
    verdicts.append(_scopes(auth.headers))
    verdicts.append(await _approval_channel(settings, client, bot=str(auth.get('user') or '')))
    verdicts += await _people(settings, client)
    return verdicts


def _scopes(headers: Any) -> Verdict:
    granted_header = next((v for k, v in dict(headers or {}).items()
                           if k.lower() == "x-oauth-scopes"), None)
    if granted_header is None:
        return warn("slack scopes", "Slack did not report the token's scopes",
                    f"make sure the app has: {', '.join(sorted(REQUIRED_SCOPES))}")
    granted = {s.strip() for s in str(granted_header).split(",") if s.strip()}
    missing = sorted(REQUIRED_SCOPES - granted)
    if missing:
        return fail("slack scopes", f"missing {', '.join(missing)}", _MANIFEST_HINT)
    return ok("slack scopes", f"all {len(REQUIRED_SCOPES)} scopes granted")


async def _approval_channel(settings: Settings, client: AsyncWebClient, *, bot: str) -> Verdict:
    channel = settings.approval_channel
    if not channel:
        return fail("slack channel", "SUPPORTBOT_APPROVAL_CHANNEL is not set",
                    "create a channel for approvals, invite the bot, set its id (C…)")
    try:
        info = await client.conversations_info(channel=channel)
    except SlackApiError as exc:
        return fail("slack channel", f"{channel}: {exc.response.get('error')}",
                    "SUPPORTBOT_APPROVAL_CHANNEL must be a channel id (C…) the bot can see; "
                    "for a private channel invite the bot first")
    data = info.get("channel") or {}
    if not data.get("is_member"):
        return fail("slack channel", f"the bot is not a member of {channel}",
                    f"in #{data.get('name') or channel} type /invite @{bot or 'supportbot'}")
    return ok("slack channel", f"bot is a member of #{data.get('name') or channel}")


async def _people(settings: Settings, client: AsyncWebClient) -> list[Verdict]:
    missing: list[str] = []
    for role, ids in (("approver", settings.approvers), ("admin", settings.admins)):
        for who in ids:
            try:
                if who.startswith("S"):
                    await client.usergroups_users_list(usergroup=who)
                else:
                    response = await client.users_info(user=who)
                    if (response.get("user") or {}).get("deleted"):
                        missing.append(f"{role} {who} (deactivated)")
            except SlackApiError as exc:
                missing.append(f"{role} {who} ({exc.response.get('error')})")
    if missing:
        return [fail("slack people", "not found: " + ", ".join(missing),
                     "SUPPORTBOT_APPROVERS / SUPPORTBOT_ADMINS take user ids (U…) or user-group "
                     "ids (S…): profile → ⋮ → Copy member ID")]
    if not settings.admins:
        return [warn("slack people", "no SUPPORTBOT_ADMINS: nobody may use the admin command",
                     "list the admins' user ids in SUPPORTBOT_ADMINS")]
    approvers = (f"{len(settings.approvers)} approvers" if settings.approvers
                 else "approvers: everyone in the approval channel")
    return [ok("slack people", f"{approvers}, {len(settings.admins)} admins exist")]


def check_imap(settings: Settings) -> list[Verdict]:
    """Log in, find the folder, and see whether the server offers IDLE (blocking)."""
    if not settings.imap_enabled:
        return [skip("imap", "IMAP_HOST/IMAP_USER not set: no mailbox is watched")]
    account = ImapAccount.from_settings(settings)
    where = f"{account.host}:{account.port}"
    try:
        client = IMAPClient(account.host, port=account.port, ssl=account.use_ssl,
                            ssl_context=ssl.create_default_context() if account.use_ssl else None,
                            timeout=15.0)
    except Exception as exc:
        return [fail("imap", f"{where} unreachable ({describe(exc)})",
                     "check IMAP_HOST, IMAP_PORT and IMAP_SSL (993 is TLS, 143 plain)")]
    try:
        if account.starttls and not account.use_ssl:
            try:
                client.starttls(ssl.create_default_context())
            except Exception as exc:
                return [fail("imap", f"{where}: STARTTLS failed ({describe(exc)})",
                             "use IMAP_SSL=true on port 993, or IMAP_STARTTLS=false only on "
                             "a trusted network")]
        try:
            client.login(account.user, account.password or "")
        except Exception as exc:
            return [fail("imap", f"{where}: login as {account.user} refused ({describe(exc)})",
                         "check IMAP_USER and IMAP_PASSWORD (an app password where the provider "
                         "requires one)")]
        verdicts = [ok("imap", f"logged in to {where} as {account.user}")]
        folder = settings.imap_folder
        if not client.folder_exists(folder):
            verdicts.append(fail("imap folder", f"{folder!r} does not exist",
                                 "set IMAP_FOLDER to an existing folder (INBOX)"))
        else:
            verdicts.append(ok("imap folder", f"{folder!r} exists"))
        if client.has_capability("IDLE"):
            verdicts.append(ok("imap idle", "IDLE supported: new mail arrives in about a second"))
        else:
            verdicts.append(warn("imap idle", "no IDLE: the mailbox is polled every "
                                              f"{settings.imap_poll_seconds:g}s",
                                 "lower IMAP_POLL_SECONDS for faster answers"))
        return verdicts
    finally:
        try:
            client.logout()
        except Exception:
            client.shutdown()


def _check_from_addresses(client: smtplib.SMTP, settings: Settings) -> Verdict:
    """Every address replies go out From (``MAIL FROM``, then ``RSET``: nothing is sent),
    and whether replies carry the plus-address Reply-To (which the mailbox must deliver)."""
    addresses = [settings.support_address or "", *settings.mail_addresses]
    for address in addresses:
        code, answer = client.mail(address)
        client.rset()
        if code >= 400:
            return warn("mail addresses",
                        f"the relay refuses to send as {address} ({code} "
                        f"{answer.decode('utf-8', 'replace')})",
                        "let SMTP_USER send as that address (a 'send as' permission or an "
                        "alias), or remove it from SUPPORTBOT_MAIL_ADDRESSES")
    threading = ("Reply-To support+<token>@: the mailbox must deliver plus-addresses"
                 if settings.mail_plus_addressing
                 else "no plus-address Reply-To: threading by In-Reply-To/References only")
    return ok("mail addresses", f"replies from {', '.join(addresses)}; {threading}")


def check_smtp_relay(settings: Settings) -> list[Verdict]:
    """EHLO, STARTTLS and AUTH against the relay replies leave through (blocking)."""
    if not settings.smtp_host:
        return [skip("smtp relay", "SMTP_HOST not set: replies to e-mail are not sent")]
    host, port = settings.smtp_host, settings.smtp_port
    if not settings.support_address:
        return [fail("smtp relay", "SMTP_HOST is set but SUPPORTBOT_SUPPORT_ADDRESS is not",
                     "set SUPPORTBOT_SUPPORT_ADDRESS, the From of replies")]
    context = ssl.create_default_context()
    try:
        client: smtplib.SMTP = (smtplib.SMTP_SSL(host, port, timeout=15.0, context=context)
                                if settings.smtp_ssl else smtplib.SMTP(host, port, timeout=15.0))
    except Exception as exc:
        return [fail("smtp relay", f"{host}:{port} unreachable ({describe(exc)})",
                     "check SMTP_HOST and SMTP_PORT (587 STARTTLS, 465 SMTP_SSL)")]
    steps = ["EHLO"]
    try:
        code, _ = client.ehlo()
        if code != 250:
            return [fail("smtp relay", f"{host}:{port} answered EHLO with {code}",
                         "is this an SMTP server?")]
        if settings.smtp_starttls and not settings.smtp_ssl:
            if not client.has_extn("starttls"):
                return [fail("smtp relay", f"{host}:{port} offers no STARTTLS",
                             "use SMTP_SSL=true on 465, or SMTP_STARTTLS=false only on a "
                             "trusted network")]
            try:
                client.starttls(context=context)
                client.ehlo()
            except Exception as exc:
                return [fail("smtp relay", f"{host}:{port}: STARTTLS failed ({describe(exc)})",
                             "the relay's certificate must be valid for SMTP_HOST")]
            steps.append("STARTTLS")
        if settings.smtp_user:
            if not client.has_extn("auth"):
                return [fail("smtp relay", f"{host}:{port} offers no AUTH",
                             "AUTH usually needs TLS: set SMTP_STARTTLS or SMTP_SSL; or unset "
                             "SMTP_USER for a relay that trusts this host")]
            try:
                password = settings.smtp_password
                client.login(settings.smtp_user,
                             password.get_secret_value() if password is not None else "")
            except smtplib.SMTPException as exc:
                return [fail("smtp relay", f"{host}:{port}: AUTH as {settings.smtp_user} "
                                           f"refused ({describe(exc)})",
                             "check SMTP_USER and SMTP_PASSWORD")]
            steps.append("AUTH")
        return [ok("smtp relay", f"{host}:{port}: {', '.join(steps)} ok"),
                _check_from_addresses(client, settings)]
    finally:
        try:
            client.quit()
        except Exception:
            client.close()
