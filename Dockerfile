# One image for the whole stack (docker-compose.yml): the sweep worker (`python -m sweep`), the
# MLflow tracking server (`mlflow server`) and optuna-dashboard. It holds no secret: stores and
# passwords come from the environment at run time.
#
#   docker build -t sweep .                            # torch from PyTorch's CPU-only index
#   docker build --build-arg TORCH_INDEX_URL= -t sweep .   # torch from pip's configured indexes

# --- build: everything into one venv, so the final stage copies a single folder -----------------
FROM python:3.11-slim-bookworm AS build

# PyPI's Linux torch wheel is the CUDA build (GBs of nvidia-* packages); the CPU-only index
# serves the same version without them. Empty: use pip's configured indexes and find-links.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Dependencies first, read from pyproject.toml (one source of truth for pins), so a change in
# src/ does not reinstall them: torch alone from its index, then the rest. torch's C++ headers
# and C++ test binaries (~145 MB) go: they serve building extensions and testing torch only.
COPY pyproject.toml ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" > /tmp/requirements.txt \
 && grep '^torch' /tmp/requirements.txt > /tmp/torch.txt \
 && pip install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} -r /tmp/torch.txt \
 && pip install -r /tmp/requirements.txt optuna-dashboard==0.21.0 \
 && python -c "import torch; assert not torch.version.cuda, 'CUDA build of torch'" \
 && rm -rf /opt/venv/lib/python3.11/site-packages/torch/include \
           /opt/venv/lib/python3.11/site-packages/torch/test

# The project itself, non-editable (its configs ship as package data).
COPY README.md ./
COPY src/ src/
RUN pip install --no-deps . && python -c "import sweep"

# --- runtime: the base image plus the venv, run as an unprivileged user -------------------------
FROM python:3.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MLFLOW_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=true
# /data/mlartifacts is created here, owned by the user, so a named volume mounted on it starts
# writable (Docker and podman copy the image's folder and its owner into an empty volume).
RUN useradd --create-home --uid 10001 --user-group sweep \
 && mkdir -p /data/mlartifacts /work && chown sweep:sweep /data/mlartifacts /work
COPY --from=build /opt/venv /opt/venv
USER sweep
# Hydra writes its outputs/ folder here.
WORKDIR /work
CMD ["python", "-m", "sweep", "--help"]
