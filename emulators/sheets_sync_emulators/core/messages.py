"""What passes through every emulated service: the request, the response, the request log."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, overload
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    target: str  # path and query as sent (still percent-encoded)
    headers: Mapping[str, str]
    body: bytes = b""

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query_string(self) -> str:
        return urlsplit(self.target).query

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.query_string, keep_blank_values=True)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))

    def header(self, name: str) -> str | None:
        lower = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lower:
                return value
        return None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    delay: float = 0.0  # real seconds to wait before answering

    @classmethod
    def json(cls, status: int, payload: Any, content_type: str = "application/json",
             headers: Mapping[str, str] | None = None) -> Response:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return cls(status, body, {"Content-Type": f"{content_type}; charset=utf-8",
                                  **(headers or {})})

    @classmethod
    def dropped(cls) -> Response:
        return cls(0, drop=True)


class HttpError(Exception):
    """Raised by a handler to answer with a vendor error response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


@dataclass
class LogEntry:
    """One request as a service saw it (tests read these to count requests, batches, bytes)."""

    method: str
    path: str
    query: str = ""
    action: str = "unknown"  # the service's name for the call, e.g. "values.batchUpdate"
    request_body: bytes = b""
    status: int = 0  # 0: dropped before answering
    response_body: bytes = b""
    fault: str | None = None  # the kind of the fault that fired on it
    items: int | None = None  # records or commands in a batch write, when the service says
    at: float = 0.0  # the service's clock when it arrived

    @property
    def request_bytes(self) -> int:
        return len(self.request_body)

    @property
    def response_bytes(self) -> int:
        return len(self.response_body)

    bytes_sent = request_bytes  # sent by the client
    bytes_received = response_bytes

    def to_json(self) -> dict[str, Any]:
        import base64

        return {"method": self.method, "path": self.path, "query": self.query, "action": self.action,
                "status": self.status, "fault": self.fault, "items": self.items, "at": self.at,
                "bytes_sent": self.bytes_sent, "bytes_received": self.bytes_received,
                "request_body": base64.b64encode(self.request_body).decode()}


class RequestLog:
    """Thread-safe list of :class:`LogEntry`; iterate, index or filter it."""

    def __init__(self) -> None:
        self._entries: list[LogEntry] = []
        self._lock = threading.Lock()

    def add(self, entry: LogEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    append = add

    @property
    def entries(self) -> list[LogEntry]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __iter__(self) -> Iterator[LogEntry]:
        return iter(self.entries)

    @overload
    def __getitem__(self, index: int) -> LogEntry: ...
    @overload
    def __getitem__(self, index: slice) -> list[LogEntry]: ...
    def __getitem__(self, index: int | slice) -> LogEntry | list[LogEntry]:
        return self.entries[index]

    def count(self, status: int | None = None, path: str | None = None,
              method: str | None = None, action: str | None = None) -> int:
        return len(self.select(status=status, path=path, method=method, action=action))

    def select(self, status: int | None = None, path: str | None = None,
               method: str | None = None, action: str | None = None) -> list[LogEntry]:
        """Entries with this status, method and action whose path contains ``path``."""
        return [e for e in self.entries
                if (status is None or e.status == status)
                and (path is None or path in e.path)
                and (method is None or e.method == method)
                and (action is None or e.action == action)]

    def summary(self) -> dict[str, int]:
        """Requests and bytes (control endpoints are never logged)."""
        entries = self.entries
        return {"requests": len(entries),
                "bytes_sent": sum(e.bytes_sent for e in entries),
                "bytes_received": sum(e.bytes_received for e in entries)}
