# The Kalema Credits services for compose.yaml: one image, a command per service.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY events events
COPY services services
COPY projections projections
RUN pip install --no-cache-dir .
