# One image for web, workers and beat; the compose file picks the command.
FROM node:20-bookworm-slim AS frontend
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    RADLABEL_VAR_DIR=/var/lib/radlabel RADLABEL_MEDIA_ROOT=/var/lib/radlabel/media
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 make \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /app --uid 10001 radlabel \
    && install -d -o radlabel /var/lib/radlabel /var/lib/radlabel/media
WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY --chown=radlabel . .
COPY --from=frontend --chown=radlabel /src/frontend/dist ./frontend/dist
RUN DJANGO_SECRET_KEY=build-only RADLABEL_DEID_KEY=build-only \
    python manage.py collectstatic --noinput --verbosity 0
USER radlabel
EXPOSE 8000
CMD ["gunicorn", "backend.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
