"""SMTP with the standard library: explicit timeouts, and a clear line between "not sent" and "maybe sent".

Anything that fails before the message text is handed over (connect, EHLO, MAIL, RCPT, a refusal
of DATA) is `MailNotSentError`: safe to retry. A broken connection while the text is on the wire
or the 250 is awaited is `MailOutcomeUnknownError`: the server may have accepted it (RFC 1047).
"""

import asyncio
import contextlib
import smtplib
import ssl
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

from domain.errors import MailNotSentError, MailOutcomeUnknownError
from domain.models.reports import Email
from domain.ports.reports import Mailer

_OK = 250
_RCPT_OK = (250, 251)


class SmtpMailer(Mailer):
    """`smtp://[user:pass@]host:port` (STARTTLS when `?starttls=true`) or `smtps://` (implicit TLS)."""

    def __init__(self, url: str, *, sender: str, timeout_s: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://host:port or smtps://host:port")
        self._tls = parts.scheme == "smtps"
        self._starttls = "starttls=true" in parts.query
        self._host = parts.hostname
        self._port = parts.port or (465 if self._tls else 25)
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._sender = sender
        self._timeout_s = timeout_s

    async def send(self, email: Email) -> None:
        # smtplib blocks; a thread keeps the worker's shared event loop free. Every socket call has a timeout.
        await asyncio.to_thread(self._send, email)

    def _message(self, email: Email) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self._sender
        msg["To"] = email.to
        msg["Subject"] = email.subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain="folio.localhost")
        for name, value in email.headers.items():
            msg[name] = value
        msg.set_content(email.text)
        if email.attachment:  # a notice (a webhook endpoint disabled, say) has none
            maintype, _, subtype = email.attachment_type.partition("/")
            msg.add_attachment(email.attachment, maintype=maintype, subtype=subtype, filename=email.attachment_name)
        return msg

    def _connect(self) -> smtplib.SMTP:
        if self._tls:
            return smtplib.SMTP_SSL(
                self._host, self._port, timeout=self._timeout_s, context=ssl.create_default_context()
            )
        smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout_s)
        if self._starttls:
            smtp.starttls(context=ssl.create_default_context())
        return smtp

    def _send(self, email: Email) -> None:
        # CRLF line ends: smtplib sends bytes as they are (it fixes line ends only in str messages).
        message = self._message(email).as_bytes(policy=policy.SMTP)
        envelope_from = email.headers.get("Return-Path") or self._sender
        try:
            smtp = self._connect()
        except (OSError, smtplib.SMTPException) as e:
            raise MailNotSentError(f"SMTP server unreachable: {e}") from e
        try:
            self._envelope(smtp, envelope_from, email.to)
            try:
                code, reply = smtp.data(message)
            except smtplib.SMTPResponseException as e:  # DATA refused, or the text refused with a code
                raise MailNotSentError(f"SMTP DATA refused: {e.smtp_code} {e.smtp_error!r}") from e
            except (OSError, smtplib.SMTPException) as e:
                raise MailOutcomeUnknownError(f"connection lost while sending the message: {e}") from e
            if code != _OK:
                raise MailNotSentError(f"SMTP message refused: {code} {reply!r}")
        finally:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                smtp.quit()
            smtp.close()

    def _envelope(self, smtp: smtplib.SMTP, sender: str, to: str) -> None:
        try:
            smtp.ehlo_or_helo_if_needed()
            if self._user and self._password:
                smtp.login(self._user, self._password)
            code, reply = smtp.mail(_address(sender))
            if code != _OK:
                raise MailNotSentError(f"SMTP sender refused: {code} {reply!r}")
            code, reply = smtp.rcpt(to)
            if code not in _RCPT_OK:
                raise MailNotSentError(f"SMTP recipient refused: {code} {reply!r}")
        except (OSError, smtplib.SMTPException) as e:
            raise MailNotSentError(f"SMTP conversation failed before the message: {e}") from e


def _address(sender: str) -> str:
    """The bare address of `Name <addr>`."""
    return sender.rpartition("<")[2].rstrip(">").strip() if "<" in sender else sender
