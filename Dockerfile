# Slim, non-root image that runs the bot: long polling, or webhook mode when WEBHOOK_URL is set
# (`cvety-bot run` listens on 0.0.0.0:8080 then; GET /healthz and /readyz for load balancers).
# Includes the PostgreSQL (asyncpg) and Redis extras, so compose.yaml's DATABASE_URL/REDIS_URL work.
#
# BASE is any image with Python 3.11+ and its venv module: python:3.11-slim where a registry is
# reachable, or a Debian root filesystem made with debootstrap and `docker import` (`make image`).
# Few steps on purpose: with dockerd's vfs storage (`make image`) every step copies the whole tree.
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
# The context is only what pip needs (.dockerignore lists it). deploy/ca/ca.crt, when `make image`
# puts it there, is the CA bundle pip needs behind this machine's TLS-inspecting proxy; elsewhere
# the folder is empty and pip uses its own. Only this build stage sees it.
COPY . /src
RUN set -e; \
    if [ -f /src/deploy/ca/ca.crt ]; then export PIP_CERT=/src/deploy/ca/ca.crt; fi; \
    python3 -m venv /opt/venv; \
    /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check '/src[postgres,redis]'

FROM ${BASE}
COPY --from=build /opt/venv /opt/venv
RUN useradd --system --uid 10001 --home-dir /data --create-home cvety
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite+aiosqlite:////data/cvety-bot.db
USER cvety
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["cvety-bot"]
CMD ["run"]
