# The service's image: Python 3.12 slim, the runtime lock only (no test tool), a non-root
# user, gunicorn with the Procfile's settings, a HEALTHCHECK on /readyz.
# The base image names its patch release: at least 3.12.5, the first with the fix for
# CVE-2024-6923 (the email package wrote encoded newlines of a header value as line breaks;
# access/mail.py also guards against it on its own). Raise it on purpose, like the locks.
#
#   docker build -t orgauthz .
#   # migrations: once per release, before the new version serves (a one-shot container;
#   # on a platform with a Procfile, its release phase: `flask --app app db upgrade`)
#   docker run --rm -e DATABASE_URL=postgresql://user@db:5432/orgauthz orgauthz \
#     flask --app app db upgrade
#   docker run -d -p 8000:8000 -e DATABASE_URL=postgresql://user@db:5432/orgauthz orgauthz
#   docker run --rm -e DATABASE_URL=... orgauthz flask --app app keys create NAME
#
# No Docker engine builds this in CI: tests/client/test_production_install.py runs the build
# stage's RUN lines in a fresh venv, serves the app from the build context as .dockerignore
# leaves it with this CMD, and runs this HEALTHCHECK against it, so neither can rot.

FROM python:3.12.15-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements.txt /tmp/requirements.txt
RUN python -m venv /opt/venv
RUN /opt/venv/bin/pip install --require-hashes -r /tmp/requirements.txt

FROM python:3.12.15-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BIND=0.0.0.0:8000
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home orgauthz
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY . /app
# The code stays root's; the app writes only instance/ (SQLite by default, the decision log,
# policy snapshots).
RUN mkdir -p /app/instance && chown orgauthz:orgauthz /app/instance
USER orgauthz
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('BIND', '0.0.0.0:8000').rsplit(':', 1)[1], timeout=4)"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"]
