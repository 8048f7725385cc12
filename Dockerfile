# One image for web, worker and beat (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VAR_DIR=/app/var
WORKDIR /app

# The dependencies from the lock (uv.lock's hashed export), in a layer of their own.
COPY requirements/runtime.txt ./requirements/
RUN pip install --no-cache-dir --require-hashes -r requirements/runtime.txt

COPY pyproject.toml README.md ./
COPY contactcenter ./contactcenter
COPY telephony ./telephony
COPY campaigns ./campaigns
COPY analysis ./analysis
COPY templates ./templates
COPY manage.py gunicorn.conf.py ./
RUN pip install --no-cache-dir --no-deps . \
    && DEBUG=true AGORA_SIMULATOR=true python manage.py collectstatic --noinput \
    && useradd --system --home /app contactcenter \
    && chown -R contactcenter /app/var

USER contactcenter
EXPOSE 8000
CMD ["gunicorn", "contactcenter.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
