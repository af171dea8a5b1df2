# One image for the backend, the migration job and the edge collector/simulator.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH
RUN pip install --no-cache-dir uv==0.13.9 \
    && useradd --system --home /srv/ridethrough --uid 10001 ridethrough
WORKDIR /srv/ridethrough

# Dependencies first so code changes do not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

COPY alembic.ini ./
COPY app ./app
COPY edge ./edge
COPY migrations ./migrations
COPY static ./static
COPY templates ./templates
RUN uv sync --frozen --no-dev

USER ridethrough
EXPOSE 8000
CMD ["python", "-m", "app", "serve", "--host", "0.0.0.0", "--port", "8000"]
