"""Mail parsing throughput over the .eml corpus, a 2 MB mail, and mailbox stall detection
(a script; pytest does not collect it).

    .venv/bin/python tests/benchmarks/bench_mail.py [--repeats 7] [--rounds 20] [--no-stall]

Prints messages/s per fixture and for the whole corpus: the median over ``--repeats`` runs,
each parsing every fixture ``--rounds`` times (``parse_mail``: MIME, charsets, HTML → text,
quote stripping, loop checks; no disk, no network). Then a 2 MB mail through our SMTP server:
the time to parse, compress and accept it, and the event loop's worst lag meanwhile (what a
Slack ack or /healthz would wait). Then a hung IMAP server (TCP open, no answers): the time
from the hang to the alert, for a few keepalive/timeout settings.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from channels.mail.inbound import MailOptions  # noqa: E402
from channels.mail.parse import MailRejected, parse_mail  # noqa: E402

CORPUS = ROOT / "tests" / "channels" / "mail" / "fixtures"
OURS = frozenset({"acme.example"})


def _parse(raw: bytes) -> None:
    try:
        parse_mail(raw, our_domains=OURS)
    except MailRejected:
        pass  # own mail is rejected by design; it is still parsed


def rate(messages: list[bytes], rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        for raw in messages:
            _parse(raw)
    return rounds * len(messages) / (time.perf_counter() - start)


def corpus_rates(repeats: int, rounds: int) -> None:
    files = sorted(CORPUS.glob("*.eml"))
    corpus = {p.name: p.read_bytes() for p in files}
    for raw in corpus.values():  # warm-up: regex compilation, codec lookups
        _parse(raw)
    rows = []
    for name, raw in corpus.items():
        rates = [rate([raw], rounds) for _ in range(repeats)]
        rows.append((name, len(raw), statistics.median(rates)))
    total = [rate(list(corpus.values()), rounds) for _ in range(repeats)]
    width = max(len(n) for n, _, _ in rows)
    print(f"{'fixture':<{width}}  {'bytes':>7}  {'msg/s':>9}  {'ms/msg':>7}")
    for name, size, value in rows:
        print(f"{name:<{width}}  {size:>7}  {value:>9.0f}  {1000 / value:>7.2f}")
    median = statistics.median(total)
    print(
        f"{f'corpus ({len(rows)} messages)':<{width}}  {'':>7}  "
        f"{median:>9.0f}  {1000 / median:>7.2f}"
    )
    print(
        f"median of {repeats} repeats x {rounds} rounds; Python {sys.version.split()[0]}"
    )


BIG_BODY = "Where is my order 77?\r\n" + ("All the log lines the customer pasted. " * 20
                                          + "\r\n") * 2_600


async def _loop_lag(stop: asyncio.Event) -> float:
    worst = 0.0
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(0.005)
        worst = max(worst, loop.time() - before - 0.005)
    return worst


async def big_mail() -> None:
    """A 2 MB mail through the real SMTP server: time to 250 and the loop's worst lag."""
    import smtplib

    from channels.mail.inbound import MailOptions, prepare_mail
    from channels.mail.smtp_server import InboundSmtpHandler, start_smtp_server
    from tests.channels.mail.conftest import RecordingAccept, simple_mail

    raw = simple_mail("<big@example.com>", body=BIG_BODY)
    options = MailOptions(our_domains=OURS, text_max_chars=20_000)
    start = time.perf_counter()
    prepared = prepare_mail(raw, options=options, received_at=datetime.now(UTC), source="bench")
    parse_ms = (time.perf_counter() - start) * 1000
    accept = RecordingAccept()
    handler = InboundSmtpHandler(accept=accept, domains=["acme.example"], options=options)
    server = await start_smtp_server(handler, host="127.0.0.1", port=0,
                                     data_size_limit=8 << 20)
    port = server.sockets[0].getsockname()[1]

    def send() -> float:
        began = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            client.sendmail("jane@example.com", ["support@acme.example"], raw)
        return (time.perf_counter() - began) * 1000

    stop = asyncio.Event()
    lag = asyncio.create_task(_loop_lag(stop))
    session_ms = await asyncio.to_thread(send)
    stop.set()
    worst = await lag
    server.close()
    await server.wait_closed()
    print(f"\n2 MB mail ({len(raw):,} bytes): parse+compress {parse_ms:.0f} ms; SMTP session "
          f"to 250 {session_ms:.0f} ms; worst event-loop lag meanwhile {worst * 1000:.1f} ms; "
          f"text for the core {len(prepared.inbound.text):,} chars; "
          f"original kept {prepared.raw.size:,} → {len(prepared.raw.compressed):,} bytes")


async def stall(keepalive: float, answer_timeout: float) -> tuple[float, float]:
    """Seconds from a hang to its alert, and from the end of the hang to recovery."""
    from bot.domain import Accepted, Inbound
    from channels.mail.imap import ImapPoller
    from channels.mail.imap_connect import ImapAccount, imap_connector
    from channels.mail.imap_start import StartPolicy
    from tests.channels.mail.conftest import MemoryCursorStore, RecordingAccept, simple_mail
    from tests.fakes.imap_server import FakeImapServer
    from tests.fakes.tcp_proxy import HangingProxy

    alerts: list[float] = []
    alerted = [asyncio.Event(), asyncio.Event()]
    fetched = asyncio.Event()

    async def alert(text: str) -> None:
        alerts.append(time.monotonic())
        alerted[min(len(alerts), 2) - 1].set()

    store = MemoryCursorStore()
    recording = RecordingAccept()

    async def accept(inbound: Inbound) -> Accepted:
        fetched.set()
        return await recording(inbound)

    with FakeImapServer() as imap:
        proxy = await HangingProxy(imap.host, imap.port).start()
        account = ImapAccount(host=proxy.host, port=proxy.port, user=imap.user,
                              password=imap.password, use_ssl=False, timeout=answer_timeout)
        poller = ImapPoller(connect=imap_connector(account), accept=accept,
                            options=MailOptions(our_domains=OURS), cursor_key="imap:bench",
                            start=StartPolicy(mode="unseen"), idle_check_seconds=0.2,
                            idle_renew_seconds=keepalive, timeout_seconds=answer_timeout,
                            backoff_initial=0.2, backoff_max=1.0, alert=alert,
                            get_value=store.get, put_value=store.put)
        stop = asyncio.Event()
        task = asyncio.create_task(poller.run(stop))
        imap.deliver(simple_mail("<s1@example.com>"))
        await fetched.wait()
        await asyncio.sleep(0.5)  # settled in IDLE
        proxy.freeze()
        hung = time.monotonic()
        await alerted[0].wait()
        detected = alerts[0] - hung
        proxy.thaw()
        thawed = time.monotonic()
        await alerted[1].wait()
        recovered = alerts[1] - thawed
        stop.set()
        await task
        await proxy.close()
    return detected, recovered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--no-stall", action="store_true")
    args = parser.parse_args()
    corpus_rates(args.repeats, args.rounds)
    asyncio.run(big_mail())
    if not args.no_stall:
        print("\nhung IMAP server (TCP open, silent): hang → alert, end of hang → recovery")
        print(f"{'keepalive s':>11}  {'timeout s':>9}  {'detected s':>10}  {'recovered s':>11}")
        for keepalive, timeout in ((1.0, 1.0), (2.0, 2.0), (5.0, 3.0)):
            detected, recovered = asyncio.run(stall(keepalive, timeout))
            print(f"{keepalive:>11.1f}  {timeout:>9.1f}  {detected:>10.2f}  {recovered:>11.2f}")
        print("bound: keepalive + timeout (the IDLE re-issue's DONE waits at most the timeout)")


if __name__ == "__main__":
    main()
