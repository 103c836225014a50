# unposted: the service image. Build: docker build -t unposted .
# Two stages: the first builds a virtualenv, the second carries only that and runs as a
# non-root user. The catalog database lives in /data (mount a volume there), the only
# place the service writes.
# tests/integration/test_image.py runs these lines, as written, outside Docker.

FROM python:3.12-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY . .
# Wheels only: the slim image has no compiler, and no dependency may need one. Only
# unposted itself is built here, from this source tree (pure Python).
RUN /opt/venv/bin/pip install --only-binary=:all: .

FROM python:3.12-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    STATE_DIR=/data
RUN groupadd --system --gid 10001 unposted \
    && useradd --system --uid 10001 --gid unposted --home-dir /data --no-create-home unposted \
    && mkdir /data && chown unposted:unposted /data
COPY --from=build /opt/venv /opt/venv
USER unposted
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
# The slim image has no curl: Python's urllib asks /healthz, which answers while the process runs.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["python", "-m", "app", "serve", "--host", "0.0.0.0", "--port", "8000"]
