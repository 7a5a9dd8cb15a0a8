# vitrine in a container: build on Debian 12, run on a slim Debian 12.
#   docker build -t vitrine .
#   docker run -p 6333:6333 -v vitrine-data:/data -v $PWD/weights:/weights vitrine
# Inference uses one thread per CPU the container may use (docker --cpus and
# --cpuset-cpus are honoured); OPENBLAS_NUM_THREADS=N overrides that.
FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN tools/deps.sh && make -j"$(nproc)" WERROR=1

FROM debian:12-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    libuv1 liblmdb0 libopenblas0-pthread libutf8proc2 libwebp7 libyajl2 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/vitrine /usr/local/bin/vitrine
ENV VITRINE_HOST=0.0.0.0 VITRINE_PORT=6333 VITRINE_DATA=/data \
    VITRINE_WEIGHTS=/weights/clip-vit-base-patch32
VOLUME /data
EXPOSE 6333
ENTRYPOINT ["/usr/local/bin/vitrine"]
CMD ["serve"]
