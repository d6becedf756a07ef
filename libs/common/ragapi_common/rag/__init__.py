"""The LightRAG adapter: the only package of ragapi that imports lightrag.

:mod:`.api` is the surface the ingest and query services program against.
"""
