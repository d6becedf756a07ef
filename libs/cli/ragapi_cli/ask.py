"""``ragapi ask "question"``: stream the answer to the terminal, references last."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ragapi_cli.client import ApiError, api_client, raise_for_error
from ragapi_cli.sse import events

MODES = ("naive", "local", "global", "hybrid", "mix")


async def ask_command(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"query": args.question, "stream": True}
    if args.mode:
        body["mode"] = args.mode
    if args.top_k:
        body["top_k"] = args.top_k
    references: list[dict[str, Any]] = []
    async with (
        api_client(args.url, args.tenant_key, timeout_s=args.timeout) as client,
        client.stream("POST", "/v1/query", json=body) as answer,
    ):
        await raise_for_error(answer)
        async for event in events(answer):
            data = event.json()
            if event.event == "references":
                references = _references(data)
            elif event.event == "delta":
                sys.stdout.write(data.get("text", "") if isinstance(data, dict) else str(data))
                sys.stdout.flush()
            elif event.event == "error":
                raise ApiError(_error_message(data), code="stream_error")
            elif event.event == "done":
                break
    sys.stdout.write("\n")
    _print_references(references)
    return 0


def _references(data: Any) -> list[dict[str, Any]]:
    items = data.get("references", []) if isinstance(data, dict) else data
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _error_message(data: Any) -> str:
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            return f"{error.get('code', 'error')}: {error.get('message', '')}"
    return str(data)


def _print_references(references: list[dict[str, Any]]) -> None:
    if not references:
        return
    print("\nReferences:")
    for number, ref in enumerate(references, start=1):
        excerpt = " ".join(str(ref.get("excerpt", "")).split())[:120]
        print(f"  [{number}] {ref.get('name', '')} ({ref.get('doc_id', '')}) {excerpt}")
    sys.stdout.flush()


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser("ask", parents=[common], help="ask the tenant's knowledge base")
    parser.add_argument("question")
    parser.add_argument("--mode", choices=MODES, default=None, help="retrieval mode")
    parser.add_argument("--top-k", type=int, default=0, help="how many items to retrieve")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait")
    parser.set_defaults(handler=ask_command)
