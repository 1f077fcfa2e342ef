"""Property tests: whatever bytes arrive, the parser answers with a mail or a clear rejection."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.mail.parse import MailRejected, parse_mail
from tests.channels.mail.conftest import DOMAIN, corpus

OURS = frozenset({DOMAIN})
CORPUS = [p.read_bytes() for p in corpus()]
HEADER_NAMES = [
    "From",
    "Reply-To",
    "To",
    "Cc",
    "Subject",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Date",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
    "Auto-Submitted",
    "Return-Path",
]


def _check(raw: bytes) -> None:
    try:
        mail = parse_mail(raw, our_domains=OURS)
    except MailRejected as exc:
        assert isinstance(exc.reason, str) and exc.reason
        return
    assert mail.message_id.startswith("<") and "@" in mail.customer_address
    assert isinstance(mail.text, str)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_crash(raw: bytes) -> None:
    _check(raw)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(HEADER_NAMES), st.text(max_size=120)),
        max_size=12,
    ),
    st.binary(max_size=1024),
)
def test_header_shaped_garbage_never_crashes(headers: list[tuple[str, str]], body: bytes) -> None:
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    _check(head.encode("utf-8", "surrogateescape") + b"\r\n" + body)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CORPUS), st.data())
def test_mutated_real_mail_never_crashes(raw: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(raw)))
    noise = data.draw(st.binary(max_size=64))
    position = data.draw(st.integers(0, len(raw)))
    _check(raw[:cut] + noise + raw[position:])
