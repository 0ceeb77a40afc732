/* A QEMU TCG plugin that counts the guest instructions a qemu-user process executes, all threads
 * together, and writes the total to a file at exit: callgrind's "Ir" for a program that callgrind
 * cannot run (bench/arm64_node_bench.sh: the arm64 node under qemu-aarch64).
 *   qemu-aarch64 -plugin ./qemu_insn_count.so,out=FILE PROGRAM ARGS...
 * Debian 12's qemu-user (7.2) is built with plugin support but ships neither QEMU's example
 * plugins (contrib/plugins, tests/plugin/insn.c) nor the plugin API's header, qemu-plugin.h; so the
 * few declarations used are written out below, from QEMU 7.2's documented plugin API
 * (docs/devel/tcg-plugins.rst, QEMU_PLUGIN_VERSION 1).
 * Counting is per translated block: when a block starts executing, its instruction count is added
 * (atomically: qemu-user runs each guest thread on a host thread), as QEMU's own insn plugin does.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t; /* only passed through */
struct qemu_plugin_tb;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS = 0 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb* tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void* userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void* userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb* tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void* userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb* tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void* userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

static uint64_t instructions;
static char out_path[4096];

static void on_block(unsigned int vcpu_index, void* n_insns) {
  (void)vcpu_index;
  __atomic_fetch_add(&instructions, (uint64_t)(uintptr_t)n_insns, __ATOMIC_RELAXED);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb* tb) {
  (void)id;
  qemu_plugin_register_vcpu_tb_exec_cb(tb, on_block, QEMU_PLUGIN_CB_NO_REGS,
                                       (void*)(uintptr_t)qemu_plugin_tb_n_insns(tb));
}

static void on_exit_(qemu_plugin_id_t id, void* userdata) {
  (void)id;
  (void)userdata;
  FILE* f = fopen(out_path, "w");
  if (!f) return;
  fprintf(f, "%llu\n", (unsigned long long)__atomic_load_n(&instructions, __ATOMIC_RELAXED));
  fclose(f);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id,
                                                               const qemu_info_t* info, int argc,
                                                               char** argv) {
  (void)info;
  for (int i = 0; i < argc; ++i)
    if (strncmp(argv[i], "out=", 4) == 0) snprintf(out_path, sizeof out_path, "%s", argv[i] + 4);
  if (!out_path[0]) {
    fprintf(stderr, "qemu_insn_count: needs out=FILE\n");
    return -1;
  }
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  qemu_plugin_register_atexit_cb(id, on_exit_, NULL);
  return 0;
}
