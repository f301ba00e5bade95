"""Quickstart: seal a WeCom callback the way WeChat does, then verify and open it.

Run it with ``python examples/quickstart.py`` (or ``nox -s quickstart``).
"""

from __future__ import annotations

from wechat_async import InvalidSignatureError, MessageCrypto

# What you paste from the admin console's "receive messages" page.
TOKEN = "QDG6eK"
ENCODING_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP_ID = "wx5823bf96d3bd56c7"


def main() -> None:
    """Play both sides of one callback round trip."""
    crypto = MessageCrypto(TOKEN, ENCODING_AES_KEY, CORP_ID)

    # WeChat's side: encrypt a text message and sign it.
    incoming = (
        "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>"
        "<FromUserName><![CDATA[zhangsan]]></FromUserName><CreateTime>1700000000</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content></xml>"
    )
    sealed = crypto.encrypt(incoming, timestamp=1700000000, nonce="1372623149")
    body = sealed.to_xml()
    print("POST body WeChat sends:\n ", body[:96], "...")
    print(f"query: msg_signature={sealed.msg_signature}", f"timestamp={sealed.timestamp}", end=" ")
    print(f"nonce={sealed.nonce}")

    # Your endpoint's side: verify the signature and decrypt.
    plaintext = crypto.decrypt_xml(body, sealed.msg_signature, sealed.timestamp, sealed.nonce)
    print("decrypted:\n ", plaintext.decode())

    # A tampered request never reaches your handler.
    try:
        crypto.decrypt_xml(body, sealed.msg_signature, "1700000001", sealed.nonce)
    except InvalidSignatureError as exc:
        print("tampered timestamp refused:", exc)

    # And the encrypted passive reply your endpoint answers with.
    reply = crypto.encrypt("<xml><Content><![CDATA[收到]]></Content></xml>")
    print("reply envelope:\n ", reply.to_xml()[:96], "...")


if __name__ == "__main__":
    main()
