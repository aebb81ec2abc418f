# Slim, non-root image that runs the bot with long polling.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY services ./services
COPY sandbox ./sandbox
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite+aiosqlite:////data/cvety-bot.db
COPY --from=build /install /usr/local
RUN useradd --system --uid 10001 --home-dir /data --create-home cvety
USER cvety
WORKDIR /data
VOLUME ["/data"]
ENTRYPOINT ["cvety-bot"]
CMD ["run"]
