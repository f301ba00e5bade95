"""``python -m wechat_async.testing``: serve FakeWeChat over HTTP for apps under development.

    python -m wechat_async.testing --port 8000 [--host 127.0.0.1] [--token-latency S]
        [--kf-account NAME ...] [--kf-callback URL [--kf-token T] [--kf-aes-key K]]

It prints the base URL, the `Hosts` to give a
``Transport``, and the fake's credentials. Only loopback is served unless
``--host`` says otherwise: the credentials are public knowledge.

Besides WeChat's paths, a few control paths (under ``/_fake/``, never a
WeChat path) let a developer play the customer against a running bot:

* ``POST /_fake/kf/accounts`` ``{"name": "客服"}`` → ``{"open_kfid": ...}``
* ``POST /_fake/kf/customer_says`` ``{"open_kfid", "external_userid", "text"}``
  → ``{"msgid": ...}``, once the callback was answered (``--kf-callback``)
* ``GET /_fake/kf/sent`` → ``{"sent": [...]}``: what the app sent with send_msg

Needs uvicorn: ``pip install 'wechat-async[testing]'``.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import json
import sys
from typing import TYPE_CHECKING, Any, Final

from wechat_async.crypto import CryptoError
from wechat_async.errors import ConfigurationError
from wechat_async.testing._asgi import read_body, send_json
from wechat_async.testing.fake import FakeWeChat

if TYPE_CHECKING:
    from collections.abc import Sequence

    from wechat_async.testing._asgi import Receive, Scope, Send
    from wechat_async.testing.fake_kf import SentKfMessage

__all__ = ["ControlledFake", "main"]

KF_TOKEN: Final = "fake-kf-callback-token"  # noqa: S105 - the emulator's public demo value
"""The Kf callback token the emulator signs with unless ``--kf-token`` is given."""
KF_AES_KEY: Final = "ZmFrZS1rZi1lbmNvZGluZy1hZXMta2V5LTAxMjM0NTY"
"""The Kf EncodingAESKey (43 characters) unless ``--kf-aes-key`` is given."""
CONTROL_PREFIX: Final = "/_fake/"


class ControlledFake:
    """An ASGI app: FakeWeChat, plus the ``/_fake/`` control paths that drive its customers."""

    def __init__(self, fake: FakeWeChat) -> None:
        """Serve ``fake``."""
        self.fake = fake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a control path here; hand everything else to the fake."""
        if scope["type"] != "http" or not str(scope["path"]).startswith(CONTROL_PREFIX):
            await self.fake(scope, receive, send)
            return
        status, answer = await self._control(
            scope["method"], scope["path"], await read_body(receive)
        )
        await send_json(send, status, answer)

    async def _control(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        route = (method.upper(), path.rstrip("/"))
        if route == ("GET", "/_fake/kf/sent"):
            return 200, {"sent": [_sent_dict(sent) for sent in self.fake.kf.sent]}
        if route == ("POST", "/_fake/kf/accounts"):
            data = _json_object(body)
            if data is None:
                return 400, {"error": "the body must be a JSON object"}
            return 200, {"open_kfid": self.fake.kf.add_account(str(data.get("name") or "客服"))}
        if route == ("POST", "/_fake/kf/customer_says"):
            return await self._customer_says(_json_object(body))
        return 404, {"error": f"no control path {method} {path}"}

    async def _customer_says(self, data: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
        names = ("open_kfid", "external_userid", "text")
        if data is None or any(not isinstance(data.get(name), str) for name in names):
            return 400, {"error": "send a JSON object with open_kfid, external_userid and text"}
        try:
            msgid = await self.fake.kf.customer_says(
                data["open_kfid"], data["external_userid"], data["text"]
            )
        except Exception as exc:  # noqa: BLE001 - reported to the developer who asked
            return 502, {"error": f"{type(exc).__name__}: {exc}"}
        return 200, {"msgid": msgid}


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _sent_dict(sent: SentKfMessage) -> dict[str, Any]:
    return dataclasses.asdict(sent)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m wechat_async.testing",
        description="Serve FakeWeChat (both API hosts in one app) over HTTP.",
    )
    parser.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: loopback only)"
    )
    parser.add_argument(
        "--token-latency",
        type=float,
        default=0.0,
        metavar="S",
        help="seconds every token fetch takes (default 0)",
    )
    parser.add_argument(
        "--kf-account",
        action="append",
        default=[],
        metavar="NAME",
        help="create a Kf account at start (repeatable)",
    )
    parser.add_argument(
        "--kf-callback", metavar="URL", help="where kf_msg_or_event callbacks are POSTed"
    )
    parser.add_argument("--kf-token", default=KF_TOKEN, help="the Kf callback token")
    parser.add_argument(
        "--kf-aes-key", default=KF_AES_KEY, help="the Kf callback EncodingAESKey (43 characters)"
    )
    return parser


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _banner(fake: FakeWeChat, base: str, args: argparse.Namespace, accounts: list[str]) -> str:
    hosts = fake.hosts(base)
    lines = [
        f"FakeWeChat on {base}",
        f'  Hosts(official="{hosts.official}", work="{hosts.work}", official_standby=())',
        f"  Official Account: appid={fake.appid} secret={fake.secret}",
        f"  WeCom: corp_id={fake.corp_id} corp_secret={fake.corp_secrets[0]}",
        f"  Kf callback: token={args.kf_token} encoding_aes_key={args.kf_aes_key}",
        f"    -> {args.kf_callback or '(none; pass --kf-callback URL)'}",
    ]
    lines += [f"  Kf account: open_kfid={kfid}" for kfid in accounts]
    lines += [
        "  For the examples:",
        (
            f"    export WECHAT_BASE_URL={base} WECOM_CORP_ID={fake.corp_id}"
            f" WECOM_KF_SECRET={fake.corp_secrets[0]}"
            f" WECOM_KF_TOKEN={args.kf_token} WECOM_KF_AES_KEY={args.kf_aes_key}"
        ),
        (
            f"  Play the customer: curl -X POST {base}/_fake/kf/customer_says -d"
            ' \'{"open_kfid": "...", "external_userid": "wm_me", "text": "你好"}\''
        ),
        f"  See the replies:   curl {base}/_fake/kf/sent",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments and serve until interrupted; 2 on unusable arguments."""
    args = _parser().parse_args(argv)
    try:
        import uvicorn  # noqa: PLC0415 - an optional dependency, needed only here
    except ImportError:
        sys.stderr.write(
            "python -m wechat_async.testing needs uvicorn: pip install 'wechat-async[testing]'\n"
        )
        return 2
    if not _is_loopback(args.host):
        sys.stderr.write(
            f"warning: serving on {args.host}, beyond loopback; anyone who reaches it gets "
            "tokens with the fake's public credentials\n"
        )
    fake = FakeWeChat(token_latency=args.token_latency)
    host = f"[{args.host}]" if ":" in args.host else args.host
    try:
        if args.kf_callback:
            fake.kf.register_callback(
                args.kf_callback, token=args.kf_token, encoding_aes_key=args.kf_aes_key
            )
        accounts = [fake.kf.add_account(name) for name in args.kf_account]
        banner = _banner(fake, f"http://{host}:{args.port}", args, accounts)
    except (ConfigurationError, CryptoError) as exc:
        # A bad --kf-aes-key or --host: say which, without a traceback (nor the key).
        sys.stderr.write(f"python -m wechat_async.testing: {exc}\n")
        return 2
    sys.stdout.write(banner + "\n")
    sys.stdout.flush()
    uvicorn.run(
        ControlledFake(fake), host=args.host, port=args.port, log_level="warning", lifespan="off"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
