# The service image: `docker build -t mailservice .` (see docs/deployment.md).
FROM python:3.12-slim AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/opt/mailservice
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY src ./src
COPY docs ./docs
# Not editable: the package, its templates and the agent guide are copied into the environment.
RUN uv sync --locked --no-dev --no-editable

FROM python:3.12-slim
RUN useradd --system --create-home --home-dir /var/lib/mailservice --shell /usr/sbin/nologin mailservice
COPY --from=build /opt/mailservice /opt/mailservice
ENV PATH=/opt/mailservice/bin:$PATH \
    MAILSERVICE_ENV=production \
    DATA_DIR=/var/lib/mailservice \
    HTTP_ADDR=:8080
WORKDIR /var/lib/mailservice
USER mailservice
VOLUME /var/lib/mailservice
# HTTP API, SMTP, IMAP, IMAPS, POP3, POP3S
EXPOSE 8080 25 143 993 110 995
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
CMD ["mailservice", "serve"]
