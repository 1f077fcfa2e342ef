"""Property tests: every redaction pattern, with every separator, in any surrounding text.

Each test generates a secret the way customers write it (a Luhn-valid card split by spaces,
dashes, dots or nothing; an IBAN with valid check digits; a password after "is:", "=" or no
separator) inside random prose and asserts the raw value is gone and the token is there.
"""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.pipeline.redact import IBAN_LENGTHS, iban_valid, luhn_valid, redact, redact_text

# Prose around a secret: words without digits, so a raw value can only come from the secret.
_WORDS = st.lists(
    st.sampled_from(
        "hi hello my card is here please charge refund the invoice thanks and see below "
        "Hallo meine Karte ist bonjour ma carte hola mi tarjeta es ok . , ! ? ( ) : - "
        "\n".split(" ")
    ),
    max_size=8,
).map(" ".join)
_CARD_SEPARATORS = st.sampled_from([" ", "-", ".", "", "  ", "\u00a0", "\u2013", "/"])


def _luhn_complete(body: str) -> str:
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("unreachable: one check digit always completes a Luhn number")


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(["4", "51", "55", "37", "6011", "35"]))
    length = 15 if prefix == "37" else draw(st.sampled_from([16, 16, 19, 13]))
    rest = draw(st.text(string.digits, min_size=length - len(prefix) - 1,
                        max_size=length - len(prefix) - 1))
    return _luhn_complete(prefix + rest)


def _grouped(digits: str, separator: str) -> str:
    groups = [digits[i : i + 4] for i in range(0, len(digits), 4)]
    return separator.join(groups)


@given(before=_WORDS, after=_WORDS, number=card_numbers(), separator=_CARD_SEPARATORS)
@settings(max_examples=300)
def test_any_card_with_any_separator_keeps_only_its_last_four(
    before: str, after: str, number: str, separator: str
) -> None:
    written = _grouped(number, separator)
    out = redact(f"{before} {written} {after}")
    assert written not in out
    assert number[:-4] not in out.replace(" ", "").replace(separator or " ", "")
    assert f"[card •••• {number[-4:]}]" in out


@st.composite
def ibans(draw: st.DrawFn) -> str:
    country = draw(st.sampled_from(["DE", "FR", "GB", "ES", "NL", "IT", "CH", "AT", "XX"]))
    length = IBAN_LENGTHS.get(country, draw(st.integers(15, 34)))
    bban = draw(st.text(string.digits + string.ascii_uppercase, min_size=length - 4,
                        max_size=length - 4))
    rearranged = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in rearranged)) % 97
    return f"{country}{check:02d}{bban}"


@given(before=_WORDS, after=_WORDS, iban=ibans(), separator=st.sampled_from([" ", "", "-", "."]),
       lower=st.booleans())
@settings(max_examples=200)
def test_any_valid_iban_is_redacted(
    before: str, after: str, iban: str, separator: str, lower: bool
) -> None:
    assert iban_valid(iban)
    written = _grouped(iban, separator)
    written = written.lower() if lower else written
    out = redact(f"{before} {written} {after}")
    assert written not in out
    assert iban[4:-4] not in out.upper().replace(separator or " ", "").replace(" ", "")
    if iban[:2] in IBAN_LENGTHS:
        assert f"[IBAN {iban[:2]}••••{iban[-4:]}]" in out
    else:
        # A country without a registered length: the longest valid run wins (redacting a
        # following word too is safe; stopping early could leak the IBAN's last digits).
        assert f"[IBAN {iban[:2]}••••" in out


_CREDENTIAL = st.text(
    string.ascii_letters + string.digits + "!#$%&*+-/@^_~", min_size=6, max_size=24
).filter(lambda v: any(c.isdigit() for c in v))
_PASSWORD_LABELS = st.sampled_from([
    "password", "Password", "PASSWORD", "My password", "pw", "pwd", "passcode", "PIN",
    "passwort", "Kennwort", "mot de passe", "contraseña", "passphrase", "one-time code",
])
_SECRET_LABELS = st.sampled_from([
    "secret", "api_key", "API key", "apikey", "access_token", "client_secret", "token",
    "private key", "auth token",
])
_SEPARATORS = st.sampled_from([": ", ":", "=", " = ", " is ", " is: ", " was ", " ", " ist ",
                               " est ", " => "])


@given(before=_WORDS, after=_WORDS, label=_PASSWORD_LABELS | _SECRET_LABELS, sep=_SEPARATORS,
       value=_CREDENTIAL, quote=st.sampled_from(["", '"', "'"]))
@settings(max_examples=400)
def test_labelled_passwords_and_secrets_are_redacted(
    before: str, after: str, label: str, sep: str, value: str, quote: str
) -> None:
    out = redact(f"{before} {label}{sep}{quote}{value}{quote} {after}")
    assert value not in out
    assert "redacted]" in out


@given(before=_WORDS, after=_WORDS,
       label=st.sampled_from(["CVV", "cvc", "CVC2", "security code", "CSC", "Prüfnummer"]),
       sep=st.sampled_from([" ", ": ", " is ", " code ", " #", "="]),
       code=st.text(string.digits, min_size=3, max_size=4))
def test_card_security_codes_are_redacted(
    before: str, after: str, label: str, sep: str, code: str
) -> None:
    out = redact(f"{before} {label}{sep}{code} {after}")
    assert f"{sep}{code}" not in out
    assert "[CVV redacted]" in out


_BASE64 = st.text(string.ascii_letters + string.digits + "+/", min_size=8, max_size=60)


@given(before=_WORDS, scheme=st.sampled_from(["Basic", "Bearer", "Token", "", "bearer"]),
       header=st.sampled_from(["Authorization", "authorization", "Proxy-Authorization"]),
       credential=_BASE64.filter(lambda v: any(c.isdigit() for c in v)),
       padding=st.sampled_from(["", "=", "=="]))
def test_authorization_headers_keep_the_scheme_only(
    before: str, scheme: str, header: str, credential: str, padding: str
) -> None:
    value = f"{credential}{padding}"
    out = redact(f"{before}\n{header}: {scheme} {value}\nthanks".replace("  ", " "))
    assert value not in out
    assert "[secret redacted]" in out


@given(kind=st.sampled_from(["", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED "]),
       body=st.lists(_BASE64, min_size=1, max_size=6), terminated=st.booleans())
def test_pem_private_keys_are_redacted_whole(kind: str, body: list[str], terminated: bool) -> None:
    pem = f"-----BEGIN {kind}PRIVATE KEY-----\n" + "\n".join(body)
    if terminated:
        pem += f"\n-----END {kind}PRIVATE KEY-----"
    result = redact_text(f"here is our key:\n{pem}\nthanks" if terminated else f"key:\n{pem}")
    assert all(line not in result.text for line in body)
    assert "[private key redacted]" in result.text
    assert result.counts["private_key"] == 1


_PROVIDER_KEYS = st.one_of(
    st.text(string.ascii_letters + string.digits, min_size=20, max_size=40).map(
        lambda s: f"sk-ant-api03-{s}"),
    st.text(string.ascii_letters + string.digits, min_size=20, max_size=30).map(
        lambda s: f"sk_live_{s}"),
    st.text(string.ascii_uppercase + string.digits, min_size=16, max_size=16).map(
        lambda s: f"AKIA{s}"),
    st.text(string.ascii_letters + string.digits, min_size=36, max_size=36).map(
        lambda s: f"ghp_{s}"),
    st.text(string.ascii_letters + string.digits, min_size=12, max_size=20).map(
        lambda s: f"xoxb-1234-{s}"),
    st.text(string.ascii_letters + string.digits, min_size=34, max_size=34).map(
        lambda s: f"hf_{s}"),
    st.text("0123456789abcdef", min_size=32, max_size=32).map(lambda s: f"key-{s}"),
)


@given(before=_WORDS, after=_WORDS, key=_PROVIDER_KEYS)
def test_provider_key_shapes_are_redacted_without_a_label(
    before: str, after: str, key: str
) -> None:
    out = redact(f"{before} {key} {after}")
    assert key not in out
    assert "[secret redacted]" in out


@given(text=st.text(max_size=200))
@settings(max_examples=300)
def test_redaction_is_idempotent(text: str) -> None:
    once = redact(text)
    assert redact(once) == once
