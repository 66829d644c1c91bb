"""Where messages are parsed: in the serving process, or in worker processes beside it.

Parsing and extraction are pure CPU work. In the serving process they hold the interpreter lock that the
SMTP, IMAP and HTTP listeners and the store's writer thread also need; in worker processes they run on
another core. The workers are fed over a socket read by the event loop itself: a ProcessPoolExecutor's
feeder and result threads would take back, in the serving process, most of the interpreter time saved.
A large message is parsed in place: sending it to a worker would copy it twice more, and the memory bound
of a 25 MiB delivery matters more than its speed.

With sender authentication on, the workers also run each message's checks (`check_sender`, see
`adapters/senderauth/checker.py`), with a DNS answer cache of their own filled from the answers the
serving process sends with the message.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import multiprocessing
import pickle
import signal
import socket
import struct
from multiprocessing.process import BaseProcess
from typing import Any

from mailservice.adapters.message_parsing import parse_message
from mailservice.adapters.senderauth.checker import Checker, CheckFailed, CheckOutcome, CheckRequest
from mailservice.adapters.senderauth.dns_cache import DnsAnswerCache
from mailservice.domain.messages import ParsedMessage

log = logging.getLogger(__name__)

PARSE_IN_PLACE_ABOVE = 1024 * 1024
_LENGTH = struct.Struct("!I")
_REQUEST = struct.Struct("!BI")  # what to do, and the length of what follows
_PARSE, _CHECK = 0, 1
_WARM_UP = b"Subject: warm-up\r\n\r\nwarm-up\r\n"


class WorkerLost(Exception):
    """The worker process ended before answering."""


class InlineParser:
    async def parse(self, raw: bytes) -> ParsedMessage:
        return parse_message(raw)

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass


class PooledParser:
    """Parse in `processes` workers; a message whose worker fails is parsed in place and the worker replaced.

    `check_cache_size` (the DNS answers each worker keeps), when given, has the workers run sender
    authentication checks too.
    """

    def __init__(self, processes: int, check_cache_size: int | None = None) -> None:
        self._size = processes
        self._check_cache_size = check_cache_size
        self._workers: list[_Worker] = []
        self._turn = itertools.count()

    async def start(self) -> None:
        """Start the workers now, so the first delivery does not wait for them to import the parser."""
        self._workers = [await _Worker.spawn(self._check_cache_size) for _ in range(self._size)]
        await asyncio.gather(*(worker.parse(_WARM_UP) for worker in self._workers))

    async def parse(self, raw: bytes) -> ParsedMessage:
        if len(raw) > PARSE_IN_PLACE_ABOVE or not self._workers:
            return parse_message(raw)
        worker = self._next_worker()
        try:
            return await worker.parse(raw)
        except WorkerLost:
            await self._replace(worker)
            return parse_message(raw)

    async def check_sender(self, request: CheckRequest) -> CheckOutcome | None:
        """The outcome of a message's checks in a worker; None when no worker can run them."""
        if self._check_cache_size is None or not self._workers:
            return None
        worker = self._next_worker()
        try:
            return await worker.check_sender(request)
        except WorkerLost:
            await self._replace(worker)
            return None

    def _next_worker(self) -> _Worker:
        return self._workers[next(self._turn) % len(self._workers)]

    async def _replace(self, worker: _Worker) -> None:
        log.error("parser.worker_lost pid=%s; starting a new one", worker.pid)
        if worker in self._workers:
            self._workers[self._workers.index(worker)] = await _Worker.spawn(self._check_cache_size)

    async def close(self) -> None:
        workers, self._workers = self._workers, []
        await asyncio.gather(*(worker.close() for worker in workers))


class _Worker:
    """One worker process; requests and answers travel in order over one socket."""

    def __init__(
        self, process: BaseProcess, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._process = process
        self._reader = reader
        self._writer = writer
        self._waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._answers = asyncio.create_task(self._read_answers())

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @classmethod
    async def spawn(cls, check_cache_size: int | None) -> _Worker:
        ours, theirs = socket.socketpair()
        # spawn, not fork: the serving process has threads and open sockets a forked child must not share.
        process = multiprocessing.get_context("spawn").Process(
            target=_work, args=(theirs, check_cache_size), daemon=True
        )
        await asyncio.to_thread(process.start)
        theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours)
        return cls(process, reader, writer)

    async def parse(self, raw: bytes) -> ParsedMessage:
        parsed: ParsedMessage = await self._ask(_PARSE, raw)
        return parsed

    async def check_sender(self, request: CheckRequest) -> CheckOutcome:
        outcome: CheckOutcome = await self._ask(
            _CHECK, pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        )
        return outcome

    async def _ask(self, kind: int, payload: bytes | bytearray) -> Any:
        if self._answers.done():
            raise WorkerLost("the worker has ended")
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append(answer)
        # one send: a system call costs more than the copy
        self._writer.write(_REQUEST.pack(kind, len(payload)) + payload)
        return await answer

    async def _read_answers(self) -> None:
        try:
            while True:
                (length,) = _LENGTH.unpack(await self._reader.readexactly(_LENGTH.size))
                parsed = pickle.loads(await self._reader.readexactly(length))
                answer = self._waiting.popleft()
                if not answer.done():
                    answer.set_result(parsed)
        except (asyncio.IncompleteReadError, ConnectionError, pickle.UnpicklingError) as error:
            while self._waiting:
                answer = self._waiting.popleft()
                if not answer.done():
                    answer.set_exception(WorkerLost(str(error)))

    async def close(self) -> None:
        self._writer.close()
        await self._answers
        await asyncio.to_thread(self._process.join, 5)
        if self._process.is_alive():
            self._process.kill()


def _work(connection: socket.socket, check_cache_size: int | None) -> None:
    """The worker's loop: a message in, its pickled `ParsedMessage` (or check outcome) out, until the serving
    process goes away. SIGTERM and SIGINT are the serving process's to act on: it stops its workers
    once its sessions have ended (closing their sockets ends this loop)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    checker = Checker(DnsAnswerCache(check_cache_size)) if check_cache_size is not None else None
    stream = connection.makefile("rwb")
    while header := stream.read(_REQUEST.size):
        kind, length = _REQUEST.unpack(header)
        payload = stream.read(length)
        if kind == _PARSE:
            outcome: object = parse_message(payload)
        elif checker is not None:
            outcome = checker.check(pickle.loads(payload))
        else:
            outcome = CheckFailed("this worker was started without the checks")
        answer = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
        stream.write(_LENGTH.pack(len(answer)))
        stream.write(answer)
        stream.flush()


def build_message_parser(processes: int, check_cache_size: int | None = None) -> InlineParser | PooledParser:
    """`check_cache_size` given (sender authentication on), the workers run the checks too."""
    return PooledParser(processes, check_cache_size) if processes > 0 else InlineParser()
