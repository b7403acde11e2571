/* A QEMU TCG plugin for qemu-aarch64 that counts the guest instructions
 * retired between calls of the guest function `spex_instruction_mark`, and
 * finds the hottest translation block (the kernel's inner loop) with its
 * disassembly, for llvm-mca.
 *
 * Built against QEMU's plugin API header (include/qemu/qemu-plugin.h from
 * Debian's qemu source package; Debian's qemu-user loads plugins but ships
 * none). Usage:
 *   qemu-aarch64 -plugin libspex_icount.so,out=FILE ./program
 * FILE receives one JSON object: {"retired": all instructions, "marks":
 * [instructions retired at each mark], "hot": {"vaddr", "insns", "execs",
 * "disas": [...]}}, "hot" being the block that retired the most
 * instructions between the first two marks ("execs": its executions there).
 *
 * Counting is inline (one add per executed block), so it is exact and does
 * not slow the guest much; the counter is not atomic, so this counts
 * single-threaded guests only.
 *
 * With `process=on` the plugin counts a whole multi-threaded process (a
 * daemon with its RPC threads, for scripts/bench.sh edge-arm64): each
 * executed block adds its size to its own vCPU's counter (one per guest
 * thread in qemu-user, so no two threads add to one counter at once), and
 * "retired" is their sum at exit; no marks and no hot block then. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

enum { kMaxBlocks = 1 << 20, kMaxMarks = 64, kMaxVcpus = 4096 };

struct Block {
  uint64_t vaddr;
  uint64_t execs;
  size_t insns;
  char *disas; /* newline-separated */
};

static uint64_t retired;
static uint64_t marks[kMaxMarks];
static int n_marks;
static struct Block *blocks; /* open addressing by vaddr */
static char *out_path;

/* process=on: one counter per vCPU, each on its own cache line; vCPUs past
 * the table share one atomic counter. */
struct VcpuCount {
  uint64_t retired;
  char pad[56];
};
static struct VcpuCount *vcpu_counts;
static uint64_t overflow_retired;

static void OnBlockInVcpu(unsigned int vcpu_index, void *udata) {
  const uint64_t n = (uint64_t)(uintptr_t)udata;
  if (vcpu_index < kMaxVcpus) {
    vcpu_counts[vcpu_index].retired += n;
  } else {
    __atomic_fetch_add(&overflow_retired, n, __ATOMIC_RELAXED);
  }
}

static struct Block *BlockAt(uint64_t vaddr) {
  uint64_t h = (vaddr >> 2) * 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < kMaxBlocks; ++i) {
    struct Block *b = &blocks[(h + i) & (kMaxBlocks - 1)];
    if (b->vaddr == vaddr || b->insns == 0) return b;
  }
  return NULL;
}

static const struct Block *hot;     /* between the first two marks */
static uint64_t hot_execs;

static void OnMark(unsigned int vcpu_index, void *udata) {
  (void)vcpu_index;
  (void)udata;
  if (n_marks < kMaxMarks) marks[n_marks++] = retired;
  if (n_marks == 1) {
    /* Block counts start at the first mark: setup does not compete. */
    for (size_t i = 0; i < kMaxBlocks; ++i) blocks[i].execs = 0;
  } else if (n_marks == 2) {
    for (size_t i = 0; i < kMaxBlocks; ++i) {
      const struct Block *b = &blocks[i];
      if (b->insns != 0 &&
          (hot == NULL || b->execs * b->insns > hot_execs * hot->insns)) {
        hot = b;
        hot_execs = b->execs;
      }
    }
  }
}

static void OnTranslate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  (void)id;
  const size_t n = qemu_plugin_tb_n_insns(tb);
  if (n == 0) return;
  if (vcpu_counts != NULL) {
    qemu_plugin_register_vcpu_tb_exec_cb(tb, OnBlockInVcpu,
                                         QEMU_PLUGIN_CB_NO_REGS,
                                         (void *)(uintptr_t)n);
    return;
  }
  struct qemu_plugin_insn *first = qemu_plugin_tb_get_insn(tb, 0);
  const char *symbol = qemu_plugin_insn_symbol(first);
  if (symbol != NULL && strcmp(symbol, "spex_instruction_mark") == 0) {
    qemu_plugin_register_vcpu_tb_exec_cb(tb, OnMark, QEMU_PLUGIN_CB_NO_REGS,
                                         NULL);
  }
  qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
                                           &retired, n);
  const uint64_t vaddr = qemu_plugin_tb_vaddr(tb);
  struct Block *b = BlockAt(vaddr);
  if (b == NULL) return;
  if (b->insns == 0) {
    b->vaddr = vaddr;
    b->insns = n;
    size_t length = 0, capacity = 64 * n;
    b->disas = malloc(capacity);
    b->disas[0] = '\0';
    for (size_t i = 0; i < n; ++i) {
      char *text = qemu_plugin_insn_disas(qemu_plugin_tb_get_insn(tb, i));
      const size_t add = strlen(text) + 1;
      if (length + add + 1 > capacity) {
        capacity = 2 * (length + add + 1);
        b->disas = realloc(b->disas, capacity);
      }
      memcpy(b->disas + length, text, add - 1);
      b->disas[length + add - 1] = '\n';
      length += add;
      b->disas[length] = '\0';
      free(text);
    }
  }
  qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
                                           &b->execs, 1);
}

static void WriteJsonString(FILE *f, const char *s, size_t n) {
  fputc('"', f);
  for (size_t i = 0; i < n; ++i) {
    if (s[i] == '"' || s[i] == '\\') fputc('\\', f);
    if (s[i] == '\t') {
      fputc(' ', f);
      continue;
    }
    fputc(s[i], f);
  }
  fputc('"', f);
}

static void OnExit(qemu_plugin_id_t id, void *udata) {
  (void)id;
  (void)udata;
  FILE *f = fopen(out_path, "w");
  if (f == NULL) {
    perror(out_path);
    return;
  }
  if (vcpu_counts != NULL) {
    retired = overflow_retired;
    for (int i = 0; i < kMaxVcpus; ++i) retired += vcpu_counts[i].retired;
  }
  fprintf(f, "{\"retired\": %" PRIu64 ", \"marks\": [", retired);
  for (int i = 0; i < n_marks; ++i) {
    fprintf(f, "%s%" PRIu64, i ? ", " : "", marks[i]);
  }
  fprintf(f, "]");
  if (hot != NULL) {
    fprintf(f,
            ", \"hot\": {\"vaddr\": %" PRIu64 ", \"insns\": %zu, "
            "\"execs\": %" PRIu64 ", \"disas\": [",
            hot->vaddr, hot->insns, hot_execs);
    const char *line = hot->disas;
    for (int first = 1; *line != '\0'; first = 0) {
      const char *end = strchr(line, '\n');
      if (!first) fputs(", ", f);
      WriteJsonString(f, line, (size_t)(end - line));
      line = end + 1;
    }
    fprintf(f, "]}");
  }
  fprintf(f, "}\n");
  fclose(f);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
                                           const qemu_info_t *info, int argc,
                                           char **argv) {
  (void)info;
  int process = 0;
  for (int i = 0; i < argc; ++i) {
    if (strncmp(argv[i], "out=", 4) == 0) out_path = strdup(argv[i] + 4);
    if (strcmp(argv[i], "process=on") == 0) process = 1;
  }
  if (out_path == NULL) {
    fprintf(stderr, "libspex_icount: give out=FILE\n");
    return -1;
  }
  if (process) {
    vcpu_counts = calloc(kMaxVcpus, sizeof(struct VcpuCount));
    if (vcpu_counts == NULL) return -1;
  } else {
    blocks = calloc(kMaxBlocks, sizeof(struct Block));
    if (blocks == NULL) return -1;
  }
  qemu_plugin_register_vcpu_tb_trans_cb(id, OnTranslate);
  qemu_plugin_register_atexit_cb(id, OnExit, NULL);
  return 0;
}
