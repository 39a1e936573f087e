"""One contract for the mailer, run against the in-memory twin and real SMTP (the session's mail sink,
which keeps each accepted message as a .eml file)."""

import asyncio
import email
import email.policy
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage

import pytest

from cli.embedded import EmbeddedServers
from domain.adapters.memory.reports import InMemoryMailer
from domain.adapters.smtp import SmtpMailer
from domain.errors import MailNotSentError, MailOutcomeUnknownError
from domain.models.reports import Email
from domain.ports.reports import Mailer

pytestmark = pytest.mark.integration
MARK = "X-Contract-Id"
SENDER = "Folio Reports <reports@folio.localhost>"


@dataclass
class PostOffice:
    mailer: Mailer
    delivered: Callable[[str], list[Email]]  # what arrived with that mark, as the recipient reads it
    unreachable: Mailer


def as_read(path_bytes: bytes) -> Email:
    msg = email.message_from_bytes(path_bytes, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    body = msg.get_body(preferencelist=("plain",))
    [attachment] = list(msg.iter_attachments())
    assert body is not None
    assert isinstance(attachment, EmailMessage)
    return Email(
        to=str(msg["To"]),
        subject=str(msg["Subject"]),
        text=body.get_content().replace("\r\n", "\n"),  # the file keeps the wire's CRLF line ends
        attachment_name=attachment.get_filename() or "",
        attachment=attachment.get_payload(decode=True),  # type: ignore[arg-type]
        attachment_type=attachment.get_content_type(),
        headers={MARK: str(msg[MARK])},
    )


@pytest.fixture(params=["memory", "smtp"])
def post_office(request: pytest.FixtureRequest, servers: EmbeddedServers) -> PostOffice:
    if request.param == "memory":
        mailer, down = InMemoryMailer(), InMemoryMailer()
        down.fail_with = MailNotSentError("SMTP server unreachable")
        return PostOffice(mailer, lambda mark: [m for m in mailer.sent if m.headers.get(MARK) == mark], down)
    sink = servers.smtp
    if sink is None:
        pytest.skip("SMTP_URL names a server whose mailbox this suite cannot read")

    def delivered(mark: str) -> list[Email]:
        read = (as_read(path.read_bytes()) for path in sink.messages())
        return [m for m in read if m.headers.get(MARK) == mark]

    return PostOffice(
        SmtpMailer(servers.smtp_url, sender=SENDER, timeout_s=5),
        delivered,
        SmtpMailer("smtp://127.0.0.1:1", sender=SENDER, timeout_s=1),
    )


def report_email(**changes: object) -> Email:
    fields: dict[str, object] = {
        "to": "zoe@example.com",
        "subject": "Your portfolio report \N{EN DASH} Zoë's ünïcode",
        "text": "Hello Zoë,\n\nyour report is attached.\n.\nA line with a lone dot above, and a long one: " + "x" * 990,
        "attachment_name": "folio-report.pdf",
        "attachment": b"%PDF-1.4\n" + bytes(range(256)) * 64 + b"\r\n.\r\n\x00",  # every byte value, an SMTP end mark
        "headers": {MARK: uuid.uuid4().hex},
    }
    return Email(**{**fields, **changes})  # type: ignore[arg-type]


async def test_a_sent_email_arrives_once_with_its_attachment_intact(post_office: PostOffice):
    sent = report_email()
    await post_office.mailer.send(sent)
    [received] = post_office.delivered(sent.headers[MARK])  # accepted means stored: no waiting
    assert received.attachment == sent.attachment
    assert (received.attachment_name, received.attachment_type) == ("folio-report.pdf", "application/pdf")
    assert (received.to, received.subject) == (sent.to, sent.subject)
    assert received.text.rstrip("\n") == sent.text


async def test_each_send_is_one_email(post_office: PostOffice):
    sent = report_email()
    await post_office.mailer.send(sent)
    await post_office.mailer.send(sent)  # a retry after "not sent" sends again: the caller decides
    assert len(post_office.delivered(sent.headers[MARK])) == 2


async def test_an_unreachable_server_means_not_sent(post_office: PostOffice):
    sent = report_email()
    with pytest.raises(MailNotSentError):
        await post_office.unreachable.send(sent)
    assert post_office.delivered(sent.headers[MARK]) == []


# --- SMTP only: where the conversation breaks decides "not sent" or "unknown" ------------------------
class TerseServer:
    """A scripted SMTP server on 127.0.0.1: answers RCPT with `rcpt_reply`, and after the message text
    hangs up without answering it (the moment RFC 1047 is about)."""

    def __init__(self, rcpt_reply: bytes = b"250 ok") -> None:
        self.rcpt_reply = rcpt_reply
        self.messages = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"smtp://127.0.0.1:{port}"

    async def __aexit__(self, *exc_info: object) -> None:
        assert self.server is not None
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 terse ESMTP\r\n")
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                while (await reader.readline()) not in (b".\r\n", b""):
                    pass
                self.messages += 1
                break  # handed over; no 250
            reply = self.rcpt_reply if verb == b"RCPT" else b"221 bye" if verb == b"QUIT" else b"250 ok"
            writer.write(reply + b"\r\n")
            await writer.drain()
        writer.close()


async def test_a_refused_recipient_means_not_sent():
    async with TerseServer(rcpt_reply=b"550 no such mailbox") as url:
        with pytest.raises(MailNotSentError):
            await SmtpMailer(url, sender=SENDER, timeout_s=2).send(report_email())


async def test_a_connection_lost_after_the_text_means_the_outcome_is_unknown():
    server = TerseServer()
    async with server as url:
        with pytest.raises(MailOutcomeUnknownError):
            await SmtpMailer(url, sender=SENDER, timeout_s=2).send(report_email())
    assert server.messages == 1
