"""Callback crypto: wechat_async beside wechatpy and the raw `cryptography` floor.

Run with ``nox -s bench`` (or ``python benchmarks/crypto_bench.py``). Every row
is measured in this one process on the same ~1.4 KB message, so the ratios
compare like with like. Targets (issue 2): ``decrypt_xml`` within 1.25x of the
raw floor and at least 2.5x faster than wechatpy's ``decrypt_message``. The run
also writes crypto.png and crypto.json to ``--charts DIR`` (default
docs/benchmarks; ``--no-charts`` to skip).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import statistics
import sys
import timeit
from typing import TYPE_CHECKING

from _charts import add_chart_options, chart_dir, crypto_chart, machine, write_json
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from wechat_async import MessageCrypto

if TYPE_CHECKING:
    from collections.abc import Callable

TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
APPID = "wx5823bf96d3bd56c7"
TIMESTAMP = "1409659813"
NONCE = "1372623149"
FLOOR_TARGET = 1.25  # decrypt_xml may cost at most this many times the raw floor
PEER_TARGET = 2.5  # and must be at least this many times faster than wechatpy


def realistic_message(size: int = 1400) -> str:
    """A text-message callback padded with Chinese content to about `size` bytes."""
    head = (
        "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
        "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>"
        "<CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        "<Content><![CDATA["
    )
    tail = "]]></Content><MsgId>6054768590064713728</MsgId></xml>"
    filler = "你好，微信客服。Hello WeChat! "
    body = head
    while len((body + filler + tail).encode()) <= size:
        body += filler
    return body + tail


def raw_floor(key: bytes, token: str) -> Callable[[str, str, str, str], bytes]:
    """Signature + base64 + AES-256-CBC + unpad straight on `cryptography`.

    No envelope, no length or receive-id checks: the least any decryptor must do.
    """
    algorithm = algorithms.AES(key)
    iv = key[:16]

    def decrypt(encrypt: str, signature: str, timestamp: str, nonce: str) -> bytes:
        joined = "".join(sorted((token, timestamp, nonce, encrypt)))
        digest = hashlib.sha1(joined.encode())  # noqa: S324 - WeChat's scheme
        if not hmac.compare_digest(digest.hexdigest(), signature):
            raise AssertionError
        decryptor = Cipher(algorithm, modes.CBC(iv)).decryptor()
        padded = decryptor.update(base64.b64decode(encrypt)) + decryptor.finalize()
        return padded[: -padded[-1]]

    return decrypt


def measure(func: Callable[[], object], *, seconds: float) -> float:
    """Median µs per call over several repeats sized to take about `seconds` in all."""
    timer = timeit.Timer(func)
    number, _ = timer.autorange()
    repeats = max(5, int(seconds / max(timer.timeit(number), 1e-9)))
    runs = timer.repeat(repeat=min(repeats, 50), number=number)
    return statistics.median(runs) / number * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="time per row")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    add_chart_options(parser)
    args = parser.parse_args(argv)
    charts = chart_dir(args)

    from wechatpy.crypto import WeChatCrypto  # noqa: PLC0415 - the peer is a bench-only dependency

    message = realistic_message()
    ours = MessageCrypto(TOKEN, AES_KEY, APPID)
    peer = WeChatCrypto(TOKEN, AES_KEY, APPID)
    sealed = ours.encrypt(message, timestamp=TIMESTAMP, nonce=NONCE)
    envelope = sealed.to_xml()
    floor = raw_floor(base64.b64decode(AES_KEY + "="), TOKEN)

    # Every path must agree before any of them is timed.
    assert ours.decrypt_xml(envelope, sealed.msg_signature, TIMESTAMP, NONCE) == message.encode()
    assert peer.decrypt_message(envelope, sealed.msg_signature, TIMESTAMP, NONCE) == message
    tail = floor(sealed.encrypt, sealed.msg_signature, TIMESTAMP, NONCE)
    assert tail[20 : 20 + len(message.encode())] == message.encode()

    s = args.seconds
    rows = {
        "raw floor (sig+b64+AES-CBC+unpad)": measure(
            lambda: floor(sealed.encrypt, sealed.msg_signature, TIMESTAMP, NONCE), seconds=s
        ),
        "wechat_async decrypt_xml": measure(
            lambda: ours.decrypt_xml(envelope, sealed.msg_signature, TIMESTAMP, NONCE), seconds=s
        ),
        "wechatpy decrypt_message": measure(
            lambda: peer.decrypt_message(envelope, sealed.msg_signature, TIMESTAMP, NONCE),
            seconds=s,
        ),
        "wechat_async encrypt": measure(
            lambda: ours.encrypt(message, timestamp=TIMESTAMP, nonce=NONCE), seconds=s
        ),
        "wechatpy encrypt_message": measure(
            lambda: peer.encrypt_message(message, NONCE, TIMESTAMP), seconds=s
        ),
    }

    print(f"crypto benchmark: {len(message.encode())}-byte message, envelope {len(envelope)} bytes")
    print(f"python {sys.version.split()[0]}")
    width = max(map(len, rows))
    for name, micros in rows.items():
        print(f"  {name:<{width}}  {micros:8.2f} µs/op")

    ours_dec = rows["wechat_async decrypt_xml"]
    vs_floor = ours_dec / rows["raw floor (sig+b64+AES-CBC+unpad)"]
    vs_peer = rows["wechatpy decrypt_message"] / ours_dec
    enc_vs_peer = rows["wechatpy encrypt_message"] / rows["wechat_async encrypt"]
    ok_floor = vs_floor <= FLOOR_TARGET
    ok_peer = vs_peer >= PEER_TARGET
    verdict = {True: "met", False: "MISSED"}
    print("ratios:")
    print(f"  decrypt_xml / raw floor  {vs_floor:5.2f}x  (target <= 1.25x: {verdict[ok_floor]})")
    print(f"  wechatpy / decrypt_xml   {vs_peer:5.2f}x  (target >= 2.5x:  {verdict[ok_peer]})")
    print(f"  wechatpy / encrypt       {enc_vs_peer:5.2f}x")
    if charts is not None:
        info = machine()
        write_json(
            charts,
            "crypto",
            {
                "benchmark": "crypto",
                "machine": info,
                "settings": {"seconds_per_row": s},
                "message_bytes": len(message.encode()),
                "envelope_bytes": len(envelope),
                "us_per_op": {name: round(micros, 3) for name, micros in rows.items()},
                "ratios": {
                    "decrypt_xml / raw floor": round(vs_floor, 3),
                    "wechatpy decrypt / decrypt_xml": round(vs_peer, 3),
                    "wechatpy encrypt / encrypt": round(enc_vs_peer, 3),
                },
                "targets": {
                    f"decrypt_xml / raw floor <= {FLOOR_TARGET}": ok_floor,
                    f"wechatpy / decrypt_xml >= {PEER_TARGET}": ok_peer,
                },
            },
        )
        path = crypto_chart(charts, rows, info, len(message.encode()))
        print(f"charts: {path} and crypto.json")
    return 0 if (ok_floor and ok_peer) or not args.check else 1


if __name__ == "__main__":
    raise SystemExit(main())
