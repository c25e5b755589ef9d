# One image for every cpqsync role; docker-compose picks the role by command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY producer_bridge ./producer_bridge
COPY consumer ./consumer
COPY cpqsync ./cpqsync
RUN pip install --no-cache-dir . && useradd --create-home cpqsync
USER cpqsync
EXPOSE 9108
ENTRYPOINT ["cpqsync"]
