#!/usr/bin/env bash
# Installs what hpctrain needs on Debian 12 (bookworm), from Debian packages.
#   tools/install-deps.sh          build + test + benchmark dependencies
#   tools/install-deps.sh --data   also the Fashion-MNIST data set package
#   tools/install-deps.sh --torch  also python3-torch (PyTorch comparisons)
#   tools/install-deps.sh --fuzz   also clang and libFuzzer (tools/fuzz.sh)
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
pkgs=(build-essential cmake pkg-config
      libhwloc-dev hwloc libcmocka-dev libbenchmark-dev libbenchmark-tools
      zlib1g-dev libopenblas-dev libopenblas0-openmp python3)
for a in "$@"; do
  case "$a" in
    --data) pkgs+=(dataset-fashion-mnist) ;;
    --torch) pkgs+=(python3-torch python3-numpy) ;;
    --fuzz) pkgs+=(clang libclang-rt-14-dev) ;;
    *) echo "install-deps.sh: unknown option $a (expected --data, --torch or --fuzz)" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
