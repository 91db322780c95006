#!/usr/bin/env bash
# deps.sh - make sure the Debian packages vmatop builds and tests with are
# installed. As root it installs what is missing; otherwise it prints the one
# apt-get line that is needed and fails. Used by `make demo` and `make check`.
set -u

# build: compiler, BPF toolchain, libraries; test: prove (perl), valgrind,
# the real programs the tests trace (python3, git), strace as the peer;
# liburing and libaio for the I/O-ring scenarios (tests/shim/iomaps.c).
PKGS=(
	gcc make pkg-config perl
	clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
	libunwind-dev libdw-dev liburcu-dev libncurses-dev libzstd-dev
	valgrind python3 git strace procps
	liburing-dev libaio-dev
)

missing=()
for p in "${PKGS[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
	[[ "$st" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
	echo "vmatop: missing packages: ${missing[*]}" >&2
	echo "vmatop: run as root:  apt-get install -y ${missing[*]}" >&2
	exit 1
fi

echo "vmatop: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || {
	apt-get update -q >/dev/null 2>&1
	apt-get install -y -q "${missing[@]}" || {
		echo "vmatop: apt-get install failed for: ${missing[*]}" >&2
		exit 1
	}
}
exit 0
