# One image for every process of the bot (web, worker, outbound, rasa, actions, release):
# compose.yaml picks the command. Build: docker build -t cobranza-bot .
#   --build-arg TRAIN_MODEL=0  leaves models/ empty: mount a trained model there instead
#                              (docker run -v ./models:/app/models:ro ...).

FROM python:3.10-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements.txt constraints.txt /tmp/
RUN pip install -r /tmp/requirements.txt -c /tmp/constraints.txt

FROM python:3.10-slim
# tzdata: the contact rules need 2025b or later (bot/contact/zones.py checks at start).
RUN apt-get update \
    && apt-get install -y --no-install-recommends tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin bot
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FLASK_APP=bot \
    APP_ENV=production \
    LOG_FORMAT=json \
    TF_CPP_MIN_LOG_LEVEL=3 \
    MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --chown=bot:bot . .
USER bot
# The Rasa model, trained at build time from the committed NLU data and rules (reproducible:
# the image carries the model its code expects), unless TRAIN_MODEL=0.
ARG TRAIN_MODEL=1
RUN mkdir -p models instance \
    && if [ "$TRAIN_MODEL" = "1" ]; then \
         rasa train --quiet --config dialogue/config.yml --domain dialogue/domain.yml \
           --data nlu_data dialogue/rules --out models --fixed-model-name bot \
         && rm -rf .rasa; \
       fi
EXPOSE 5000 5005 5055 9100
CMD ["gunicorn", "--bind", "0.0.0.0:5000", "--workers", "2", "--threads", "4", "bot:create_app()"]
