# supportwatch: one image for the service and its one-off commands.
#   docker build -t supportwatch .
#   docker run --rm -v $PWD/config:/etc/supportwatch:ro supportwatch check
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
ENTRYPOINT ["supportwatch"]
CMD ["check", "--fail-on", "never"]
