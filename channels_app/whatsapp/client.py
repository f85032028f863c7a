"""The one module that speaks Graph over HTTP.

Every call has an explicit (connect, read) timeout and turns failures into GraphError subclasses:
- non-2xx answers are parsed from Meta's envelope and classified by code;
- a connection that never opened is GraphUnavailable (the request did not reach Meta);
- a read timeout or a connection dropped after sending is GraphOutcomeUnknown (it may have).
GETs and DELETEs are retried here; POSTs never are, because only the send pipeline knows whether a
resend is safe.
"""

from __future__ import annotations

import http.cookiejar
import logging
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from whatsapp_platform.deadlines import DeadlineAdapter, DeadlineExceeded, total_deadline

from .errors import (
    OUTCOME_UNKNOWN,
    RETRY_ONCE,
    RETRYABLE,
    GraphError,
    GraphOutcomeUnknown,
    GraphUnavailable,
    MediaTooLarge,
    MediaUrlExpired,
    graph_error_from_response,
    retry_delay,
)
from .payloads import TEMPLATE_NAME_RE, PayloadInvalid, mark_read_payload

__all__ = [
    "GraphClient",
    "GraphError",
    "GraphOutcomeUnknown",
    "GraphUnavailable",
    "MediaTooLarge",
    "MediaUrlExpired",
    "graph_client_for",
    "wamid_from_response",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _new_session() -> requests.Session:
    session = requests.Session()
    # Shared across threads and tenants: keep it stateless apart from the connection pool, so no cookie
    # set by one answer is sent with another tenant's request.
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    # max_retries=0: urllib3 must never resend on its own; this module decides what is safe to retry.
    adapter = DeadlineAdapter(pool_connections=8, pool_maxsize=32, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


# Shared by every client that is not given its own session: one connection pool per process.
_SHARED_SESSION = _new_session()

_DOWNLOAD_CHUNK = 64 * 1024


def _path_part(value: str) -> str:
    text = str(value)
    if not text:
        raise PayloadInvalid("an id in the Graph path is empty", field="id", value=value, limit="non-empty")
    return quote(text, safe="")


def _loggable(url: str) -> str:
    # Query strings can hold secrets (client_secret, app tokens, signed media ids): never log them.
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _connect_failed(exc: requests.ConnectionError) -> bool:
    """True when the TCP/TLS connection never opened, so nothing was sent."""
    if isinstance(exc, requests.exceptions.ProxyError | requests.exceptions.SSLError):
        return True
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


def wamid_from_response(resp: dict) -> str:
    """The wamid Meta assigned to an accepted message."""
    try:
        wamid = resp["messages"][0]["id"]
    except (KeyError, IndexError, TypeError):
        wamid = None
    if not isinstance(wamid, str) or not wamid:
        # 2xx without an id: Meta probably accepted it, but we cannot tell which message it is.
        raise GraphOutcomeUnknown(title="Send accepted without a message id", details=str(resp)[:200])
    return wamid


BUSINESS_PROFILE_FIELDS = "about,address,description,email,profile_picture_url,websites,vertical"


class GraphClient:
    """A Graph API client for one access token. Cheap to create; connections are pooled per process."""

    def __init__(
        self,
        *,
        base_url: str,
        version: str,
        access_token: str,
        connect_timeout: float = 3.05,
        read_timeout: float = 20.0,
        total_timeout: float = 30.0,
        media_total_timeout: float = 120.0,
        session: requests.Session | None = None,
        max_get_retries: int = 2,
        retry_base: float = 1.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.version = version.strip("/")
        self._access_token = access_token
        self.timeout = (connect_timeout, read_timeout)
        # Whole exchanges, whatever the pace of the answer (per-read timeouts alone let a drip last for ever).
        self.total_timeout = total_timeout
        self.media_total_timeout = media_total_timeout
        self.session = session or _SHARED_SESSION
        self.max_get_retries = max_get_retries
        self.retry_base = retry_base

    def __repr__(self) -> str:  # never show the token
        return f"GraphClient(base_url={self.base_url!r}, version={self.version!r})"

    # --- plumbing ----------------------------------------------------------------------------

    def _url(self, *parts: str) -> str:
        prefix = f"{self.base_url}/{self.version}" if self.version else self.base_url
        return "/".join([prefix, *parts])

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: dict | None = None,
        json: Any = None,
        data: dict | None = None,
        files: dict | None = None,
        auth: bool = True,
        stream: bool = False,
        extra_headers: dict | None = None,
    ) -> requests.Response:
        """One HTTP exchange; returns a 2xx response or raises a GraphError."""
        headers = {"Authorization": f"Bearer {self._access_token}"} if auth else {}
        headers.update(extra_headers or {})
        where = f"{method} {_loggable(url)}"
        try:
            # A streamed body is read after this returns: media_download holds that deadline.
            with total_deadline(self.media_total_timeout if stream else self.total_timeout) as deadline:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    data=data,
                    files=files,
                    headers=headers,
                    timeout=deadline.timeouts(*self.timeout),
                    stream=stream,
                    allow_redirects=method == "GET",
                )
        except DeadlineExceeded as exc:
            logger.warning("Graph %s: no complete answer within %g s", where, exc.seconds)
            raise GraphOutcomeUnknown(title="Graph did not answer in time", details=type(exc).__name__)
        except requests.ConnectTimeout as exc:
            logger.warning("Graph %s: connect timeout", where)
            raise GraphUnavailable(title="Could not connect to Graph (timeout)", details=type(exc).__name__)
        except requests.ReadTimeout as exc:
            logger.warning("Graph %s: read timeout after sending", where)
            raise GraphOutcomeUnknown(title="Graph did not answer in time", details=type(exc).__name__)
        except requests.ConnectionError as exc:
            if _connect_failed(exc):
                logger.warning("Graph %s: connection failed before sending", where)
                raise GraphUnavailable(title="Could not connect to Graph", details=type(exc).__name__)
            logger.warning("Graph %s: connection dropped after sending", where)
            raise GraphOutcomeUnknown(title="Graph connection dropped before an answer", details=type(exc).__name__)
        except requests.exceptions.ChunkedEncodingError as exc:
            logger.warning("Graph %s: answer cut short", where)
            raise GraphOutcomeUnknown(title="Graph answer cut short", details=type(exc).__name__)
        if 200 <= response.status_code < 300:
            return response
        try:
            body = response.content
        except requests.RequestException:
            body = b""
        error = graph_error_from_response(response.status_code, body)
        logger.warning(
            "Graph %s: HTTP %s code=%s kind=%s fbtrace_id=%s: %s",
            where,
            response.status_code,
            error.code,
            error.kind.value,
            error.fbtrace_id,
            error.title,
        )
        response.close()
        raise error

    def _json(self, response: requests.Response, *, method: str) -> dict:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            raise graph_error_from_response(response.status_code, body)
        if not isinstance(body, dict):
            detail = response.text[:200]
            if method == "POST":
                raise GraphOutcomeUnknown(
                    http_status=response.status_code, title="Graph answered 2xx without JSON", details=detail
                )
            raise GraphError(
                http_status=response.status_code,
                title="Graph answered 2xx without JSON",
                details=detail,
                kind=RETRYABLE,
            )
        return body

    def _idempotent(self, call: Callable[[], T], *, what: str) -> T:
        """Run a GET/DELETE, retrying outages and timeouts up to max_get_retries times."""
        attempt = 0
        while True:
            try:
                return call()
            except GraphError as error:
                retryable = error.kind in (RETRYABLE, OUTCOME_UNKNOWN) or (error.kind == RETRY_ONCE and attempt == 0)
                if isinstance(error, MediaUrlExpired | MediaTooLarge) or not retryable:
                    raise
                if attempt >= self.max_get_retries:
                    raise
                delay = retry_delay(attempt, base=self.retry_base, cap=30.0)
                logger.info("Graph %s: retrying in %.2fs after %r", what, delay, error)
                time.sleep(delay)
                attempt += 1

    def _get(self, *parts: str, params: dict | None = None, auth: bool = True, retry: bool = True) -> dict:
        url = self._url(*parts)

        def call() -> dict:
            return self._json(self._send("GET", url, params=params, auth=auth), method="GET")

        return self._idempotent(call, what=f"GET {_loggable(url)}") if retry else call()

    def _delete(self, *parts: str, params: dict | None = None) -> dict:
        url = self._url(*parts)

        def call() -> dict:
            return self._json(self._send("DELETE", url, params=params), method="DELETE")

        return self._idempotent(call, what=f"DELETE {_loggable(url)}")

    def _post(self, *parts: str, json: Any = None, data: dict | None = None, files: dict | None = None) -> dict:
        return self._json(self._send("POST", self._url(*parts), json=json, data=data, files=files), method="POST")

    # --- messages ----------------------------------------------------------------------------

    def message_send(self, phone_number_id: str, payload: dict) -> dict:
        """POST a body built by payloads.message_payload. Never retried here: see GraphOutcomeUnknown."""
        return self._post(_path_part(phone_number_id), "messages", json=payload)

    def message_mark_read(self, phone_number_id: str, wamid: str, *, typing: bool = False) -> None:
        self._post(_path_part(phone_number_id), "messages", json=mark_read_payload(wamid, typing=typing))

    # --- media -------------------------------------------------------------------------------

    def media_upload(self, phone_number_id: str, *, content: bytes, mime_type: str, filename: str) -> str:
        """Upload a file for sending; returns the media id (valid 30 days)."""
        resp = self._post(
            _path_part(phone_number_id),
            "media",
            data={"messaging_product": "whatsapp", "type": mime_type},
            files={"file": (filename, content, mime_type)},
        )
        media_id = resp.get("id")
        if not media_id:
            raise GraphOutcomeUnknown(title="Upload accepted without a media id", details=str(resp)[:200])
        return str(media_id)

    def media_info(self, media_id: str, *, phone_number_id: str | None = None) -> dict:
        """`{url, mime_type, sha256, file_size, id}`; the url lives 5 minutes. file_size is an int."""
        params = {"phone_number_id": phone_number_id} if phone_number_id else None
        info = self._get(_path_part(media_id), params=params)
        try:
            info["file_size"] = int(info["file_size"])
        except (KeyError, TypeError, ValueError):
            info["file_size"] = None
        return info

    def media_download(self, url: str, *, max_bytes: int) -> tuple[bytes, str]:
        """Download a media URL from media_info or a webhook; returns (content, content type).

        Precondition: the URL came from Meta, because the bearer token is sent to it. A 404 raises
        MediaUrlExpired (fetch a fresh URL); a body over max_bytes raises MediaTooLarge.
        """

        def call() -> tuple[bytes, str]:
            try:
                with total_deadline(self.media_total_timeout):
                    return download()
            except DeadlineExceeded as exc:
                logger.warning("Graph GET %s: media not downloaded within %g s", _loggable(url), exc.seconds)
                raise GraphOutcomeUnknown(title="Media download did not finish in time", details=type(exc).__name__)

        def download() -> tuple[bytes, str]:
            try:
                response = self._send("GET", url, stream=True)
            except GraphError as error:
                if error.http_status == 404:
                    raise MediaUrlExpired(
                        http_status=404,
                        code=error.code,
                        title="Media URL expired or not found",
                        details=error.details,
                        fbtrace_id=error.fbtrace_id,
                    )
                raise
            with response:
                content_type = response.headers.get("Content-Type", "application/octet-stream")
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise MediaTooLarge(title=f"Media is {int(declared):,} bytes; the limit is {max_bytes:,}")
                chunks, total = [], 0
                try:
                    for chunk in response.iter_content(_DOWNLOAD_CHUNK):
                        total += len(chunk)
                        if total > max_bytes:
                            raise MediaTooLarge(title=f"Media is over the limit of {max_bytes:,} bytes")
                        chunks.append(chunk)
                except requests.RequestException as exc:
                    raise GraphOutcomeUnknown(title="Media download cut short", details=type(exc).__name__)
            return b"".join(chunks), content_type

        return self._idempotent(call, what=f"GET {_loggable(url)}")

    def media_delete(self, media_id: str) -> None:
        self._delete(_path_part(media_id))

    # --- templates ---------------------------------------------------------------------------

    def templates_page(
        self, waba_id: str, *, after: str | None = None, limit: int = 100
    ) -> tuple[list[dict], str | None]:
        """One page of templates and the cursor for the next page (None on the last page)."""
        params: dict[str, Any] = {"limit": limit}
        if after:
            params["after"] = after
        resp = self._get(_path_part(waba_id), "message_templates", params=params)
        return _data_list(resp), _next_cursor(resp)

    def templates_all(self, waba_id: str) -> list[dict]:
        templates: list[dict] = []
        after: str | None = None
        seen: set[str] = set()
        while True:
            page, after = self.templates_page(waba_id, after=after)
            templates.extend(page)
            if after is None or after in seen:  # a repeated cursor would loop forever
                return templates
            seen.add(after)

    def template_create(self, waba_id: str, definition: dict) -> dict:
        """`{id, status, category}`. The name is checked locally first."""
        name = definition.get("name")
        if not isinstance(name, str) or not TEMPLATE_NAME_RE.fullmatch(name):
            raise PayloadInvalid(
                f"template name {name!r} may only hold lowercase letters, digits and _ (≤512)",
                field="name",
                value=name,
                limit="[a-z0-9_]{1,512}",
            )
        return self._post(_path_part(waba_id), "message_templates", json=definition)

    def template_delete(self, waba_id: str, *, name: str, hsm_id: str | None = None) -> None:
        """Without hsm_id, deletes the template in every language."""
        params = {"name": name} | ({"hsm_id": hsm_id} if hsm_id else {})
        self._delete(_path_part(waba_id), "message_templates", params=params)

    # --- onboarding --------------------------------------------------------------------------

    def oauth_code_exchange(self, *, app_id: str, app_secret: str, code: str) -> dict:
        """Swap an Embedded Signup code (30 s TTL) for a business token: `{access_token, ...}`.

        Authenticates with the app secret, not this client's token. Not retried: a code is single-use, so
        a retry after a lost answer would fail anyway.
        """
        params = {"client_id": app_id, "client_secret": app_secret, "code": code}
        return self._get("oauth", "access_token", params=params, auth=False, retry=False)

    def debug_token(self, *, input_token: str, app_id: str, app_secret: str) -> dict:
        """The token's `data`: is_valid, expires_at (0 = never), scopes, granular_scopes, app_id."""
        params = {"input_token": input_token, "access_token": f"{app_id}|{app_secret}"}
        resp = self._get("debug_token", params=params, auth=False)
        data = resp.get("data")
        return data if isinstance(data, dict) else {}

    def phone_numbers_list(self, waba_id: str) -> list[dict]:
        numbers: list[dict] = []
        params: dict[str, Any] = {"limit": 100}
        seen: set[str] = set()
        while True:
            resp = self._get(_path_part(waba_id), "phone_numbers", params=params)
            numbers.extend(_data_list(resp))
            after = _next_cursor(resp)
            if after is None or after in seen:
                return numbers
            seen.add(after)
            params = {"limit": 100, "after": after}

    def phone_number_get(self, phone_number_id: str, *, fields: list[str]) -> dict:
        params = {"fields": ",".join(fields)} if fields else None
        return self._get(_path_part(phone_number_id), params=params)

    def phone_number_register(self, phone_number_id: str, *, pin: str) -> None:
        """Register a number for Cloud API. At most 10 register calls per 72 h: don't loop on failure."""
        if not isinstance(pin, str) or not re.fullmatch(r"\d{6}", pin):
            raise PayloadInvalid(
                "two-step verification PIN must be exactly 6 digits",
                field="pin",
                value="******" if isinstance(pin, str) else pin,
                limit="6 digits",
            )
        self._post(_path_part(phone_number_id), "register", json={"messaging_product": "whatsapp", "pin": pin})

    def subscribed_apps_list(self, waba_id: str) -> list[dict]:
        return _data_list(self._get(_path_part(waba_id), "subscribed_apps"))

    def subscribed_apps_add(
        self, waba_id: str, *, override_callback_uri: str | None = None, verify_token: str | None = None
    ) -> None:
        """Subscribe our app to the WABA's webhooks, optionally to a per-WABA callback URL."""
        body: dict[str, str] = {}
        if override_callback_uri is not None or verify_token is not None:
            if not override_callback_uri or not verify_token:
                raise PayloadInvalid(
                    "override_callback_uri and verify_token go together",
                    field="verify_token",
                    value=None,
                    limit="both or neither",
                )
            if len(override_callback_uri) > 200:
                raise PayloadInvalid(
                    f"override_callback_uri is {len(override_callback_uri)} characters; WhatsApp allows 200",
                    field="override_callback_uri",
                    value=override_callback_uri,
                    limit=200,
                )
            if not override_callback_uri.startswith("https://"):
                raise PayloadInvalid(
                    "override_callback_uri must be an https URL (self-signed TLS is refused)",
                    field="override_callback_uri",
                    value=override_callback_uri,
                    limit="https",
                )
            body = {"override_callback_uri": override_callback_uri, "verify_token": verify_token}
        self._post(_path_part(waba_id), "subscribed_apps", json=body)

    def subscribed_apps_remove(self, waba_id: str) -> None:
        self._delete(_path_part(waba_id), "subscribed_apps")

    # --- business profile ------------------------------------------------------------------------

    def business_profile_get(self, phone_number_id: str) -> dict:
        body = self._get(phone_number_id, "whatsapp_business_profile", params={"fields": BUSINESS_PROFILE_FIELDS})
        data = body.get("data") or [{}]
        return data[0] if isinstance(data, list) and data else {}

    def business_profile_update(self, phone_number_id: str, profile: dict) -> None:
        """Set profile fields (validate them first with payloads.business_profile_check)."""
        self._post(phone_number_id, "whatsapp_business_profile", json={"messaging_product": "whatsapp", **profile})

    def resumable_upload(self, *, app_id: str, content: bytes, mime_type: str, filename: str) -> str:
        """Meta's Resumable Upload API (profile photos, template media): returns the file handle."""
        session = self._json(
            self._send(
                "POST",
                self._url(app_id, "uploads"),
                params={"file_length": len(content), "file_type": mime_type, "file_name": filename},
            ),
            method="POST",
        )
        upload_id = str(session.get("id") or "")
        if not upload_id:
            raise GraphOutcomeUnknown(title="Graph opened no upload session", details=str(session)[:200])
        answer = self._json(
            self._send("POST", self._url(upload_id), data=content, extra_headers={"file_offset": "0"}),
            method="POST",
        )
        handle = str(answer.get("h") or "")
        if not handle:
            raise GraphOutcomeUnknown(title="Graph returned no file handle", details=str(answer)[:200])
        return handle


def _data_list(resp: dict) -> list[dict]:
    data = resp.get("data")
    return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []


def _next_cursor(resp: dict) -> str | None:
    paging = resp.get("paging")
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    return after if isinstance(after, str) and after else None


def graph_client_for(*, base_url: str, version: str, access_token: str, **kw: Any) -> GraphClient:
    return GraphClient(base_url=base_url, version=version, access_token=access_token, **kw)
