"""Email channel: IMAP poller, our SMTP server, the SMTP sender and pure MIME parsing.

Wiring (done in ``bot/app.py`` only):

- ``channels.mail.smtp_server.serve_smtp(settings, accept=...)`` → ``asyncio.Server | None``
- ``channels.mail.imap.ImapPoller.from_settings(settings, accept=...)`` then ``await run(stop)``
- ``channels.mail.sender.SmtpSender.from_settings(settings)`` → the email ``Sender``
"""
