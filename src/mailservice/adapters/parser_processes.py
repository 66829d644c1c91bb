"""Where messages are parsed: in the serving process, or in worker processes beside it.

Parsing and extraction are pure CPU work. In the serving process they hold the interpreter lock that the
SMTP, IMAP and HTTP listeners and the store's writer thread also need; in worker processes they run on
another core. The workers are fed over a socket read by the event loop itself: a ProcessPoolExecutor's
feeder and result threads would take back, in the serving process, most of the interpreter time saved.
A large message is parsed in place: sending it to a worker would copy it twice more, and the memory bound
of a 25 MiB delivery matters more than its speed.
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

from mailservice.adapters.message_parsing import parse_message
from mailservice.domain.messages import ParsedMessage

log = logging.getLogger(__name__)

PARSE_IN_PLACE_ABOVE = 1024 * 1024
_LENGTH = struct.Struct("!I")
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
    """Parse in `processes` workers; a message whose worker fails is parsed in place and the worker replaced."""

    def __init__(self, processes: int) -> None:
        self._size = processes
        self._workers: list[_Worker] = []
        self._turn = itertools.count()

    async def start(self) -> None:
        """Start the workers now, so the first delivery does not wait for them to import the parser."""
        self._workers = [await _Worker.spawn() for _ in range(self._size)]
        await asyncio.gather(*(worker.parse(_WARM_UP) for worker in self._workers))

    async def parse(self, raw: bytes) -> ParsedMessage:
        if len(raw) > PARSE_IN_PLACE_ABOVE or not self._workers:
            return parse_message(raw)
        index = next(self._turn) % len(self._workers)
        worker = self._workers[index]
        try:
            return await worker.parse(raw)
        except WorkerLost:
            log.error("parser.worker_lost pid=%s; starting a new one", worker.pid)
            if self._workers[index] is worker:
                self._workers[index] = await _Worker.spawn()
            return parse_message(raw)

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
        self._waiting: collections.deque[asyncio.Future[ParsedMessage]] = collections.deque()
        self._answers = asyncio.create_task(self._read_answers())

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @classmethod
    async def spawn(cls) -> _Worker:
        ours, theirs = socket.socketpair()
        # spawn, not fork: the serving process has threads and open sockets a forked child must not share.
        process = multiprocessing.get_context("spawn").Process(target=_work, args=(theirs,), daemon=True)
        await asyncio.to_thread(process.start)
        theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours)
        return cls(process, reader, writer)

    async def parse(self, raw: bytes) -> ParsedMessage:
        if self._answers.done():
            raise WorkerLost("the worker has ended")
        answer: asyncio.Future[ParsedMessage] = asyncio.get_running_loop().create_future()
        self._waiting.append(answer)
        self._writer.write(_LENGTH.pack(len(raw)) + raw)  # one send: a system call costs more than the copy
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


def _work(connection: socket.socket) -> None:
    """The worker's loop: a message in, its pickled `ParsedMessage` out, until the serving process goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which then stops its workers
    stream = connection.makefile("rwb")
    while header := stream.read(_LENGTH.size):
        (length,) = _LENGTH.unpack(header)
        answer = pickle.dumps(parse_message(stream.read(length)), protocol=pickle.HIGHEST_PROTOCOL)
        stream.write(_LENGTH.pack(len(answer)))
        stream.write(answer)
        stream.flush()


def build_message_parser(processes: int) -> InlineParser | PooledParser:
    return PooledParser(processes) if processes > 0 else InlineParser()
