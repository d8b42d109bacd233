"""One self-healing WebSocket connection to Binance (market streams or the WebSocket API).

``ReconnectingSocket`` keeps a connection open in a background task and hides its drops:

* it reconnects after any drop with growing, jittered delays (``RECONNECT_DELAYS_S``), and never
  makes more than ``MAX_CONNECTS_PER_WINDOW`` attempts in ``CONNECT_WINDOW_S`` (Binance allows
  300 per 5 minutes per IP; we leave most of that to other clients);
* the delays go back to the first (none) only after a connection has stayed open for
  ``HEALTHY_AFTER_S``: a server that accepts each connection and closes it at once gets the
  growing delays too, not a burst of reconnects (Binance may ban an IP that is disconnected again
  and again);
* it renews the connection before Binance's 24-hour limit, and at once on a ``serverShutdown``
  event; these renewals never wait for a delay;
* after each (re)connect it calls ``on_open``, where the owner subscribes again to what was open.
  When ``on_open`` fails (for instance Binance refuses the ``SUBSCRIBE``), the attempt counts as a
  failed connection: it is logged, the connection is closed, and the next attempt follows the
  delays above;
* pings from Binance are answered by the ``websockets`` library; our own keepalive pings detect a
  stalled connection (no pong within ``ping_timeout_s``), which is then replaced;
* outgoing JSON messages are paced to ``MAX_MESSAGES_PER_S`` (see there for why it is 3).

Messages with an ``id`` that answers a pending ``request`` complete it; every other message goes
to ``on_message``. A frame that cannot be used (not JSON, nested too deep, an ``id`` that is not a
number, a handler that fails on it) is logged by its size and the error's type only, counted in
``skipped``, and skipped: no frame ends the connection loop, which only ``aclose`` stops. Frames
over ``MAX_MESSAGE_BYTES`` are refused by the ``websockets`` library (the connection is closed
and replaced). The signature and key of a signed ``request`` are masked in every frame that
echoes them (``scrub``), before anything reads it. Everything runs on the asyncio loop that
called ``start``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from binance_spot_mcp.errors import ExchangeError, TransportError
from binance_spot_mcp.redact import MASK, mask_api_key

if TYPE_CHECKING:  # websockets is imported on first use, so servers that never stream start faster
    from websockets.asyncio.client import ClientConnection

logger = logging.getLogger(__name__)

RECONNECT_DELAYS_S = (0.0, 0.25, 1.0, 2.0, 5.0, 10.0, 30.0)
JITTER = 0.2
MAX_CONNECTS_PER_WINDOW = 60
CONNECT_WINDOW_S = 300.0
MAX_CONNECTION_AGE_S = 23.5 * 3600  # renewed before Binance's 24-hour cut
HEALTHY_AFTER_S = 30.0  # a connection open this long resets the reconnect delays
# Binance closes a connection that sends it more than 5 messages in a second, and counts ping and
# pong frames as messages. In one second we may send our keepalive ping (one per
# ``ping_interval_s``) and a pong to Binance's ping (one per 20 s), which the ``websockets``
# library sends outside this pacing; 3 JSON messages leave room for both: 3 + 1 + 1 = 5.
MAX_MESSAGES_PER_S = 3
PING_INTERVAL_S = 20.0
PING_TIMEOUT_S = 20.0
OPEN_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 2.0
REQUEST_TIMEOUT_S = 10.0
# The largest frame accepted; Binance's frames on the streams we offer are a few kB (a depth20
# snapshot, an executionReport), so 1 MiB is far above them and bounds what one frame costs parsed.
MAX_MESSAGE_BYTES = 2**20
# Binance's frames nest a few levels (a depth snapshot: 4); one nested hundreds deep would parse
# here but break every later read of its buffer (RecursionError serialising it), so it is skipped.
MAX_MESSAGE_DEPTH = 32
REMEMBERED_SECRETS = 32  # forms of the latest signatures and keys masked in incoming frames
SERVER_SHUTDOWN = "serverShutdown"

Handler = Callable[[Any], None]


class NotConnected(TransportError):
    """The socket is not open right now (it is reconnecting, or could not connect)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, sent=False, hint="The stream reconnects by itself; try again shortly.")


class OpenFailed(Exception):
    """The connection opened, but its ``on_open`` hook raised; the text says what went wrong."""


def describe_failure(exc: BaseException) -> str:
    """The exception's type, with Binance's code and message when Binance refused something.

    Nothing else of the exception is used: its text might quote a request, and a request to the
    WebSocket API may carry a key.
    """
    if isinstance(exc, ExchangeError):
        return f"{type(exc).__name__} (code {exc.code}): {exc.msg[:200]}"
    return type(exc).__name__


def connection_failed(url: str, reason: str, *, hint: str) -> TransportError:
    """The error for a WebSocket that could not be opened: it names the host and the reason, and
    says nothing reached Binance (it is not a Binance rejection)."""
    host = urlsplit(url).netloc or url
    return TransportError(f"could not connect to {host}: {reason or 'timeout'} ({url})", sent=False, hint=hint)


def scrub(value: Any, forms: dict[str, str]) -> Any:
    """``value`` (parsed JSON) with every occurrence of a key of ``forms`` in its strings replaced."""
    if isinstance(value, str):
        for form, replacement in forms.items():
            if form in value:
                value = value.replace(form, replacement)
        return value
    if isinstance(value, dict):
        return {scrub(k, forms): scrub(v, forms) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(item, forms) for item in value]
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether parsed JSON ``value`` nests lists and objects more than ``limit`` levels (no recursion)."""
    level: list[Any] = [value]
    for _ in range(limit):
        level = [child for item in level if isinstance(item, dict | list)
                 for child in (item.values() if isinstance(item, dict) else item)]
        if not level:
            return False
    return any(isinstance(item, dict | list) for item in level)


def secret_forms(params: dict[str, Any]) -> dict[str, str]:
    """What a signed WebSocket API request's echo may show of its signature and key, and the mask
    of each: the values as sent and percent-encoded (as in a query string)."""
    from urllib.parse import quote

    forms: dict[str, str] = {}
    key, signature = params.get("apiKey"), params.get("signature")
    if isinstance(signature, str) and len(signature) >= 8:
        forms.update({signature: MASK, quote(signature, safe=""): MASK})
    if isinstance(key, str) and len(key) >= 8:
        forms.update({key: mask_api_key(key), quote(key, safe=""): mask_api_key(key)})
    return forms


def is_server_shutdown(message: Any) -> bool:
    if not isinstance(message, dict):
        return False
    body = message.get("data") if "stream" in message else message.get("event", message)
    return isinstance(body, dict) and body.get("e") == SERVER_SHUTDOWN


class ReconnectingSocket:
    def __init__(
        self,
        url: str,
        *,
        on_message: Handler,
        on_open: Callable[[], Awaitable[None]] | None = None,
        on_drop: Callable[[], None] | None = None,
        ping_interval_s: float = PING_INTERVAL_S,
        ping_timeout_s: float = PING_TIMEOUT_S,
        max_age_s: float = MAX_CONNECTION_AGE_S,
        reconnect_delays_s: tuple[float, ...] = RECONNECT_DELAYS_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """``clock`` and ``sleep`` time the reconnects (delays, connection health, the connect
        window); tests pass their own. Pacing and request timeouts always use real time."""
        self.url = url
        self._on_message = on_message
        self._on_open = on_open
        self._on_drop = on_drop
        self._ping_interval_s = ping_interval_s
        self._ping_timeout_s = ping_timeout_s
        self._max_age_s = max_age_s
        self._delays = reconnect_delays_s
        self._clock = clock
        self._sleep = sleep
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._ids = itertools.count(1)
        self._pending: dict[Any, asyncio.Future[Any]] = {}
        self._sent: deque[float] = deque()
        self._send_lock = asyncio.Lock()
        self._attempts: deque[float] = deque()
        self._renew = asyncio.Event()
        self.ready = asyncio.Event()  # set while open and re-subscribed
        self._failed_attempts = 0
        self._progress = asyncio.Event()  # replaced after each connect attempt, good or bad
        self.connects = 0
        self.drops = 0
        self.skipped = 0  # frames that could not be used
        self._signatures: dict[str, str] = {}  # forms of recent signatures and keys -> their mask
        self.last_error = ""

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Run the connection loop, unless it runs already (a loop that has ended is replaced)."""
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"ws {self.url}")
            self._task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.error("WebSocket %s: the connection loop stopped: %s", self.url, describe_failure(task.exception()))

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def aclose(self) -> None:
        self._closing = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - shutting down
                pass
        self.ready.clear()
        self._closing = False  # ``start`` may open it again

    async def wait_ready(self, timeout_s: float) -> bool:
        """True once open; False after ``timeout_s`` or as soon as a connect attempt fails."""
        failed = self._failed_attempts
        deadline = time.monotonic() + timeout_s
        while not self.ready.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or self._failed_attempts > failed:
                return False
            progress = self._progress
            try:
                await asyncio.wait_for(progress.wait(), left)
            except TimeoutError:
                return False
        return True

    @staticmethod
    def failure_reason(exc: BaseException) -> str:
        """Why a connect attempt failed: the error's type, and for an operating-system error (no
        such host, refused) the system's own words; no other text of it (it may quote a request)."""
        words = exc.strerror if isinstance(exc, OSError) and isinstance(exc.strerror, str) else ""
        return f"{type(exc).__name__}: {words}" if words else type(exc).__name__

    def _signal_progress(self) -> None:
        self._progress.set()
        self._progress = asyncio.Event()

    # -- sending ------------------------------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        """Send one JSON message, paced to the per-connection message limit."""
        from websockets.exceptions import ConnectionClosed

        ws = self._ws
        if ws is None:
            raise NotConnected(f"not connected to {self.url}")
        async with self._send_lock:
            now = time.monotonic()
            while self._sent and self._sent[0] <= now - 1.0:
                self._sent.popleft()
            if len(self._sent) >= MAX_MESSAGES_PER_S:
                await asyncio.sleep(self._sent[0] + 1.0 - now)
                self._sent.popleft()
            self._sent.append(time.monotonic())
            try:
                await ws.send(json.dumps(message, separators=(",", ":")))
            except ConnectionClosed:
                raise NotConnected(f"the connection to {self.url} closed") from None

    async def request(self, message: dict[str, Any], timeout_s: float = REQUEST_TIMEOUT_S) -> Any:
        """Send a message with a fresh ``id`` and return the reply carrying that id."""
        request_id = next(self._ids)
        params = message.get("params")
        if isinstance(params, dict) and "signature" in params:
            self._remember(secret_forms(params))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self.send({**message, "id": request_id})
            # not ``asyncio.wait_for``: before Python 3.12 it loses a cancellation that comes as the
            # reply arrives, and ``aclose`` then waited for ever on a loop that went on serving
            async with asyncio.timeout(timeout_s):
                return await future
        except TimeoutError:
            raise NotConnected(f"no reply from {self.url} within {timeout_s:.0f} s") from None
        finally:
            self._pending.pop(request_id, None)
            if future.done() and not future.cancelled():
                future.exception()  # failed while ``send`` raised: seen, so asyncio does not report it

    def _remember(self, forms: dict[str, str]) -> None:
        for form, replacement in forms.items():
            self._signatures.pop(form, None)
            self._signatures[form] = replacement
        while len(self._signatures) > REMEMBERED_SECRETS:
            del self._signatures[next(iter(self._signatures))]

    # -- the connection loop ------------------------------------------------------------------

    async def _run(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

        failures = 0  # connections in a row that failed or ended before HEALTHY_AFTER_S
        while not self._closing:
            await self._respect_connect_limit()
            immediate = False
            opened_at: float | None = None
            try:
                async with connect(
                    self.url,
                    ping_interval=self._ping_interval_s,
                    ping_timeout=self._ping_timeout_s,
                    open_timeout=OPEN_TIMEOUT_S,
                    close_timeout=CLOSE_TIMEOUT_S,
                    max_size=MAX_MESSAGE_BYTES,
                    max_queue=None,
                    proxy=None,
                ) as ws:
                    self._ws = ws
                    self.connects += 1
                    opened_at = self._clock()
                    immediate = await self._serve(ws)
            except asyncio.CancelledError:
                raise
            except OpenFailed as exc:
                self.last_error = str(exc)
                logger.warning("WebSocket %s: %s", self.url, self.last_error)
                self._failed_attempts += 1
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI, ConnectionClosed, NotConnected) as exc:
                self.last_error = self.failure_reason(exc)
                logger.info("WebSocket %s: %s", self.url, self.last_error)
                if not self.ready.is_set():
                    self._failed_attempts += 1
            except Exception as exc:  # noqa: BLE001 - nothing a server sends may end the loop
                self.last_error = f"{type(exc).__name__}"
                logger.warning("WebSocket %s: the connection failed: %s", self.url, self.last_error)
                if not self.ready.is_set():
                    self._failed_attempts += 1
            finally:
                was_ready = self.ready.is_set()
                self._ws = None
                self.ready.clear()
                self._fail_pending()
                if was_ready and not self._closing:
                    self.drops += 1
                    if self._on_drop is not None:
                        self._on_drop()
                self._signal_progress()
            if self._closing:
                break
            if opened_at is not None and self._clock() - opened_at >= HEALTHY_AFTER_S:
                failures = 0
            delay = 0.0 if immediate else self._delays[min(failures, len(self._delays) - 1)]
            failures += 1
            if delay:
                await self._sleep(delay * (1 + random.uniform(-JITTER, JITTER)))

    def _fail_pending(self) -> None:
        """Fail the requests still waiting for a reply: none will come on this connection."""
        for future in self._pending.values():
            if not future.done():
                future.set_exception(NotConnected(f"the connection to {self.url} closed"))

    async def _serve(self, ws: ClientConnection) -> bool:
        """Read until the connection ends; True when it should be replaced at once (shutdown, age).

        Raises ``OpenFailed`` when the ``on_open`` hook fails.
        """
        self._renew.clear()
        reader = asyncio.create_task(self._read(ws))
        # a reply to a request of ``on_open`` cannot come once the reader has ended: fail it at once
        reader.add_done_callback(lambda _: self._fail_pending() if self._ws is ws else None)
        try:
            if self._on_open is not None:
                try:
                    await self._on_open()
                except NotConnected:  # the connection was lost: not a failure of the set-up itself
                    raise
                except Exception as exc:  # cancellation is not an Exception and passes through
                    raise OpenFailed(f"setting up the connection failed: {describe_failure(exc)}") from exc
            self.last_error = ""
            self.ready.set()
            self._signal_progress()
            renew = asyncio.create_task(self._renew.wait())
            done, _ = await asyncio.wait({reader, renew}, timeout=self._max_age_s, return_when=asyncio.FIRST_COMPLETED)
            renew.cancel()
            if reader in done:
                reader.result()
                return False
            logger.info("WebSocket %s: renewing the connection", self.url)
            return True
        finally:
            reader.cancel()
            await ws.close()

    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            try:
                self._handle(raw)
            except Exception as exc:  # noqa: BLE001 - one frame we cannot use must not end the connection
                self.skipped += 1
                logger.warning("WebSocket %s: skipped a frame of %d characters: %s", self.url, len(raw),
                               type(exc).__name__)

    def _handle(self, raw: str | bytes) -> None:
        """Parse one frame and route it: a reply to a pending request, ``serverShutdown``, or
        ``on_message``. Raises for a frame that cannot be used (the caller skips it)."""
        text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8", "replace")
        message = json.loads(text, parse_float=str)  # RecursionError for JSON nested too deep
        if _deeper_than(message, MAX_MESSAGE_DEPTH):
            raise ValueError(f"a frame nested more than {MAX_MESSAGE_DEPTH} levels")
        # a backslash: the frame may spell a signature in JSON escapes (\u0031...) that json.loads decoded
        if self._signatures and ("\\" in text or any(form in text for form in self._signatures)):
            message = scrub(message, self._signatures)
        request_id = message.get("id") if isinstance(message, dict) else None
        if isinstance(request_id, int) and not isinstance(request_id, bool) and request_id in self._pending:
            future = self._pending[request_id]
            if not future.done():
                future.set_result(message)
            return
        if is_server_shutdown(message):
            logger.info("WebSocket %s: serverShutdown, reconnecting", self.url)
            self._renew.set()
            return
        try:
            self._on_message(message)
        except Exception as exc:  # noqa: BLE001 - one bad message must not end the connection
            self.skipped += 1
            logger.warning("WebSocket %s: a message could not be handled: %s", self.url, type(exc).__name__)

    async def _respect_connect_limit(self) -> None:
        now = self._clock()
        while self._attempts and self._attempts[0] <= now - CONNECT_WINDOW_S:
            self._attempts.popleft()
        if len(self._attempts) >= MAX_CONNECTS_PER_WINDOW:
            await self._sleep(self._attempts[0] + CONNECT_WINDOW_S - now)
        self._attempts.append(self._clock())
