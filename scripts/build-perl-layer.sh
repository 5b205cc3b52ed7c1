#!/bin/sh
# Builds a Perl runtime layer (perl at /opt/bin/perl, modules under /opt/lib) inside
# the official Lambda Node.js base image, so the binaries match Lambda's own libc.
# Needs Docker and internet access (it downloads the Perl sources and CPAN modules).
#
#   scripts/build-perl-layer.sh                     # Perl 5.40.2 for x86_64
#   ARCH=arm64 scripts/build-perl-layer.sh          # for Graviton functions
#   PERL_MODULES="CGI DBI DBD::SQLite" scripts/build-perl-layer.sh
#
# Then publish it and deploy with it:
#   aws lambda publish-layer-version --layer-name perl-5-40 \
#     --zip-file fileb://build/perl-layer.zip --compatible-architectures x86_64
#   npx serverless deploy --param="perlLayer=<the LayerVersionArn it printed>"
set -eu

PERL_VERSION=${PERL_VERSION:-5.40.2}
ARCH=${ARCH:-x86_64}
PERL_MODULES=${PERL_MODULES:-}
IMAGE=${IMAGE:-public.ecr.aws/lambda/nodejs:22}
OUT_DIR=${OUT_DIR:-build}

case "$ARCH" in
  x86_64) PLATFORM=linux/amd64 ;;
  arm64) PLATFORM=linux/arm64 ;;
  *) echo "ARCH must be x86_64 or arm64, not $ARCH" >&2; exit 2 ;;
esac

command -v docker >/dev/null || { echo "build-perl-layer: docker is needed" >&2; exit 1; }
mkdir -p "$OUT_DIR"
OUT_ABS=$(cd "$OUT_DIR" && pwd)

docker run --rm --platform "$PLATFORM" \
  -e PERL_VERSION="$PERL_VERSION" -e PERL_MODULES="$PERL_MODULES" \
  -v "$OUT_ABS:/out" --entrypoint /bin/bash "$IMAGE" -c '
    set -euo pipefail
    dnf install -y gcc make tar gzip zip findutils >/dev/null
    cd /tmp
    curl -fsSL "https://www.cpan.org/src/5.0/perl-${PERL_VERSION}.tar.gz" | tar xz
    cd "perl-${PERL_VERSION}"
    # Installed where the layer is mounted; no man pages: a layer is at most 250 MB unzipped.
    ./Configure -des -Dprefix=/opt -Dman1dir=none -Dman3dir=none >/dev/null
    make -j"$(nproc)" >/dev/null
    make install >/dev/null
    if [ -n "$PERL_MODULES" ]; then
      curl -fsSL https://cpanmin.us | /opt/bin/perl - --notest App::cpanminus
      /opt/bin/cpanm --notest $PERL_MODULES
    fi
    /opt/bin/perl -v | sed -n 2p
    cd /opt
    rm -f /out/perl-layer.zip
    zip -qr --symlinks /out/perl-layer.zip bin lib
  '
echo "built $OUT_DIR/perl-layer.zip (Perl $PERL_VERSION, $ARCH)"
