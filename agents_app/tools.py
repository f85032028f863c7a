"""Business tools an agent may call besides the built-in WhatsApp ones: a workspace's HTTP endpoints.

A workspace describes an endpoint as an `HttpTool`: the name and description the model sees, a
JSON schema of its arguments, a method and a URL template. In a turn the model asks for the tool;
`http_tool_run` checks the arguments, fills the URL, calls the endpoint and returns a dict that
goes back to the model as the tool result and into `AgentRun.tool_calls`. It never raises: every
failure is `{"ok": False, "error": ...}` worded so the model, and whoever reads the run, knows why.

Server-side request forgery: the model picks argument values and a workspace picks the URL, and
neither may point the platform at its own network. Before connecting, the host is resolved once
and refused when any of its addresses is private, loopback, link-local, multicast, reserved or
unspecified, unless `settings.AGENT_TOOL_ALLOWED_HOSTS` lists it. The request then goes to the
address we vetted, not to a second lookup that a rebinding DNS server could answer differently
(see `whatsapp_platform.outbound_http`). Redirects are followed only on the same scheme, host and port, each hop
vetted again, so the tool's headers never travel to another origin.
"""

import json
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urljoin, urlsplit, urlunsplit

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from urllib3.exceptions import ReadTimeoutError

from agents_app.models import Agent, HttpTool
from agents_app.providers.base import ToolSpec
from audit_app.services import audit_diff, audit_record, audit_stored_snapshot
from messaging_app.services.contact_admin import contact_changes_from_tool
from whatsapp_platform import outbound_http
from whatsapp_platform.deadlines import DeadlineExceeded, total_deadline
from whatsapp_platform.errors import InvalidInput

logger = logging.getLogger(__name__)

# The names agents_app/turns.py handles itself; a workspace's tool may not shadow them.
BUILT_IN_TOOLS = frozenset({"send_buttons", "send_list", "handoff_to_human"})
TOOL_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")
HEADER_VALUE = re.compile(r"[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?")  # printable ASCII, no edge spaces
HEADERS_SET_BY_US = frozenset({"host", "content-length", "transfer-encoding", "connection"})
ARGUMENT_TYPES = ("string", "number", "integer", "boolean", "array", "object")
MAX_TIMEOUT_SECONDS = 30
RESPONSE_LIMIT_BYTES = 64 * 1024
MAX_REDIRECTS = 3
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "WhatsAppAgentPlatform-HttpTool/1.0"
# Placeholders the platform fills with the conversation's customer, never offered to the model: a tool that
# looks up "this customer" cannot be pointed at another one by what the model (or the customer) writes.
CUSTOMER_PLACEHOLDERS = {
    "customer.wa_id": ("wa_id", "WhatsApp number"),
    "customer.user_id": ("user_id", "business-scoped user id (BSUID)"),
}
HTTP_TOOL_FIELDS = ("name", "description", "parameters", "method", "url_template", "timeout_seconds", "enabled")


# --- configuring tools ---------------------------------------------------------------------


def http_tool_validate(*, tool: HttpTool) -> None:
    """Raise InvalidInput, naming the field, unless the tool can be offered to a model and called.

    `tool.headers` is the JSON text about to be stored. Call before saving; the unique name is
    checked here for a readable message and again by the database constraint.
    """
    if not TOOL_NAME.fullmatch(tool.name or ""):
        raise InvalidInput(
            "The name must start with a lowercase letter and hold only a-z, 0-9 and _ "
            "(at most 64 characters), e.g. order_status.",
            field="name",
        )
    if tool.name in BUILT_IN_TOOLS:
        raise InvalidInput(f"{tool.name} is a built-in tool; choose another name.", field="name")
    if HttpTool.objects.filter(agent_id=tool.agent_id, name=tool.name).exclude(pk=tool.pk).exists():
        raise InvalidInput(f"This agent already has a tool named {tool.name}.", field="name")
    if not (tool.description or "").strip():
        raise InvalidInput("Describe what the tool does and when the agent should use it.", field="description")
    _schema_check(tool.parameters)
    if tool.method not in HttpTool.Method.values:
        raise InvalidInput(f"Choose a method: {', '.join(HttpTool.Method.values)}.", field="method")
    _url_template_check(tool.url_template or "", tool.parameters)
    _headers_parse(tool.headers or "")
    timeout = tool.timeout_seconds
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= MAX_TIMEOUT_SECONDS:
        raise InvalidInput(
            f"The timeout must be a whole number of seconds from 1 to {MAX_TIMEOUT_SECONDS}.", field="timeout_seconds"
        )


def http_tool_create(
    *,
    agent: Agent,
    name: str,
    description: str,
    url_template: str,
    method: str = HttpTool.Method.GET,
    parameters: dict | None = None,
    headers: dict | None = None,
    timeout_seconds: int = 10,
    enabled: bool = True,
) -> HttpTool:
    tool = HttpTool(
        agent=agent,
        name=(name or "").strip(),
        description=description,
        url_template=(url_template or "").strip(),
        method=method,
        parameters={"type": "object", "properties": {}} if parameters is None else parameters,
        headers=_headers_text(headers),
        timeout_seconds=timeout_seconds,
        enabled=enabled,
    )
    return _save(tool)


def http_tool_update(*, tool: HttpTool, values: dict, headers: dict | None = None) -> HttpTool:
    """Change the fields in `values` (HTTP_TOOL_FIELDS). `headers=None` keeps the stored ones; {} clears them."""
    for field in HTTP_TOOL_FIELDS:
        if field in values:
            setattr(tool, field, values[field])
    if headers is not None:
        tool.headers = _headers_text(headers)
    return _save(tool)


def _save(tool: HttpTool) -> HttpTool:
    http_tool_validate(tool=tool)
    before = audit_stored_snapshot(HttpTool, tool.pk)
    try:
        with transaction.atomic():
            tool.save()
            audit_record(
                action="agent.tool_updated" if before else "agent.tool_added",
                workspace=tool.agent.workspace_id,
                target=tool,
                changes=audit_diff(before, tool),
            )
    except IntegrityError:
        # Two people saved the same name at once; the constraint caught the second.
        raise InvalidInput(f"This agent already has a tool named {tool.name}.", field="name")
    return tool


@transaction.atomic
def http_tool_delete(*, tool: HttpTool) -> None:
    tool_id = tool.pk
    tool.delete()
    audit_record(
        action="agent.tool_removed", workspace=tool.agent.workspace_id, target=("httptool", tool_id, tool.name)
    )


def _headers_text(headers: Any) -> str:
    if not headers:
        return ""
    try:
        return json.dumps(headers)
    except (TypeError, ValueError):
        raise InvalidInput("Headers must be a JSON object of header name → text value.", field="headers")


def _schema_check(schema: Any) -> None:
    example = '{"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}'
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise InvalidInput(f"Parameters must be a JSON schema of type object, e.g. {example}.", field="parameters")
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        raise InvalidInput("The schema's properties must be an object of name → schema.", field="parameters")
    for key, spec in properties.items():
        if not PARAMETER_NAME.fullmatch(key):
            raise InvalidInput(
                f"Parameter name {key!r} must start with a letter or _ and hold only letters, digits and _.",
                field="parameters",
            )
        if not isinstance(spec, dict):
            raise InvalidInput(f"Parameter {key} must be described by a schema object.", field="parameters")
        if "type" in spec and spec["type"] not in ARGUMENT_TYPES:
            raise InvalidInput(
                f"Parameter {key} has type {spec['type']!r}; use one of {', '.join(ARGUMENT_TYPES)}.",
                field="parameters",
            )
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(key, str) for key in required):
        raise InvalidInput("The schema's required must be a list of parameter names.", field="parameters")
    unknown = [key for key in required if key not in properties]
    if unknown:
        raise InvalidInput(f"Required parameter(s) {', '.join(unknown)} are not in properties.", field="parameters")


def _url_template_check(template: str, schema: dict) -> None:
    properties = schema.get("properties") or {}
    for key in PLACEHOLDER.findall(template):
        if key not in properties and key not in CUSTOMER_PLACEHOLDERS:
            known = ", ".join(properties) or "none defined"
            customer = ", ".join(f"{{{name}}}" for name in CUSTOMER_PLACEHOLDERS)
            raise InvalidInput(
                f"The URL uses {{{key}}}, which is not a parameter (parameters: {known}; the conversation's "
                f"customer: {customer}).",
                field="url_template",
            )
    skeleton = PLACEHOLDER.sub("x", template)
    if "{" in skeleton or "}" in skeleton:
        raise InvalidInput("The URL has an unmatched { or }.", field="url_template")
    if any(char.isspace() for char in template):
        raise InvalidInput("The URL must not contain spaces.", field="url_template")
    parts = urlsplit(skeleton)
    try:
        parts.port  # noqa: B018 (parsing the port is the check)
    except ValueError:
        raise InvalidInput("The URL's port is not a number from 0 to 65535.", field="url_template")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("The URL must start with https:// (or http://) and name a host.", field="url_template")
    if parts.username or parts.password:
        raise InvalidInput("Put credentials in the headers, not in the URL.", field="url_template")
    if "{" in urlsplit(template).netloc:
        # The model would choose where the request goes.
        raise InvalidInput("Placeholders may appear in the path and query, not in the host.", field="url_template")


def _headers_parse(text: str) -> dict[str, str]:
    """The stored headers; messages name a bad header but never repeat a value (they are secrets)."""
    if not text:
        return {}
    try:
        headers = json.loads(text)
    except ValueError:
        headers = None
    if not isinstance(headers, dict):
        raise InvalidInput("Headers must be a JSON object of header name → text value.", field="headers")
    for name, value in headers.items():
        if not HEADER_NAME.fullmatch(name):
            raise InvalidInput(f"{name!r} is not a valid header name.", field="headers")
        if name.lower() in HEADERS_SET_BY_US:
            raise InvalidInput(f"The {name} header is set by the platform.", field="headers")
        if not isinstance(value, str) or not HEADER_VALUE.fullmatch(value):
            raise InvalidInput(
                f"The value of the {name} header must be printable ASCII text on one line.", field="headers"
            )
    return headers


# --- offering and running tools in a turn --------------------------------------------------


def agent_tool_specs(*, agent: Agent) -> list[ToolSpec]:
    """The agent's enabled HTTP tools, as the model is offered them."""
    return [
        ToolSpec(
            name=tool.name,
            description=tool.description,
            parameters={"type": "object", "properties": {}, **tool.parameters},
        )
        for tool in agent.http_tools.filter(enabled=True)
    ]


class _ToolFailed(Exception):
    """A failure the model is told about; the message holds no header value."""


class _Retryable(_ToolFailed):
    pass


@dataclass
class _Answer:
    status: int
    content_type: str
    encoding: str | None
    content: bytes
    truncated: bool


def http_tool_run(*, agent: Agent, name: str, arguments: dict, contact=None) -> dict:
    """Call the agent's enabled tool `name` with the model's arguments; never raises.

    Returns {"ok": True, "status", "body"} for a 1xx-3xx answer, otherwise {"ok": False, "error"}
    (with "status" and "body" when the service answered 4xx/5xx). The dict is shown to the model
    and stored in AgentRun.tool_calls, so it never holds the tool's header values.

    With `contact` (the customer of the conversation the turn is for), a successful JSON-object answer
    may update that customer: `set_contact_attributes` (object; null removes a key), `add_contact_tags`,
    `remove_contact_tags` (lists). The result then says what changed (`contact_updated`) or why nothing
    did (`contact_update_error`).
    """
    tool = agent.http_tools.filter(name=name, enabled=True).first()
    if tool is None:
        return {"ok": False, "error": f"Unknown tool {name!r}."}
    arguments = arguments if isinstance(arguments, dict) else {}
    try:
        problem = _arguments_problem(tool.parameters, arguments)
        if problem:
            return _failed(tool, problem)
        method, url, body = _request_build(tool, arguments, contact)
        answer = _call(tool, method, url, body)
    except _ToolFailed as failure:
        return _failed(tool, str(failure))
    except Exception as exc:
        # A safety net: the turn must go on. Only the type is logged, since an exception's
        # message could quote a header value.
        return _failed(tool, f"The tool failed unexpectedly ({type(exc).__name__}).")
    body = _body(answer)
    if answer.status >= 400:
        logger.warning(
            "http tool answered an error",
            extra={"agent_id": tool.agent_id, "tool": tool.name, "status": answer.status},
        )
        result = {"ok": False, "error": f"The service answered {answer.status}.", "status": answer.status, "body": body}
    else:
        result = {"ok": True, "status": answer.status, "body": body}
        if contact is not None:
            result.update(_contact_changes_apply(tool, contact, body))
    if answer.truncated:
        result["truncated"] = True
        result["note"] = f"Only the first {RESPONSE_LIMIT_BYTES // 1024} KB of the answer were read."
    return result


def _contact_changes_apply(tool: HttpTool, contact, body: Any) -> dict:
    """What the answer asked of the customer, applied all or nothing (see http_tool_run)."""
    try:
        changes = contact_changes_from_tool(contact=contact, body=body, tool_name=tool.name)
    except InvalidInput as exc:
        logger.warning(
            "http tool's contact update refused",
            extra={"agent_id": tool.agent_id, "tool": tool.name, "error": exc.message},
        )
        return {"contact_update_error": exc.message}
    return {"contact_updated": changes} if changes is not None else {}


def _failed(tool: HttpTool, error: str) -> dict:
    logger.warning("http tool call failed", extra={"agent_id": tool.agent_id, "tool": tool.name, "error": error})
    return {"ok": False, "error": error}


def _arguments_problem(schema: dict, arguments: dict) -> str | None:
    properties = schema.get("properties") or {}
    for key in schema.get("required") or []:
        if arguments.get(key) in (None, ""):
            return f"Missing required argument {key!r}."
    for key, value in arguments.items():
        spec = properties.get(key)
        if not isinstance(spec, dict) or value is None or "type" not in spec:
            continue
        if not _has_type(value, spec["type"]):
            return f"Argument {key!r} must be of type {spec['type']}, not {type(value).__name__}."
    return None


def _has_type(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False  # True is an int in Python, not a number in JSON
    if kind == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, int | float)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    return True


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _request_build(tool: HttpTool, arguments: dict, contact=None) -> tuple[str, str, dict | None]:
    """(method, url, JSON body). Only declared parameters are sent: placeholders take theirs,
    URL-encoded; the rest go in the query string (GET, DELETE) or the JSON body. Customer placeholders
    take the conversation's customer (`contact`), whatever the arguments say."""
    properties = tool.parameters.get("properties") or {}
    values = {key: value for key, value in arguments.items() if key in properties and value is not None}

    def fill(match: re.Match) -> str:
        key = match.group(1)
        if key in CUSTOMER_PLACEHOLDERS:
            return quote(_customer_value(key, contact), safe="")
        if key not in values:
            raise _ToolFailed(f"Missing argument {key!r}, needed in the URL.")
        text = _text(values.pop(key))
        # "." and ".." would climb the path on servers that normalise it.
        return {".": "%2E", "..": "%2E%2E"}.get(text) or quote(text, safe="")

    url = PLACEHOLDER.sub(fill, tool.url_template)
    if tool.method in (HttpTool.Method.GET, HttpTool.Method.DELETE):
        if values:
            parts = urlsplit(url)
            extra = urlencode({key: _text(value) for key, value in values.items()})
            url = urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))
        return tool.method, url, None
    return tool.method, url, values


def _customer_value(placeholder: str, contact) -> str:
    field, label = CUSTOMER_PLACEHOLDERS[placeholder]
    value = getattr(contact, field, None) if contact is not None else None
    if not value:
        raise _ToolFailed(f"This tool needs the customer's {label}, which this conversation does not have.")
    return str(value)


def _call(tool: HttpTool, method: str, url: str, body: dict | None) -> _Answer:
    """The whole call (redirects and the retry included) within the tool's timeout."""
    try:
        with total_deadline(tool.timeout_seconds):
            return _call_with_retry(tool, method, url, body)
    except DeadlineExceeded:
        host = urlsplit(url).hostname
        raise _ToolFailed(f"timed out: {host} did not finish its answer within {tool.timeout_seconds} s.") from None


def _call_with_retry(tool: HttpTool, method: str, url: str, body: dict | None) -> _Answer:
    """One retry for a GET that could not connect or met a 5xx; other methods may not be idempotent."""
    if method == HttpTool.Method.GET:
        # The retry goes straight away: a customer is waiting for the turn.
        try:
            answer = _follow(tool, method, url, body)
        except _Retryable:
            pass
        else:
            if answer.status < 500:
                return answer
    return _follow(tool, method, url, body)


def _follow(tool: HttpTool, method: str, url: str, body: dict | None) -> _Answer:
    origin = _origin(url)
    for _hop in range(MAX_REDIRECTS + 1):
        answer, location = _exchange(tool, method, url, body)
        if answer.status not in REDIRECT_STATUSES or not location:
            return answer
        target = urljoin(url, location)
        if _origin(target) != origin:
            raise _ToolFailed(
                f"refused: the service redirected to another host ({urlsplit(target).hostname}); "
                "redirects are followed on the same host only."
            )
        url = target
        if answer.status not in (307, 308):
            method, body = HttpTool.Method.GET, None
    raise _ToolFailed(f"The service redirected more than {MAX_REDIRECTS} times.")


def _origin(url: str) -> tuple[str, str, int]:
    try:
        return outbound_http.url_origin(url)
    except outbound_http.OutboundRefused as exc:
        raise _ToolFailed(str(exc).replace("The URL", "The tool's URL", 1)) from None


def _exchange(tool: HttpTool, method: str, url: str, body: dict | None) -> tuple[_Answer, str]:
    """One request to the vetted address: (answer, Location header)."""
    _scheme, host, port = _origin(url)
    try:
        ascii_host = outbound_http.ascii_host(host)
    except outbound_http.OutboundRefused as exc:
        raise _ToolFailed(str(exc)) from None
    address = _vetted_address(ascii_host, port)
    try:
        tool_headers = _headers_parse(tool.headers or "")
    except InvalidInput:
        raise _ToolFailed("The tool's stored headers are not valid; a teammate must set them again.")
    pinned, host_header = outbound_http.pinned_request_target(url, address)
    headers = {
        "User-Agent": USER_AGENT,
        "Accept": "application/json, text/*;q=0.9, */*;q=0.5",
        **tool_headers,
        "Host": host_header,
    }
    with (
        outbound_http.pinned_session(server_hostname=ascii_host) as session,
        total_deadline(tool.timeout_seconds) as deadline,  # the one `_call` holds, for the time left
    ):
        try:
            response = session.request(
                method,
                pinned,
                headers=headers,
                json=body,
                timeout=deadline.timeouts(tool.timeout_seconds, tool.timeout_seconds),
                allow_redirects=False,
                stream=True,
            )
        except requests.ConnectTimeout:
            raise _ToolFailed(f"timed out: {host} did not accept the connection within {tool.timeout_seconds} s.")
        except requests.ReadTimeout:
            raise _ToolFailed(f"timed out: {host} did not answer within {tool.timeout_seconds} s.")
        except requests.exceptions.SSLError:
            raise _ToolFailed(f"Could not make a secure connection to {host} (TLS or certificate error).")
        except requests.ConnectionError:
            raise _Retryable(f"Could not connect to {host}.")
        except requests.RequestException as exc:
            # Not str(exc): requests quotes a rejected header's value in its messages.
            raise _ToolFailed(f"The request to {host} failed ({type(exc).__name__}).")
        with response:
            content, truncated = _read_capped(response, host=host, timeout=tool.timeout_seconds)
            answer = _Answer(
                status=response.status_code,
                content_type=response.headers.get("content-type", ""),
                encoding=response.encoding,
                content=content,
                truncated=truncated,
            )
            return answer, response.headers.get("location", "")


def _read_capped(response: requests.Response, *, host: str, timeout: int) -> tuple[bytes, bool]:
    """At most RESPONSE_LIMIT_BYTES of the (decoded) body. The caller's `total_deadline` bounds the time:
    a per-read timeout alone would let a server that drips bytes hold the turn for ever."""
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(chunk_size=8192):
            chunks.append(chunk)
            size += len(chunk)
            if size > RESPONSE_LIMIT_BYTES:
                return b"".join(chunks)[:RESPONSE_LIMIT_BYTES], True
    except requests.RequestException as exc:
        if isinstance(exc.args[0] if exc.args else None, ReadTimeoutError):
            raise _ToolFailed(f"timed out: {host} did not finish its answer within {timeout} s.")
        raise _ToolFailed(f"The connection to {host} broke while reading the answer.")
    return b"".join(chunks), False


def _body(answer: _Answer) -> Any:
    encoding = answer.encoding if "charset" in answer.content_type.lower() else "utf-8"
    try:
        text = answer.content.decode(encoding or "utf-8", errors="replace")
    except LookupError:
        text = answer.content.decode("utf-8", errors="replace")
    if "json" in answer.content_type.lower() and not answer.truncated:
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


# --- the SSRF guard (whatsapp_platform/outbound_http.py) ------------------------------------


def _vetted_address(host: str, port: int) -> str:
    try:
        return outbound_http.vetted_address(host, port, allowed_hosts=settings.AGENT_TOOL_ALLOWED_HOSTS)
    except outbound_http.HostUnresolved as exc:
        raise (_Retryable if exc.transient else _ToolFailed)(str(exc)) from None
    except outbound_http.OutboundRefused as exc:
        raise _ToolFailed(str(exc)) from None
