"""The query service: answers with references, SSE streaming, OpenAI-compatible chat, graph."""
