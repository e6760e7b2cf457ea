# devopness-server: API, worker and beat share this image; the command picks the role.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends openssh-client git \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 devopness

WORKDIR /srv/devopness
COPY pyproject.toml README.md ./
COPY app ./app
COPY workers ./workers
COPY launcher ./launcher
COPY migrations ./migrations
RUN pip install .

USER devopness
ENV DATABASE_URL=sqlite+aiosqlite:////srv/devopness/data/devopness.db
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)" || exit 1

CMD ["devopness-server", "serve", "--host", "0.0.0.0", "--port", "8000"]
