# Slim, non-root image that runs the bot: long polling, or webhook mode when WEBHOOK_URL is set
# (`cvety-bot run` listens on 0.0.0.0:8080 then; GET /healthz and /readyz for load balancers).
# Includes the PostgreSQL (asyncpg) and Redis extras, so compose.yaml's DATABASE_URL/REDIS_URL work.
#
# BASE is any image with Python 3.11+ and its venv module: python:3.11-slim where a registry is
# reachable, or a Debian root filesystem made with debootstrap and `docker import` (`make image`).
# Needs BuildKit (docker's default builder since 23.0; DOCKER_BUILDKIT=1 for docker 20.10). Few
# steps on purpose: with dockerd's vfs storage (`make image`) every step copies the whole tree.
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
# The context is only what pip needs (.dockerignore lists it). The optional build secret `pip_cert`
# is a CA bundle for pip (`make image` passes the machine's, for its TLS-inspecting proxy); without
# it pip uses its own. A secret never lands in a layer.
COPY . /src
RUN --mount=type=secret,id=pip_cert set -e; \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi; \
    python3 -m venv /opt/venv; \
    /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check '/src[postgres,redis]'

FROM ${BASE}
COPY --from=build /opt/venv /opt/venv
# Tesseract with the Russian and Kazakh data reads photographed invoices (services/ocr.py).
RUN set -e; apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        tesseract-ocr tesseract-ocr-rus tesseract-ocr-kaz; \
    rm -rf /var/lib/apt/lists/*; \
    useradd --system --uid 10001 --home-dir /data --create-home cvety
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite+aiosqlite:////data/cvety-bot.db
USER cvety
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["cvety-bot"]
CMD ["run"]
