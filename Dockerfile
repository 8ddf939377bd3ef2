# The Kalema Credits services for compose.yaml: one image, a command per service.
# They run as an unprivileged user: nothing in them needs root, and a compromised process
# should not own the container (or write its own code).
FROM python:3.11-slim
RUN groupadd --system --gid 10001 kalema \
 && useradd --system --uid 10001 --gid kalema --home-dir /app --shell /usr/sbin/nologin kalema
WORKDIR /app
COPY pyproject.toml README.md ./
COPY events events
COPY services services
COPY projections projections
RUN pip install --no-cache-dir . \
 && mkdir -p /app/.cache && chown kalema:kalema /app/.cache
USER 10001:10001
