# classify: an ImageNet image classifier (ONNX Runtime, optional TorchSharp) for GPU clusters.
#
#   docker build -t classify:latest .                      # CPU + CUDA via ONNX Runtime, no libtorch
#   docker run --rm --gpus all classify:latest --image_file /data/cat.png
#   container/build-sif.sh                                 # the same image as classifier.sif
#
# Build arguments (all optional; container/README.md explains each):
#   SDK_IMAGE      .NET 10 SDK image for the build stage
#   RUNTIME_IMAGE  CUDA 13 + cuDNN 9 runtime image (ONNX Runtime GPU 1.31 is a CUDA 13 build);
#                  CUDA 13.0 runs on every driver >= 580, the oldest branch that knows CUDA 13
#   AOT            true|false: build classify as a Native AOT executable (the default: a one-image job starts
#                  in about half the time); the build stage then needs gcc, which it installs if missing
#   READY_TO_RUN   true|false: with AOT=false, precompile the assemblies (faster start of each short job)
#   LIBTORCH       none|cpu|cuda: the native libtorch for the TorchSharp backend (--backend torch); another
#                  value fails early, as the unknown stage runtime-<value> (see the last FROM)
#                    none: ONNX Runtime only (smallest image)
#                    cpu:  NuGet's libtorch-cpu-linux-x64 2.10.0 inside the app
#                    cuda: the official libtorch 2.10 CUDA 13 archive unpacked to /opt/libtorch
#                          (CLASSIFY_LIBTORCH_DIR points there)
#   LIBTORCH_ARCHIVE  for LIBTORCH=cuda: an http(s) URL, or the name of a zip downloaded beforehand
#                     into container/libtorch/ (e.g. on a machine whose build has no internet access)
#   MODELS         catalogue models to bake into the image (e.g. "resnet50 efficientnet-lite4"; classify models
#                  list), downloaded and checked against their sha256 in the build stage, so that the image
#                  (and a SIF made from it) classifies with them on nodes without internet
#   MODEL_MIRROR   a site's copy of the catalogue's files for MODELS (CLASSIFY_MODEL_MIRROR)
#   MODEL_CATALOG  a catalogue file in the build context instead of models/catalog.json (CLASSIFY_CATALOG)
#   VERSION, REVISION, CREATED  values for the OCI labels; VERSION and REVISION also go into the executable
#                  (classify --version, and the classify_version of every result), so that the two agree

ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0
ARG RUNTIME_IMAGE=nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04
ARG LIBTORCH=none

FROM ${SDK_IMAGE} AS build
ARG AOT=true
ARG READY_TO_RUN=true
ARG LIBTORCH
# The same defaults as below; the git commit is not in the build context (.dockerignore), so it comes from here.
ARG VERSION=1.0.0
ARG REVISION=unknown
# Native AOT links with a C compiler, which the .NET SDK images lack.
RUN if [ "${AOT}" = true ] && ! command -v gcc >/dev/null && ! command -v clang >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /src
# Only what the publish reads: a libtorch archive dropped into container/libtorch/ stays out of this stage.
COPY Directory.Build.props Directory.Packages.props ./
COPY src/ src/
COPY models/ models/
# The NuGet cache lives in a BuildKit cache mount: a rebuild after a source change does not download the
# ~1 GB of native packages (ONNX Runtime GPU, libtorch) again, and none of it lands in an image layer.
RUN --mount=type=cache,id=classify-nuget,target=/root/.nuget/packages \
    if [ "${AOT}" = true ]; then build="-p:PublishAot=true"; \
    else build="--self-contained true -p:PublishReadyToRun=${READY_TO_RUN}"; fi \
 && if [ "${REVISION}" != unknown ]; then build="$build -p:SourceRevisionId=${REVISION}"; fi \
 && dotnet publish src/Classify.Cli -c Release -r linux-x64 $build \
      -p:DebugType=none -p:StripSymbols=true -p:ClassifyLibTorch="${LIBTORCH}" -p:Version="${VERSION}" -o /out \
 && rm -f /out/*.dbg /out/*.pdb \
 && test -x /out/classify && test -x /out/classify-app \
 && test -f /out/models/squeezenet1.1/model.json
# After the publish, so that a change of MODELS only reruns this step. The pulled folders join the bundled ones.
ARG MODELS=""
ARG MODEL_MIRROR=""
ARG MODEL_CATALOG=""
RUN if [ -n "${MODELS}" ]; then \
      export CLASSIFY_CACHE=/tmp/model-cache; \
      if [ -n "${MODEL_MIRROR}" ]; then export CLASSIFY_MODEL_MIRROR="${MODEL_MIRROR}"; fi; \
      if [ -n "${MODEL_CATALOG}" ]; then export CLASSIFY_CATALOG="/src/${MODEL_CATALOG}"; fi; \
      /out/classify models pull ${MODELS} \
      && mv /tmp/model-cache/models/* /out/models/ && rm -rf /tmp/model-cache \
      && for m in ${MODELS}; do /out/classify models path "$m"; done; \
    fi

# Built only for LIBTORCH=cuda (the last FROM picks runtime-cuda), so the default build neither downloads nor
# carries the ~2.5 GB CUDA libtorch.
FROM ${SDK_IMAGE} AS libtorch
ARG LIBTORCH_ARCHIVE=https://download.pytorch.org/libtorch/cu130/libtorch-shared-with-deps-2.10.0%2Bcu130.zip
COPY container/libtorch/ /tmp/context/
RUN set -eu; \
    if ! command -v unzip >/dev/null || ! command -v curl >/dev/null; then \
      apt-get update; apt-get install -y --no-install-recommends unzip curl ca-certificates; \
      rm -rf /var/lib/apt/lists/*; \
    fi; \
    case "${LIBTORCH_ARCHIVE}" in \
      http://*|https://*) curl -fSL --retry 3 -o /tmp/libtorch.zip "${LIBTORCH_ARCHIVE}" ;; \
      *) mv "/tmp/context/${LIBTORCH_ARCHIVE}" /tmp/libtorch.zip ;; \
    esac; \
    unzip -q /tmp/libtorch.zip -d /tmp/unpacked; \
    mv /tmp/unpacked/libtorch /opt/libtorch; \
    rm -rf /opt/libtorch/include /opt/libtorch/share/cmake /tmp/context /tmp/libtorch.zip /tmp/unpacked; \
    test -f /opt/libtorch/lib/libtorch.so; \
    if [ ! -f /opt/libtorch/lib/libtorch_cuda.so ]; then \
      echo "note: ${LIBTORCH_ARCHIVE} has no libtorch_cuda.so: --backend torch will run on the CPU only" >&2; \
    fi

FROM ${RUNTIME_IMAGE} AS runtime
# libjpeg-turbo's TurboJPEG library: classify decodes JPEG with it where it is installed (arithmetic-coded JPEG,
# libjpeg's checks for damaged data; README, Images). Debian names it libturbojpeg0, Ubuntu libturbojpeg.
# libspng decodes PNG (every PngSuite image, stoppable by --decode_timeout; ImageSharp hangs on some): libspng0 on both.
RUN apt-get update \
 && { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libturbojpeg0 libspng0 \
      || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libturbojpeg libspng0; } \
 && rm -rf /var/lib/apt/lists/*
# Empty mount points for the file systems HPC sites bind into containers: where overlayFS is off, Singularity and
# Apptainer can bind a host path (`-B /lustre`, or a site's default binds of $WORK and scratch) only onto a
# directory that exists in the image. /home and /tmp exist already.
RUN mkdir -p /work /scratch /gpfs /lustre /projects /project /data /nobackup /fs /global /local /apps /opt/site
# Docker runs as this user; Singularity/Apptainer always run as the calling user.
RUN groupadd --system --gid 10001 classify \
 && useradd --system --uid 10001 --gid classify --home-dir /home/classify --create-home \
      --shell /usr/sbin/nologin classify

COPY --from=build /out /opt/classify
# A symlink on PATH, because `singularity exec` ignores ENTRYPOINT; the app finds its models next to the
# resolved executable, /opt/classify/models.
# The --version run: the AOT executable is linked against the build stage's C library; if this base's is older,
# the build fails here, not a job on the cluster.
RUN ln -s /opt/classify/classify /usr/local/bin/classify \
 && /opt/classify/classify --version >/dev/null

# After the RUN steps: a build argument that changes (CREATED, REVISION) would otherwise rebuild them.
ARG VERSION=1.0.0
ARG REVISION=unknown
ARG CREATED=unknown
ARG RUNTIME_IMAGE
LABEL org.opencontainers.image.title="classify" \
      org.opencontainers.image.description="ImageNet image classifier (ONNX Runtime CUDA/CPU, optional TorchSharp) for HPC GPU clusters; run with: singularity exec --nv classifier.sif classify --image_file cat.png" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}" \
      org.opencontainers.image.documentation="container/README.md"

ENV NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility

USER classify
WORKDIR /home/classify
ENTRYPOINT ["classify"]

# One final stage per LIBTORCH value; the last FROM picks it, and only the stages it needs are built.
FROM runtime AS runtime-none
FROM runtime AS runtime-cpu
FROM runtime AS runtime-cuda
COPY --from=libtorch /opt/libtorch /opt/libtorch
# classify loads libtorch by full path from here (docs/torch.md), so the archive's own copies of the CUDA and
# cuDNN libraries stay off the loader path, where ONNX Runtime finds the base image's.
ENV CLASSIFY_LIBTORCH_DIR=/opt/libtorch/lib

FROM runtime-${LIBTORCH}
