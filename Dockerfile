# The Kalema Credits services for compose.yaml: one image, a command per service.
# Installs exactly the pinned packages (requirements.lock, with hashes), runs as a user
# without privileges.
FROM python:3.11-slim
WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY events events
COPY services services
COPY projections projections
RUN pip install --no-cache-dir --no-deps . \
    && useradd --system --uid 10001 --home-dir /app kalema \
    && mkdir -p /app/.cache && chown kalema /app/.cache
USER kalema
# The package is installed, so its default SQLite path would be inside site-packages.
ENV KALEMA_SQLITE_PATH=/app/.cache/ledger.sqlite
