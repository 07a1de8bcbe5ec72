"""The Clumio client's HTTP on urllib3: one connection pool to the API host, proxies and the CA bundle read once from
the environment with requests' meaning, the retry policy, and each failure named as requests named it."""

from __future__ import annotations

import logging
import os
import threading
import urllib.request
from typing import Any, NamedTuple

import certifi
import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    HTTPError,
    InvalidHeader,
    LocationValueError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
    SSLError,
    URLSchemeUnknown,
)
from urllib3.exceptions import ProxyError as Urllib3ProxyError
from urllib3.util import make_headers, parse_url
from urllib3.util.retry import Retry

# (connect, read) seconds. As for AWS (providers/aws/session.py): a refused or unroutable Clumio endpoint fails in
# seconds (5 s connect timeout, one retry: CONNECT_RETRIES) instead of six backed-off attempts (~30 s measured on a
# closed port); 429 and 5xx answers keep their six retries with Retry-After honoured.
TIMEOUT = (5, 60)
CONNECT_RETRIES = 1
USER_AGENT = "clumio-org"
# What requests sent on every call besides our own headers; kept so Clumio (and any proxy) sees the same request.
_DEFAULT_HEADERS = {"User-Agent": USER_AGENT,
                    "Accept-Encoding": ", ".join(make_headers(accept_encoding=True)["accept-encoding"].split(",")),
                    "Accept": "*/*", "Connection": "keep-alive"}


class _QuietRetries(logging.Filter):
    """urllib3 logs each retry as a WARNING with the full URL ("Retrying (Retry(total=5...)) after connection broken
    by ..."); the run ends in one error line that says the same, so those records are kept for --debug only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Retrying") or logging.getLogger().isEnabledFor(logging.DEBUG)


logging.getLogger("urllib3.connectionpool").addFilter(_QuietRetries())


class ClumioRetry(Retry):
    """urllib3 Retry whose Retry-After wait is capped, so a misbehaving server cannot park a run for hours."""

    RETRY_AFTER_MAX = 120.0

    def get_retry_after(self, response: Any) -> float | None:
        value = super().get_retry_after(response)
        return None if value is None else min(value, self.RETRY_AFTER_MAX)


def make_retry(total: int = 6, backoff_factor: float = 0.5) -> Retry:
    """Retries on 429/5xx and connection errors with exponential backoff, honouring Retry-After.

    Only calls that are safe to repeat are retried: GET, the PUT of org-deployment-parameters (it returns the same
    values each time), and the POST that generates a template, which creates nothing (clumio-api.md §3.2, §7).
    """
    return ClumioRetry(
        total=total, connect=min(total, CONNECT_RETRIES), read=total, status=total, backoff_factor=backoff_factor,
        backoff_max=30,
        status_forcelist=(429, 500, 502, 503, 504), allowed_methods=frozenset({"GET", "HEAD", "PUT", "POST"}),
        respect_retry_after_header=True, raise_on_status=False)


class Reply(NamedTuple):
    """An HTTP answer, its body read whole (and un-gzipped)."""

    status: int
    data: bytes
    content_type: str


class Unreachable(Exception):
    """No answer: ``name`` is the requests exception the same failure raised before (ConnectionError, ReadTimeout,
    SSLError …), which the client's messages name."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class Transport:
    """Calls to the Clumio API through one urllib3 pool (thread-safe, ``pool_size`` connections kept), and plain
    downloads from anywhere. Proxies (HTTPS_PROXY/HTTP_PROXY/ALL_PROXY, NO_PROXY) and the CA bundle
    (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, else certifi's, as requests) are read once, not on every call."""

    def __init__(self, base_url: str, retry: Retry, pool_size: int) -> None:
        self.base_url = base_url
        self.retry = retry
        self._timeout = urllib3.Timeout(connect=TIMEOUT[0], read=TIMEOUT[1])
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
        self._tls: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED",
                                     "ca_cert_dir" if os.path.isdir(bundle) else "ca_certs": bundle}
        self._pool_size = pool_size
        self._managers: dict[str | None, urllib3.PoolManager] = {}
        self._lock = threading.Lock()
        self._api_proxy = _proxy_for(base_url)
        self._pool: tuple[urllib3.HTTPConnectionPool, str] | None = None  # the API host's pool, the base path

    def send(self, method: str, path: str, headers: dict[str, str], body: bytes | None = None) -> Reply:
        """``method`` ``path`` (under the base URL, with its query) to the API, retried by the policy."""
        headers = {**_DEFAULT_HEADERS, **headers}
        if body is not None or method not in ("GET", "HEAD"):
            headers["Content-Length"] = str(len(body or b""))  # last, and on a DELETE too, as requests sent it
        if self._api_proxy is not None:
            return self._open(self._api_proxy, method, self.base_url + path, headers, body)
        # Straight to the API host's pool: PoolManager.urlopen would parse (and re-encode) the whole URL once more
        # on every call, ~0.3 ms of CPU for a listing's 2 KB query.
        try:
            pool, base_path = self._pool or self._api_pool()
            response = pool.urlopen(method, base_path + path, body=body, headers=headers, retries=self.retry,
                                    redirect=False, timeout=self._timeout, preload_content=False)
        except (HTTPError, OSError) as error:
            raise Unreachable(_name_of(error)) from None
        if not response.get_redirect_location():
            return _read(response)
        # Clumio does not redirect; if it ever does, the PoolManager follows it as requests did (Authorization and
        # cookies dropped when it leaves the API host).
        response.drain_conn()
        response.release_conn()
        return self._open(None, method, self.base_url + path, headers, body)

    def fetch(self, url: str) -> Reply:
        """A plain GET of ``url`` (a template's pre-signed URL) through the proxy the environment names for it."""
        return self._open(_proxy_for(url), "GET", url, dict(_DEFAULT_HEADERS), None)

    def _open(self, proxy: str | None, method: str, url: str, headers: dict[str, str], body: bytes | None) -> Reply:
        try:
            manager = self._managers.get(proxy) or self._manager(proxy)
            response = manager.urlopen(method, url, body=body, headers=headers, retries=self.retry,
                                       timeout=self._timeout, preload_content=False)
        except (HTTPError, OSError) as error:
            raise Unreachable(_name_of(error)) from None
        return _read(response)

    def _api_pool(self) -> tuple[urllib3.HTTPConnectionPool, str]:
        url = parse_url(self.base_url)
        if url.scheme not in ("http", "https"):
            raise URLSchemeUnknown(str(url.scheme))
        self._pool = self._manager(None).connection_from_url(self.base_url), url.path or ""
        return self._pool

    def _manager(self, proxy: str | None) -> urllib3.PoolManager:
        with self._lock:
            if proxy not in self._managers:
                if proxy is None:
                    self._managers[None] = urllib3.PoolManager(maxsize=self._pool_size, **self._tls)
                else:
                    self._managers[proxy] = _proxy_manager(proxy, self._pool_size, self._tls)
            return self._managers[proxy]


def _read(response: Any) -> Reply:
    """The whole body, with a broken read named as requests' Response.content named it."""
    try:
        data = response.read(decode_content=True)
    except ProtocolError:
        raise Unreachable("ChunkedEncodingError") from None
    except DecodeError:
        raise Unreachable("ContentDecodingError") from None
    except ReadTimeoutError:
        raise Unreachable("ConnectionError") from None
    except SSLError:
        raise Unreachable("SSLError") from None
    finally:
        response.release_conn()
    return Reply(response.status, data, response.headers.get("Content-Type", ""))


# What requests.adapters.HTTPAdapter.send raised for each urllib3 failure that came out of urlopen (first match).
_REQUESTS_NAMES: tuple[tuple[type[BaseException], str], ...] = (
    (URLSchemeUnknown, "InvalidSchema"),  # requests had no adapter for the scheme
    (LocationValueError, "InvalidURL"),
    (ProtocolError, "ConnectionError"),
    (Urllib3ProxyError, "ProxyError"),
    (SSLError, "SSLError"),
    (ReadTimeoutError, "ReadTimeout"),  # a method the policy does not retry
    (InvalidHeader, "InvalidHeader"),
)


def _name_of(error: BaseException) -> str:
    """The name of the requests exception that stood for this failure, so messages read as before."""
    if isinstance(error, MaxRetryError):
        reason = error.reason
        if isinstance(reason, ConnectTimeoutError) and not isinstance(reason, NewConnectionError):
            return "ConnectTimeout"
        if isinstance(reason, ResponseError):
            return "RetryError"
        if isinstance(reason, Urllib3ProxyError):
            return "ProxyError"
        return "SSLError" if isinstance(reason, SSLError) else "ConnectionError"
    name = next((name for kind, name in _REQUESTS_NAMES if isinstance(error, kind)), None)
    if name is not None:
        return name
    if isinstance(error, HTTPError):
        return type(error).__name__  # requests let these through unnamed
    # requests' own errors (a proxy URL without a host, SOCKS without PySocks) keep their names; any other OSError
    # was a ConnectionError.
    return type(error).__name__ if type(error).__module__.startswith("requests") else "ConnectionError"


def _proxy_for(url: str) -> str | None:
    """The proxy requests would take for ``url``: requests' own reading of HTTP(S)_PROXY/ALL_PROXY and NO_PROXY
    (CIDR ranges, host:port), imported only when the environment names any proxy at all."""
    if not urllib.request.getproxies():  # then requests' get_environ_proxies is empty too, bypassed or not
        return None
    from requests.utils import get_environ_proxies, prepend_scheme_if_needed, select_proxy

    proxy = select_proxy(url, get_environ_proxies(url))
    return str(prepend_scheme_if_needed(proxy, "http")) if proxy else None  # type: ignore[no-untyped-call]


def _proxy_manager(proxy: str, pool_size: int, tls: dict[str, Any]) -> urllib3.PoolManager:
    """The urllib3 ProxyManager (or SOCKSProxyManager) requests built for ``proxy``, with its Proxy-Authorization."""
    from requests.adapters import HTTPAdapter
    from requests.exceptions import InvalidProxyURL

    if not parse_url(proxy).host:
        raise InvalidProxyURL("Please check proxy URL. It is malformed and could be missing the host.")
    manager: urllib3.PoolManager = HTTPAdapter(pool_maxsize=pool_size).proxy_manager_for(proxy, **tls)
    return manager


def text_of(reply: Reply) -> str:
    """The body as text, decoded as requests' Response.text did: the charset the Content-Type names, else
    ISO-8859-1 for text/*, else UTF-8 (what requests' detection finds for an ASCII or UTF-8 body)."""
    media, *params = reply.content_type.split(";")
    charset = next((value.strip().strip("'\"") for key, _, value in (p.strip().partition("=") for p in params)
                    if key.strip().lower() == "charset"), None)
    encoding = charset or ("ISO-8859-1" if "text" in media else "utf-8")
    try:
        return str(reply.data, encoding, errors="replace")
    except LookupError:
        return str(reply.data, errors="replace")
