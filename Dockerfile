# DCP's production image: one image for the web server, the Celery worker, Celery beat and migrations.
# docker-compose.yml shows how the four are run together; every setting is an environment variable.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DCP_DATA_DIR=/var/lib/dcp \
    DCP_STATIC_ROOT=/app/staticfiles

# A fixed uid, so a volume mounted on /var/lib/dcp can be given to the same user on every host.
RUN groupadd --system --gid 10001 dcp \
    && useradd --system --uid 10001 --gid dcp --home-dir /var/lib/dcp --no-create-home --shell /usr/sbin/nologin dcp

# ssh: Ansible (host initialization) reaches hosts with the system's OpenSSH client.
# gettext: compilemessages builds the console's translations (locale/*.po) into the image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends openssh-client gettext \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies before the code, so a code change does not reinstall them.
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . ./

# Static files are collected into the image, where WhiteNoise serves them. The settings are
# loaded in their embedded default with a throw-away data directory: the secrets and broker
# folders that creates are deleted in the same layer, so none of them ends up in the image.
RUN DCP_ENV=embedded DCP_DATA_DIR=/tmp/build python manage.py collectstatic --noinput --verbosity 0 \
    && DCP_ENV=embedded DCP_DATA_DIR=/tmp/build python manage.py compilemessages --verbosity 0 \
    && rm -rf /tmp/build \
    && install -d -o dcp -g dcp -m 0750 /var/lib/dcp

# From here on the image refuses to start until every production setting is given.
ENV DCP_ENV=production

USER dcp
EXPOSE 8000
CMD ["gunicorn", "dcp.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
