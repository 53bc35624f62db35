# One image for the whole stack (docker-compose.yml): the sweep worker (`python -m sweep`), the
# MLflow tracking server (`mlflow server`) and optuna-dashboard. It holds no secret: stores and
# passwords come from the environment at run time.
#
#   docker build -t sweep .                                # torch from PyTorch's CPU-only index
#   docker build --build-arg TORCH_INDEX_URL= -t sweep .   # torch from pip's configured indexes
#
# One stage on purpose: a second stage's `COPY --from` of the 1.6 GB venv costs ~11 s even
# when cached and rewrites the whole layer on every source change; here a change in src/
# rebuilds only the last, small layers. Packages go into a venv owned by root (read-only for
# the user the containers run as).
FROM python:3.11-slim-bookworm

# PyPI's Linux torch wheel is the CUDA build (GBs of nvidia-* packages); the CPU-only index
# serves the same version without them. Empty: use pip's configured indexes and find-links.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PATH=/opt/venv/bin:$PATH \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    MLFLOW_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=true

# /data/mlartifacts is created here, owned by the user, so a named volume mounted on it starts
# writable (Docker and podman copy the image's folder and its owner into an empty volume).
RUN useradd --create-home --uid 10001 --user-group sweep \
 && mkdir -p /data/mlartifacts /work \
 && chown sweep:sweep /data/mlartifacts /work \
 && python -m venv /opt/venv

# Dependencies first, read from pyproject.toml (one source of truth for pins), so a change in
# src/ does not reinstall them: torch alone from its index, then the rest. torch's C++ headers
# and C++ test binaries (~145 MB) go: they serve building extensions and testing torch only.
COPY pyproject.toml /tmp/sweep/
RUN python -c "import tomllib; print(*tomllib.load(open('/tmp/sweep/pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" > /tmp/requirements.txt \
 && grep '^torch' /tmp/requirements.txt > /tmp/torch.txt \
 && pip install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} -r /tmp/torch.txt \
 && pip install -r /tmp/requirements.txt optuna-dashboard==0.21.0 \
 && python -c "import torch; assert not torch.version.cuda, 'CUDA build of torch'" \
 && rm -rf /tmp/requirements.txt /tmp/torch.txt \
           /opt/venv/lib/python3.11/site-packages/torch/include \
           /opt/venv/lib/python3.11/site-packages/torch/test

# The project itself, non-editable (its configs ship as package data); the sources go after.
COPY README.md /tmp/sweep/
COPY src/ /tmp/sweep/src/
RUN pip install --no-deps /tmp/sweep && rm -rf /tmp/sweep && python -c "import sweep"

USER sweep
# Hydra writes its outputs/ folder here.
WORKDIR /work
CMD ["python", "-m", "sweep", "--help"]
