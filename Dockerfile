# supportwatch: one image for the service and its one-off commands.
#   docker build -t supportwatch .
#   docker run --rm --read-only -p 8080:8080 supportwatch                                   # the service (SQLite)
#   docker run --rm --read-only -v $PWD/config:/etc/supportwatch:ro supportwatch check --fail-on never
# It runs as the numeric user 10001 on a read-only root filesystem: /tmp and the data directory
# /var/lib/supportwatch are volumes (the chart mounts emptyDirs there). tests/deploy checks this file.
ARG PYTHON_IMAGE=python:3.12.8-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/supportwatch
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
# pip byte-compiles what it installs: the read-only runtime never needs to write __pycache__
RUN /opt/supportwatch/bin/pip install .

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="supportwatch" \
      org.opencontainers.image.description="Keeps Astro Remote Execution Agent deployments inside the vendor's maintenance policy."
RUN groupadd --system --gid 10001 supportwatch \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /var/lib/supportwatch --shell /usr/sbin/nologin supportwatch \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/supportwatch
COPY --from=build /opt/supportwatch /opt/supportwatch
COPY config /etc/supportwatch
ENV PATH=/opt/supportwatch/bin:$PATH \
    SUPPORTWATCH_CONFIG=/etc/supportwatch/supportwatch.yaml \
    HOME=/var/lib/supportwatch \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# the bundled config's SQLite database (sqlite:///var/supportwatch.db) lands under the data dir
WORKDIR /var/lib/supportwatch
VOLUME ["/tmp", "/var/lib/supportwatch"]
USER 10001:10001
EXPOSE 8080
# slim has no curl; the standard library asks /healthz (liveness: the process serves requests)
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["supportwatch"]
CMD ["run", "--host", "0.0.0.0"]
