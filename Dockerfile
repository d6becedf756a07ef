# syntax=docker/dockerfile:1.7
# One image per service, each with the base dependencies plus only its own extras:
#   docker build --target tenants -t ragapi/tenants .   (base only: HTTP, NATS, Redis)
#   docker build --target ingest  -t ragapi/ingest  .   (rag, postgres)
#   docker build --target ocr     -t ragapi/ocr     .   (ocr)
#   docker build --target query   -t ragapi/query   .   (rag, postgres)
# The cluster runs the `postgres` storage profile, so the LightRAG images carry asyncpg and
# pgvector; `embedded` (ragapi up) and `dev` go into no image.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: one virtualenv per extras set, in /opt/venv --------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml requirements.lock ./
COPY libs/ libs/
COPY services/ services/
RUN python -m venv /opt/venv

FROM build AS venv-tenants
RUN /opt/venv/bin/pip install --no-cache-dir -c requirements.lock .

FROM build AS venv-ingest
RUN /opt/venv/bin/pip install --no-cache-dir -c requirements.lock ".[rag,postgres,qdrant]"

FROM build AS venv-ocr
RUN /opt/venv/bin/pip install --no-cache-dir -c requirements.lock ".[ocr]"

FROM build AS venv-query
RUN /opt/venv/bin/pip install --no-cache-dir -c requirements.lock ".[rag,postgres,qdrant]"

# ---- runtime: non-root, nothing writable but /tmp (the pod mounts an emptyDir there) -----
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    RAGAPI_DATA_DIR=/tmp/ragapi
RUN groupadd --system --gid 10001 ragapi \
    && useradd --system --uid 10001 --gid ragapi --home-dir /tmp --no-create-home \
       --shell /usr/sbin/nologin ragapi
WORKDIR /tmp
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
USER 10001:10001
ENTRYPOINT ["ragapi"]

FROM runtime AS tenants
COPY --from=venv-tenants /opt/venv /opt/venv
CMD ["serve", "tenants", "--host", "0.0.0.0", "--port", "8000"]

FROM runtime AS ingest
COPY --from=venv-ingest /opt/venv /opt/venv
CMD ["serve", "ingest", "--host", "0.0.0.0", "--port", "8000"]

FROM runtime AS ocr
COPY --from=venv-ocr /opt/venv /opt/venv
CMD ["serve", "ocr", "--host", "0.0.0.0", "--port", "8000"]

FROM runtime AS query
COPY --from=venv-query /opt/venv /opt/venv
CMD ["serve", "query", "--host", "0.0.0.0", "--port", "8000"]
