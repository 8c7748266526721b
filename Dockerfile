FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# The CPU build of torch (the project pins 2.13.0); then the project itself.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY diffmix diffmix
COPY model model
COPY service service
COPY robot robot
COPY db db
COPY migrations migrations
COPY models models
RUN pip install -e .
EXPOSE 8000
CMD ["diffmix", "serve", "--host", "0.0.0.0", "--port", "8000"]
