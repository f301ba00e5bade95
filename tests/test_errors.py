from __future__ import annotations

import pickle

import pytest

from wechat_async import errors
from wechat_async.errors import (
    APIError,
    ConfigurationError,
    ConnectError,
    HTTPStatusError,
    InvalidCredentialError,
    InvalidParameterError,
    InvalidResponseError,
    InvalidTokenError,
    IPNotAllowedError,
    PermissionDeniedError,
    PoolTimeoutError,
    RateLimitError,
    RequestTimeoutError,
    SystemBusyError,
    TokenUnavailableError,
    TransportError,
    WeChatError,
    api_error_for,
)

CODED = (
    InvalidTokenError,
    InvalidCredentialError,
    PermissionDeniedError,
    IPNotAllowedError,
    RateLimitError,
    SystemBusyError,
    InvalidParameterError,
)


@pytest.mark.parametrize(
    ("errcode", "expected"),
    [
        (40001, InvalidTokenError),
        (40014, InvalidTokenError),
        (42001, InvalidTokenError),
        (42009, InvalidTokenError),
        (40013, InvalidCredentialError),
        (40091, InvalidCredentialError),
        (40125, InvalidCredentialError),
        (40243, InvalidCredentialError),
        (48001, PermissionDeniedError),
        (60011, PermissionDeniedError),
        (61007, PermissionDeniedError),
        (40164, IPNotAllowedError),
        (60020, IPNotAllowedError),
        (61004, IPNotAllowedError),
        (45009, RateLimitError),
        (45011, RateLimitError),
        (45033, RateLimitError),
        (-1, SystemBusyError),
        (40003, InvalidParameterError),
        (40004, InvalidParameterError),
        (40005, InvalidParameterError),
        (40033, InvalidParameterError),
        (40035, InvalidParameterError),
        (41001, InvalidParameterError),
        (44001, InvalidParameterError),
        (44002, InvalidParameterError),
        (47001, InvalidParameterError),
        (99999, APIError),
        (40007, APIError),
    ],
)
def test_api_error_for_picks_the_class(errcode: int, expected: type[APIError]) -> None:
    error = api_error_for(errcode, "some message", "cgi-bin/kf/send_msg")
    assert type(error) is expected
    assert isinstance(error, APIError)
    assert isinstance(error, WeChatError)
    assert error.errcode == errcode
    assert error.errmsg == "some message"
    assert error.path == "cgi-bin/kf/send_msg"


def test_every_code_belongs_to_one_class() -> None:
    seen: dict[int, type[APIError]] = {}
    for cls in CODED:
        assert cls.codes, cls
        for code in cls.codes:
            assert code not in seen, (code, cls, seen.get(code))
            seen[code] = cls
    assert seen.keys() == errors._REGISTRY.keys()


def test_duplicate_codes_are_refused_when_the_registry_is_built() -> None:
    class ClashError(APIError):
        codes = frozenset({40014})

    with pytest.raises(RuntimeError, match="40014"):
        errors._build_registry(InvalidTokenError, ClashError)


@pytest.mark.parametrize(
    "path",
    [
        "cgi-bin/token",
        "/cgi-bin/gettoken",
        "cgi-bin/stable_token",
        "cgi-bin/component/api_component_token",
        "cgi-bin/service/get_suite_token",
    ],
)
def test_40001_from_a_token_endpoint_is_a_bad_secret(path: str) -> None:
    error = api_error_for(40001, "invalid credential", path)
    assert type(error) is InvalidCredentialError


def test_str_and_repr_show_code_message_and_path() -> None:
    error = api_error_for(40001, "invalid credential", "cgi-bin/user/get")
    assert str(error) == "[40001] invalid credential (cgi-bin/user/get)"
    assert repr(error) == (
        "InvalidTokenError(errcode=40001, errmsg='invalid credential', path='cgi-bin/user/get')"
    )


def test_path_never_keeps_a_query_string() -> None:
    error = APIError(40014, "invalid access_token", "/cgi-bin/user/get?access_token=SECRET&x=1")
    assert error.path == "cgi-bin/user/get"
    assert "SECRET" not in str(error)
    assert "SECRET" not in repr(error)
    transport_error = ConnectError("cannot connect", "cgi-bin/x?secret=SECRET")
    assert transport_error.path == "cgi-bin/x"
    assert "SECRET" not in str(transport_error)
    assert "SECRET" not in repr(transport_error)


def test_transport_errors() -> None:
    assert issubclass(ConnectError, TransportError)
    assert issubclass(RequestTimeoutError, TransportError)
    assert issubclass(InvalidResponseError, TransportError)
    status = HTTPStatusError(502, "cgi-bin/kf/send_msg")
    assert isinstance(status, TransportError)
    assert status.status_code == 502
    assert str(status) == "HTTP 502 (cgi-bin/kf/send_msg)"
    assert repr(status) == "HTTPStatusError(502, path='cgi-bin/kf/send_msg')"
    assert str(TransportError("boom")) == "boom"
    assert issubclass(TokenUnavailableError, WeChatError)
    assert issubclass(ConfigurationError, WeChatError)
    assert issubclass(ConfigurationError, ValueError)
    assert not issubclass(TokenUnavailableError, APIError | TransportError)


@pytest.mark.parametrize(
    "error",
    [
        api_error_for(45009, "api freq out of limit", "cgi-bin/kf/sync_msg"),
        APIError(12345, "odd", "cgi-bin/x"),
        HTTPStatusError(503, "cgi-bin/x"),
        ConnectError("cannot connect", "cgi-bin/x"),
        InvalidResponseError("body is not JSON", "cgi-bin/x"),
        RequestTimeoutError("deadline spent", "cgi-bin/x", may_have_taken_effect=False),
        PoolTimeoutError("no free connection", "cgi-bin/x"),
    ],
)
def test_errors_survive_pickling(error: WeChatError) -> None:
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object, round-tripped
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert repr(copy) == repr(error)
    assert copy.may_have_taken_effect is error.may_have_taken_effect


def test_may_have_taken_effect_says_whether_wechat_may_have_acted() -> None:
    # Refused, or never sent: nothing happened.
    assert not ConnectError("refused", "p").may_have_taken_effect
    assert not PoolTimeoutError("no connection", "p").may_have_taken_effect
    assert not HTTPStatusError(404, "p").may_have_taken_effect
    assert not api_error_for(45009, "quota", "p").may_have_taken_effect
    assert not APIError(40003, "invalid openid", "p").may_have_taken_effect
    assert not TokenUnavailableError("no token").may_have_taken_effect
    assert not ConfigurationError("bad").may_have_taken_effect
    # Sent, and the answer does not prove it was dropped.
    assert RequestTimeoutError("no answer", "p").may_have_taken_effect
    assert HTTPStatusError(502, "p").may_have_taken_effect
    assert InvalidResponseError("not JSON", "p").may_have_taken_effect
    assert TransportError("connection reset", "p").may_have_taken_effect
    assert api_error_for(-1, "system error", "p").may_have_taken_effect
    # The transport knows better in one case: the deadline ran out before sending.
    assert not RequestTimeoutError(
        "deadline", "p", may_have_taken_effect=False
    ).may_have_taken_effect
    assert issubclass(PoolTimeoutError, RequestTimeoutError)
