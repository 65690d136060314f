# supportwatch: one image for the service and its one-off commands.
#   docker build -t supportwatch .
#   docker run --rm -p 8080:8080 -v $PWD/config:/etc/supportwatch:ro supportwatch        # the service
#   docker run --rm -v $PWD/config:/etc/supportwatch:ro supportwatch check --fail-on never  # one-off
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
RUN python -m pip install --no-cache-dir --prefix=/install .

FROM python:3.12-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/supportwatch --create-home supportwatch
COPY --from=build /install /usr/local
COPY config /etc/supportwatch
ENV SUPPORTWATCH_CONFIG=/etc/supportwatch/supportwatch.yaml \
    PYTHONUNBUFFERED=1
USER supportwatch
WORKDIR /var/lib/supportwatch
EXPOSE 8080
# slim has no curl; the standard library can ask /healthz
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["supportwatch"]
CMD ["run", "--host", "0.0.0.0"]
