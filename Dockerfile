# One image for every process: web (the default command), and with another command the Celery
# worker, beat and Flower, and the one-shot `python manage.py migrate --noinput`.
# See docker-compose.yml for how each one is started, and deploy/README.md for production notes.
FROM python:3.11-slim

# PYTHONPATH: the code is imported from /app, never from the copy pip puts in site-packages (the
# built wheel carries only the .py files, not the templates and static files beside them).
# WEB_CONCURRENCY is gunicorn's worker count; override it per deployment.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    VAR_DIR=/app/var \
    DJANGO_SETTINGS_MODULE=sales_dashboard.settings.production \
    WEB_CONCURRENCY=3

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin app

WORKDIR /app

# Dependencies first, in a layer that only changes with pyproject.toml. No package matches yet, so
# this installs every dependency (and the ops extra: gunicorn, flower) around an empty project.
COPY pyproject.toml ./
RUN touch README.md \
    && pip install '.[ops]' \
    && rm -rf build ./*.egg-info

# Then the project itself.
COPY README.md manage.py ./
COPY sales_dashboard ./sales_dashboard
COPY tenancy ./tenancy
COPY connectors ./connectors
COPY etl ./etl
COPY dashboard ./dashboard
RUN pip install --no-deps --force-reinstall . \
    && rm -rf build ./*.egg-info

# Static files are collected into the image and served by WhiteNoise. The production settings
# insist on these variables being set (and on keys of the right form); the values here are
# throwaway placeholders for this one command only: the two keys are random, made for this build
# step and discarded, nothing connects to the URLs, none of it is in the image's environment, and
# the real secrets are given at run time.
RUN DJANGO_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    FIELD_ENCRYPTION_KEY="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
    DJANGO_ALLOWED_HOSTS=localhost \
    DATABASE_URL=postgres://build:build@localhost:5432/build \
    CELERY_BROKER_URL=redis://localhost:6379/0 \
    REDIS_URL=redis://localhost:6379/1 \
    python manage.py collectstatic --noinput --verbosity 0 \
    && chown app:app /app/var

USER app

EXPOSE 8000

# Timeouts: a request that takes a minute is stuck (syncs run in Celery, not in requests), and a
# graceful stop gives in-flight requests 30 s. Workers are recycled now and then to bound memory.
# The logger class keeps OAuth authorization codes (the callback's query string) out of the access log.
CMD ["gunicorn", "sales_dashboard.wsgi:application", \
     "--bind", "0.0.0.0:8000", \
     "--timeout", "60", \
     "--graceful-timeout", "30", \
     "--keep-alive", "5", \
     "--max-requests", "1000", \
     "--max-requests-jitter", "100", \
     "--worker-tmp-dir", "/dev/shm", \
     "--access-logfile", "-", \
     "--logger-class", "sales_dashboard.access_log.AccessLogger"]
