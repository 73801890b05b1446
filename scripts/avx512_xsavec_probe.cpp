// Where the CPU's XSAVEC puts the upper halves of the YMM registers, for
// scripts/avx512_emulated.sh (its `cpu` step runs this in the emulated guest).
//
// XSAVEC writes the compacted format: the legacy area (bytes 0-511) and the header (512-575)
// where XSAVE puts them, the extended components packed from byte 576 on, YMM_Hi128 first. So
// on a correct CPU the upper half of ymm7 lands at 576 + 7 * 16 = 688 with XSAVE and XSAVEC
// alike. Bochs 2.7 packs the extended components from the end of the SSE registers (416)
// instead, over the header, while its XRSTOR reads them from 576: the upper halves of ymm6 to
// ymm9 overwrite the header's reserved bytes, and XRSTOR raises #GP when they are not zero.
// glibc's lazy binding (_dl_runtime_resolve_xsavec: XSAVEC, resolve the symbol, XRSTOR) then
// kills a program that first calls a library function while those halves are not zero (JIT
// code such as libxsmm's kernels does not end with VZEROUPPER).
//
// Prints the offsets and whether that XSAVEC + XRSTOR sequence faults; exits 1 when the layout
// is wrong. Build: g++ -O1 -static -mavx2 (inline assembly only; no AVX-512 needed).
#include <csetjmp>
#include <csignal>
#include <cstdio>
#include <cstring>

namespace {

alignas(64) unsigned char area[4096];
sigjmp_buf after_fault;

void on_fault(int) { siglongjmp(after_fault, 1); }

// ymm<r> = 32 bytes of 0x10 + r
void fill_ymm() {
  alignas(32) unsigned char v[16][32];
  for (int r = 0; r < 16; ++r) std::memset(v[r], 0x10 + r, 32);
  asm volatile(
      "vmovdqu 0(%0), %%ymm0\n\t vmovdqu 32(%0), %%ymm1\n\t vmovdqu 64(%0), %%ymm2\n\t"
      "vmovdqu 96(%0), %%ymm3\n\t vmovdqu 128(%0), %%ymm4\n\t vmovdqu 160(%0), %%ymm5\n\t"
      "vmovdqu 192(%0), %%ymm6\n\t vmovdqu 224(%0), %%ymm7\n\t vmovdqu 256(%0), %%ymm8\n\t"
      "vmovdqu 288(%0), %%ymm9\n\t vmovdqu 320(%0), %%ymm10\n\t vmovdqu 352(%0), %%ymm11\n\t"
      "vmovdqu 384(%0), %%ymm12\n\t vmovdqu 416(%0), %%ymm13\n\t vmovdqu 448(%0), %%ymm14\n\t"
      "vmovdqu 480(%0), %%ymm15\n\t"
      :
      : "r"(v)
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory");
}

// The offset past the legacy area of the 16 bytes of 0x17 (ymm7's upper half), or -1.
int ymm7_hi_offset() {
  for (int off = 512; off + 16 <= static_cast<int>(sizeof area); off += 16) {
    bool all = true;
    for (int i = 0; i < 16; ++i) all = all && area[off + i] == 0x17;
    if (all) return off;
  }
  return -1;
}

}  // namespace

int main() {
  // Components 1-7 (SSE, AVX, AVX-512), bit 3 included as glibc asks (the CPU drops it).
  const unsigned mask = 0xee;
  std::memset(area, 0, sizeof area);
  fill_ymm();
  asm volatile("xsave (%0)" : : "r"(area), "a"(mask), "d"(0) : "memory");
  const int std_off = ymm7_hi_offset();
  std::memset(area, 0, sizeof area);
  fill_ymm();
  asm volatile("xsavec (%0)" : : "r"(area), "a"(mask), "d"(0) : "memory");
  const int comp_off = ymm7_hi_offset();
  std::signal(SIGSEGV, on_fault);
  bool faulted = true;
  std::memset(area, 0, sizeof area);
  if (sigsetjmp(after_fault, 1) == 0) {
    fill_ymm();
    asm volatile("xsavec (%0)\n\t xrstor (%0)" : : "r"(area), "a"(mask), "d"(0) : "memory");
    faulted = false;
  }
  std::printf(
      "xsavec probe: ymm7's upper half at byte %d with XSAVE, %d with XSAVEC (both 688 "
      "on a correct CPU); XSAVEC then XRSTOR: %s\n",
      std_off, comp_off, faulted ? "#GP" : "no fault");
  return std_off == 688 && comp_off == 688 && !faulted ? 0 : 1;
}
