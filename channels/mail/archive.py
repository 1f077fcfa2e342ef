"""After a reply went out: a copy in the mailbox's Sent folder and the answered mail flagged
``\\Answered``, so the team's mail client shows the conversation as a person would leave it."""

from __future__ import annotations

import asyncio
import logging

from imapclient import SEEN

from channels.mail.imap_connect import ImapConnect

log = logging.getLogger(__name__)

ANSWERED = b"\\Answered"


class SentArchive:
    """Appends sent replies to ``sent_folder`` (flagged ``\\Seen``) and flags the mail they
    answer ``\\Answered`` in ``inbox_folder`` (found by its Message-ID)."""

    def __init__(self, *, connect: ImapConnect, sent_folder: str = "Sent",
                 inbox_folder: str = "INBOX") -> None:
        self._connect = connect
        self._sent = sent_folder
        self._inbox = inbox_folder

    async def record(self, message: bytes, answered_message_id: str | None) -> None:
        """Blocking IMAP work in a worker thread; raises on failure (the caller logs it)."""
        await asyncio.to_thread(self._record, message, answered_message_id)

    def _record(self, message: bytes, answered_message_id: str | None) -> None:
        client = self._connect()
        try:
            if not client.folder_exists(self._sent):
                client.create_folder(self._sent)
            client.append(self._sent, message, flags=[SEEN])
            if answered_message_id:
                client.select_folder(self._inbox)
                uids = client.search(["HEADER", "Message-ID", answered_message_id])
                if uids:
                    client.add_flags(uids, [ANSWERED], silent=True)
        finally:
            try:
                client.logout()
            except Exception:
                log.debug("IMAP logout after archiving failed", exc_info=True)
