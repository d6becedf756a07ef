"""The tests' fake OpenAI-compatible provider as the benchmarks serve it, as a process.

    python -m benchmarks.fake_llm --port 8901 [--latency 0.2] [--embedding-latency 0] [--dim 384]

``tests/support/fake_provider.py`` answers chat (LightRAG's extraction,
keywords, summaries, answers), embeddings and rerank. Its own command line
puts one latency on every POST; here the chat latency (the LLM) and the
embedding latency are apart: a hosted embedder answers in milliseconds, an
LLM in a fraction of a second, and a bench that made embeddings as slow as
the LLM would measure the embedding queue instead of the server
(benchmarks/README.md, "What the old bench hid").
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from starlette.requests import Request
from starlette.responses import Response

from tests.support.fake_provider import CHAT, RERANK, Behaviour, FakeProvider


class SplitLatencyProvider(FakeProvider):
    """Chat (and rerank) wait ``behaviour.latency_s``; embeddings wait their own latency."""

    embedding_latency_s: float = 0.0

    async def _embeddings(self, request: Request) -> Response:
        await asyncio.sleep(self.embedding_latency_s)
        return await super()._embeddings(request)


async def serve(port: int, latency: float, embedding_latency: float, dim: int) -> None:
    """Serve until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    behaviour = Behaviour(latency_s=latency, dim=dim, paths=(CHAT, RERANK))
    provider = SplitLatencyProvider(port=port, behaviour=behaviour)
    provider.embedding_latency_s = embedding_latency
    async with provider as fake:
        print(f"fake provider on {fake.base_url}", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8901)
    parser.add_argument("--latency", type=float, default=0.2, help="s per chat completion")
    parser.add_argument("--embedding-latency", type=float, default=0.0, help="s per embedding call")
    parser.add_argument("--dim", type=int, default=384, help="embedding dimension")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.latency, args.embedding_latency, args.dim))


if __name__ == "__main__":
    main()
