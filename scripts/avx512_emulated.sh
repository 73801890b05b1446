#!/usr/bin/env bash
# Runs the AVX-512 kernels on a machine without AVX-512: the test binary with TMLP_SIMD=avx512
# on an emulated CPU. Debian's Bochs 2.7 (built with EVEX support) emulates a Skylake-X and
# boots Debian's kernel from a small isolinux ISO whose initramfs holds busybox, tmlp_tests,
# the tmlp program and every shared library they need; /init runs the requested steps, prints
# everything to the serial port (Bochs writes COM1 to a file) and powers the guest off.
# Slow (the emulator runs about 100 million instructions a second): about 35 minutes for the
# default steps on a 2-core machine. Not part of scripts/test.sh.
#
# Usage: scripts/avx512_emulated.sh [STEPS]
#   STEPS  comma-separated, run in order inside the guest (default cpu,system,kernels,subset):
#            cpu      /proc/cpuinfo model and flags, the kernel's x86/fpu (XSAVE) lines, and where
#                     the emulated XSAVEC puts the YMM registers (scripts/avx512_xsavec_probe.cpp)
#            system   `tmlp system` and `tmlp system --list-simd` with TMLP_SIMD=avx512
#            kernels  TMLP_SIMD=avx512 tmlp_tests "[kernels]"
#            subset   TMLP_SIMD=avx512 tmlp_tests "[core],[train]"  (scripts/test.sh's per-arch run)
#            control  TMLP_SIMD=avx2   tmlp_tests "[core],[train]"
#            xsmm     libxsmm's AVX-512 kernels, with TMLP_SIMD=avx512 TMLP_GEMM=libxsmm
#                     LIBXSMM_TARGET=skx: `tmlp system`, the test of ranks as threads, "[blas]"
#            bf16     libxsmm's bf16 kernels (its skx code, which computes them in fp32) with
#                     LIBXSMM_TARGET=skx: `tmlp system`, "[bf16]", and
#                     breast_cancer trained in fp32, in bf16 on fp32 products
#                     (TMLP_GEMM=openblas TMLP_SIMD=scalar) and in bf16 on the bf16 kernels
#            bf16det  "[determinism]" (thread and rank counts) on them: half an hour or more
# Everything goes to build/avx512-emu; the serial log ends up in build/avx512-emu/serial.txt.
# Exits 0 only if the guest finished and every test step printed rc=0.
# Environment: SKIP_BUILD=1 reuses the build; BOCHS_TIMEOUT (seconds, default 5400) bounds the
# Bochs run; CPU_MODEL (default corei7_skylake_x); MEGS (default 2048); GUEST_ENV (space-separated
# NAME=value pairs exported in the guest before the steps, e.g. GUEST_ENV="LIBXSMM_VERBOSE=3";
# GUEST_ENV="GLIBC_TUNABLES=" undoes the XSAVEC workaround in /init).
set -euo pipefail

STEPS=${1:-cpu,system,kernels,subset}
SRC=$(cd "$(dirname "$0")/.." && pwd)
WORK=$SRC/build/avx512-emu
LOG=$WORK/serial.txt
BUILD=$WORK/build
CPU_MODEL=${CPU_MODEL:-corei7_skylake_x}
MEGS=${MEGS:-2048}
BOCHS_TIMEOUT=${BOCHS_TIMEOUT:-5400}
RUN=$WORK/run-$(echo "$STEPS" | tr ',' '_')
mkdir -p "$WORK"

# 1. Host packages: Bochs + its BIOSes, busybox for the guest userland, isolinux + xorriso for
#    the boot ISO, cpio for the initramfs.
if ! command -v bochs >/dev/null || ! command -v xorriso >/dev/null || [ ! -x /bin/busybox ] \
   || [ ! -f /usr/lib/ISOLINUX/isolinux.bin ]; then
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    bochs bochsbios vgabios busybox-static cpio syslinux syslinux-common isolinux xorriso
fi
# Bochs must know an AVX-512 CPU model (only listed when built with EVEX support).
models=$(bochs -help cpu 2>&1 || true)
grep -qx "$CPU_MODEL" <<<"$models" || { echo "bochs has no CPU model $CPU_MODEL" >&2; exit 1; }

# 2. Release build of the test binary and the CLI, out of the source tree.
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTMLP_BUILD_TESTS=ON \
    -DTMLP_BUILD_BENCH=OFF >/dev/null
  cmake --build "$BUILD" -j "$(nproc)" --target tmlp_tests tmlp_cli
fi
TESTS=$BUILD/tests/tmlp_tests
CLI=$BUILD/src/cli/tmlp
# Static: the probe runs before any workaround below could matter to it.
g++ -O1 -static -mavx2 -o "$WORK"/xsavec_probe "$SRC"/scripts/avx512_xsavec_probe.cpp

# 3. Debian's kernel: linux-image-amd64 is a metapackage; download the image it depends on
#    and unpack it (no installation).
KDIR=$WORK/kernel
if ! ls "$KDIR"/x/boot/vmlinuz-* >/dev/null 2>&1; then
  mkdir -p "$KDIR"
  kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
  (cd "$KDIR" && apt-get download "$kpkg" && dpkg-deb -x "$kpkg"_*.deb x)
fi
VMLINUZ=$(ls "$KDIR"/x/boot/vmlinuz-* | head -1)

# 4. Initramfs: busybox, the two programs, every library ldd names (copied through symlinks,
#    e.g. the alternatives link of libopenblas) at the same path, the dynamic loader at
#    /lib64/ld-linux-x86-64.so.2, and the test data at the path compiled into the binary.
rm -rf "$RUN" && mkdir -p "$RUN"/root/{bin,proc,sys,dev,tmp,opt/tmlp,lib64} "$RUN"/iso/isolinux
R=$RUN/root
cp /bin/busybox "$R"/bin/busybox
cp "$TESTS" "$CLI" "$WORK"/xsavec_probe "$R"/opt/tmlp/
for lib in $( (ldd "$TESTS"; ldd "$CLI") | grep -oE '/[^ ]+' | sort -u); do
  mkdir -p "$R$(dirname "$lib")" && cp -L "$lib" "$R$lib"
done
mkdir -p "$R$SRC/tests" && cp -r "$SRC/tests/data" "$R$SRC/tests/"
# shellcheck disable=SC2086  # GUEST_ENV: one word per NAME=value
{ printf 'export TMLP_DATA=%q\n' "$SRC/tests/data"
  for kv in ${GUEST_ENV:-}; do printf 'export %q\n' "$kv"; done; } > "$R"/guest_env
cat > "$R"/init <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin HOME=/tmp TMPDIR=/tmp
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
# Bochs 2.7's XSAVEC writes the AVX and AVX-512 registers 160 bytes too low, over the XSAVE
# header, and its XRSTOR raises #GP on the reserved header bytes that then hold the upper halves
# of ymm7 to ymm9 (the cpu step shows it). glibc resolves a library function on its first call
# with XSAVEC ... XRSTOR (_dl_runtime_resolve_xsavec), so a first call made while those halves
# are not zero dies with SIGSEGV in ld.so: it killed tmlp_tests after libxsmm's AVX-512 kernels
# (JIT code without VZEROUPPER) in a rank thread. Without XSAVEC, glibc saves with XSAVE, which
# Bochs gets right. (The kernel's clearcpuid=321 below hides XSAVEC from the kernel only.)
export GLIBC_TUNABLES=glibc.cpu.hwcaps=-XSAVEC
. /guest_env
steps=$(sed -n 's/.*tmlp_steps=\([a-z0-9_,]*\).*/\1/p' /proc/cmdline)
cd /opt/tmlp
# Catch2 takes the serial console for a colour terminal; plain text reads better in the log.
T="./tmlp_tests --use-colour no"
echo "=== GUEST: up, steps: $steps, $(grep MemTotal /proc/meminfo)"
for s in $(echo "$steps" | tr ',' ' '); do
  echo "=== GUEST: begin $s (guest uptime $(cut -d' ' -f1 /proc/uptime))"
  case $s in
    cpu)
      grep -m1 '^model name' /proc/cpuinfo
      grep -m1 '^flags' /proc/cpuinfo
      echo "avx512 flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep '^avx512' | tr '\n' ' ')"
      dmesg | grep -iE 'x86/fpu|xsave'
      ./xsavec_probe
      /lib64/ld-linux-x86-64.so.2 --list-diagnostics \
        | grep -E 'xsave_state|features.0x3..active.0x0' ;;  # CPUID 0xD.1 EAX: bit 1 is XSAVEC
    system)
      TMLP_SIMD=avx512 ./tmlp system; echo "rc=$?"
      ./tmlp system --list-simd; echo "rc=$?" ;;
    kernels)      TMLP_SIMD=avx512 $T "[kernels]"; echo "rc=$?" ;;
    subset)       TMLP_SIMD=avx512 $T "[core],[train]"; echo "rc=$?" ;;
    control)      TMLP_SIMD=avx2   $T "[core],[train]"; echo "rc=$?" ;;
    xsmm)
      export TMLP_SIMD=avx512 TMLP_GEMM=libxsmm LIBXSMM_TARGET=skx
      export LIBXSMM_VERBOSE=${LIBXSMM_VERBOSE:-2}  # libxsmm's kernel counts at exit
      ./tmlp system; echo "rc=$?"
      # (a comma separates test specs for Catch: the one in the name is escaped)
      $T "R ranks train the same parameters as one process\, bit for bit"; echo "rc=$?"
      $T "[blas]"; echo "rc=$?"
      dmesg | grep -iE 'segfault|general protection|traps:' | tail -5
      unset TMLP_SIMD TMLP_GEMM LIBXSMM_TARGET LIBXSMM_VERBOSE ;;
    bf16)
      export TMLP_SIMD=avx512 LIBXSMM_TARGET=skx
      ./tmlp system; echo "rc=$?"
      $T "[bf16]"; echo "rc=$?"
      data=$TMLP_DATA/breast_cancer.csv
      # bf16 on fp32 products needs the scalar kernels on a CPU without AVX512-BF16.
      for run in "openblas avx512 fp32" "openblas scalar bf16" "auto avx512 bf16"; do
        set -- $run
        rm -f /tmp/m.tmlp
        TMLP_GEMM=$1 TMLP_SIMD=$2 ./tmlp train "$data" --target target_benign --precision "$3" \
          --seed 0 -o /tmp/m.tmlp --quiet; echo "rc=$?"
        echo "breast_cancer, TMLP_GEMM=$1, TMLP_SIMD=$2, precision $3 (on the training rows):"
        ./tmlp evaluate /tmp/m.tmlp "$data" --json; echo "rc=$?"
      done
      unset TMLP_SIMD LIBXSMM_TARGET ;;
    bf16det)
      TMLP_SIMD=avx512 LIBXSMM_TARGET=skx $T "[determinism]"; echo "rc=$?" ;;
    *) echo "unknown step $s" ;;
  esac
  echo "=== GUEST: end $s (guest uptime $(cut -d' ' -f1 /proc/uptime))"
done
echo "=== GUEST: done"
# poweroff -f does not wait for the serial console: let it drain, or the last lines are lost.
sync; sleep 3
poweroff -f
EOF
chmod +x "$R"/init
(cd "$R" && find . | cpio -o -H newc --quiet | gzip -1) > "$RUN"/iso/initrd.gz

# 5. Boot ISO (isolinux, El Torito no-emulation). Kernel options:
#    console=ttyS0   kernel and /init output on COM1
#    noxsaves clearcpuid=321   Linux >= 5.19 sizes the compacted XSAVE area (XSAVES/XSAVEC,
#                    X86_FEATURE_XSAVEC = word 10 bit 1 = 321) from CPUID.(EAX=0DH,ECX=1).EBX, which
#                    Bochs 2.7 reports as the standard-format size (2688 vs 2432): the kernel then
#                    disables XSAVE altogether and with it AVX, AVX2 and AVX-512 ("XSAVE consistency
#                    problem: size 2432 != kernel_size 2688"). With both features cleared it uses the
#                    standard (non-compacted) format: "Enabled xstate features 0xe7, context size is
#                    2688 bytes, using 'standard' format". Tried: either option alone still fails.
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$RUN"/iso/isolinux/
cp "$VMLINUZ" "$RUN"/iso/vmlinuz
cat > "$RUN"/iso/isolinux/isolinux.cfg <<EOF
SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL /vmlinuz
  APPEND initrd=/initrd.gz console=ttyS0,115200 loglevel=4 mitigations=off nokaslr noxsaves clearcpuid=321 rdinit=/init tmlp_steps=$STEPS
EOF
xorriso -as mkisofs -quiet -o "$RUN"/boot.iso -b isolinux/isolinux.bin -c isolinux/boot.cat \
  -no-emul-boot -boot-load-size 4 -boot-info-table "$RUN"/iso

# 6. Bochs configuration. Debian's build has no 'nogui' display library, so the rfb one runs with
#    timeout=0 (it does not wait for a VNC client). The ALSA sound back end aborts in this
#    container (fortify failure in mixer_thread), so sound is the dummy driver and the PC speaker
#    is off. clock sync=none: emulate as fast as possible.
cat > "$RUN"/bochsrc <<EOF
megs: $MEGS
cpu: model=$CPU_MODEL, count=1, ips=100000000, reset_on_triple_fault=0
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14
ata0-master: type=cdrom, path=$RUN/boot.iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=$RUN/serial.txt
display_library: rfb, options="timeout=0"
sound: driver=dummy
speaker: enabled=0
clock: sync=none, time0=local
log: $RUN/bochs.log
panic: action=fatal
error: action=report
info: action=report
debug: action=ignore
EOF
# Debian's bochs is built with the internal debugger, which stops before the first instruction:
# the -rc file continues, and quits once the guest has powered off.
printf 'c\nquit\n' > "$RUN"/debugger.rc

# 7. Boot. A reader stamps every serial line with the host time (it stops when Bochs does); the
#    guest's poweroff ends Bochs.
: > "$RUN"/serial.txt
start=$(date +%s)
echo "host: bochs started $(date +%T), steps $STEPS, run dir $RUN"
(cd "$RUN" && exec timeout "$BOCHS_TIMEOUT" bochs -f "$RUN"/bochsrc -rc "$RUN"/debugger.rc \
   </dev/null >"$RUN"/bochs.out 2>&1) &
bochs_pid=$!
tail -n +1 -F --pid="$bochs_pid" "$RUN"/serial.txt 2>/dev/null | while IFS= read -r line; do
  printf '%s %s\n' "$(date +%H:%M:%S)" "$line"; done > "$RUN"/serial.stamped
rc=0; wait "$bochs_pid" || rc=$?
end=$(date +%s)
echo "host: bochs exited rc=$rc after $((end - start)) s wall"
cp "$RUN"/serial.txt "$LOG"
grep -q '=== GUEST: done' "$RUN"/serial.txt || { echo "avx512_emulated: the guest did not finish (see $LOG)" >&2; exit 1; }
# Every test step ends with "rc=N"; any non-zero one fails the run.
if grep -qE '^rc=[1-9]' "$RUN"/serial.txt; then
  echo "avx512_emulated: a step failed in the guest (see $LOG)" >&2
  exit 1
fi
grep -E '^(All tests passed|test cases:|avx512 flags:|simd kernels)' "$RUN"/serial.txt || true
echo "avx512_emulated: every step passed"
