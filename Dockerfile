# hoprec container image, in two stages on Debian 12.
#
#   docker build -t hoprec .
#   docker run --rm -v hoprec-data:/var/lib/hoprec hoprec gen --out data
#   docker run --rm -v hoprec-data:/var/lib/hoprec hoprec \
#     train --data data --model lightgcn --epochs 40 --out snapshot
#   docker run -p 8080:8080 -v hoprec-data:/var/lib/hoprec hoprec \
#     serve --snapshot snapshot --store events.db
#
# (README.md, "Operating it", has the full sequence.)
#
# The builder installs the toolchain with the same script developers and
# CI use, builds with warnings as errors and runs the test suites; the
# runtime image holds the binary and its shared libraries only.
#
# FAISS's distance kernels are compiled for AVX2 when the building machine
# has it (FAISS_SIMD=auto), and the image then needs AVX2 where it runs
# (it says so and exits rather than crash); for older CPUs build with
# --build-arg FAISS_SIMD=none.

FROM debian:12-slim AS builder
ARG FAISS_SIMD=auto
WORKDIR /src
COPY deploy/deps.sh deploy/deps.sh
RUN bash deploy/deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN bash deploy/deps.sh \
 && meson setup /build -Dbuildtype=release -Dwerror=true \
      -Dfaiss_simd="$FAISS_SIMD" \
 && ninja -C /build \
 && meson test -C /build --print-errorlogs

FROM debian:12-slim
COPY deploy/deps.sh /tmp/deps.sh
RUN bash /tmp/deps.sh --runtime && rm -rf /var/lib/apt/lists/* /tmp/deps.sh \
 && useradd --system --home-dir /var/lib/hoprec --create-home hoprec
COPY --from=builder /build/hoprec /usr/local/bin/hoprec
USER hoprec
WORKDIR /var/lib/hoprec
VOLUME ["/var/lib/hoprec"]
EXPOSE 8080
ENV HOPREC_LISTEN=0.0.0.0:8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD curl -fsS http://127.0.0.1:8080/livez || exit 1
ENTRYPOINT ["/usr/local/bin/hoprec"]
CMD ["serve"]
