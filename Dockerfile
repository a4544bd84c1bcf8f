# A slim image running the monitor daemon. Mount your config and a data volume:
#   docker build -t monitor .
#   docker run -d -v $PWD/config:/srv/config:ro -v monitor-data:/srv/data monitor
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /build
COPY pyproject.toml README.md ./
COPY monitor ./monitor
RUN pip install . && rm -rf /build

WORKDIR /srv
COPY config ./config
RUN useradd --system --home /srv monitor && mkdir -p /srv/data && chown monitor /srv/data
USER monitor
VOLUME ["/srv/data"]
# Relative paths in the config (sqlite:///data/monitor.db, logfile://data/alerts.log) land in /srv/data.
ENTRYPOINT ["monitor"]
CMD ["run"]
