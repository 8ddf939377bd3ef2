# The Kalema Credits services for compose.yaml: one image, a command per service.
# Installs exactly the pinned packages (requirements.lock, with hashes). The services run as
# an unprivileged user: nothing in them needs root, and a compromised process should not own
# the container (or write its own code). The image has no C compiler: the credit rules and the
# folds run as Python, not compiled (services/native.py; make native builds them elsewhere).
FROM python:3.11-slim
RUN groupadd --system --gid 10001 kalema \
 && useradd --system --uid 10001 --gid kalema --home-dir /app --shell /usr/sbin/nologin kalema
WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY events events
COPY services services
COPY projections projections
RUN pip install --no-cache-dir --no-deps . \
 && mkdir -p /app/.cache && chown kalema:kalema /app/.cache
USER 10001:10001
# Development unless KALEMA_ENVIRONMENT=production is set (compose.yaml lists what production
# then requires). The package is installed, so its default SQLite path would be inside
# site-packages.
ENV KALEMA_SQLITE_PATH=/app/.cache/ledger.sqlite
