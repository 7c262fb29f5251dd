"""The C side of an exported shared library: its header and its runner (docs/deploy.md).

The runner is C compiled by the system's C compiler when the library is linked: linking a shared
library needs that compiler (or its linker) anyway, and pthreads, posix_memalign and the argument
checks read more plainly in C than as IR. The parts that must agree with the JIT's step are not
rewritten: the runner calls the same `graphc_run`/`graphc_worker_loop` (parallel.runtime_module:
a generation word the workers spin on, then sleep on with a futex) and the same `graphc_step`, and every
offset it needs (ctx slots, pool words, buffers) is written into the source from graphc's own
constants, so it cannot drift from them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..codegen import parallel, ring
from ..codegen.lower import ARENA, CONSTANTS, COUNTERS, NTHREADS, POINTERS, REGIONS, RING, SCRATCH, STATUS, \
    STATUS_WORDS

MAX_THREADS = 256
# A run uses at most one thread per this many FLOPs of its step: below it, waking a worker and the
# barriers cost more than the thread saves. Measured on LeNet at batch 1 (0.85 MFLOP), with the 2-core
# machine shared with other work: 21-35 us a run on one thread, 226-254 us on two.
FLOPS_PER_THREAD = 4_000_000
SPIN_MICROSECONDS = 50          # as the JIT's runner (parallel.ThreadRunner)
ERRORS = ("OK", "NULL_POINTER", "BUFFER_COUNT", "BUFFER_SIZE", "INDEX_OUT_OF_RANGE")
ERROR_TEXT = ("success", "a null handle or buffer pointer", "a wrong number of input or output buffers",
              "a buffer whose element count is not the tensor's", "an index in the data is out of range")


@dataclass(frozen=True)
class Layout:
    """What the runner needs: tensor shapes, where each output is, and the memory sizes."""
    name: str
    inputs: list[tuple[int, ...]]
    outputs: list[tuple[int, ...]]
    output_places: list[tuple[str, int]]          # (space: arena | weights | input<k>, byte offset)
    param_offsets: list[int]                      # of each parameter in the weights blob (constants first)
    arena_bytes: int
    region_bytes: int
    scratch_shared: int
    scratch_per_thread: int
    flops: int                                    # of one run, by the ops' flops rules


def header(layout: Layout, network: str) -> str:
    name, upper = layout.name, layout.name.upper()
    shapes = []
    for kind, tensors in (("INPUT", layout.inputs), ("OUTPUT", layout.outputs)):
        shapes.append(f"#define {upper}_NUM_{kind}S {len(tensors)}")
        for k, shape in enumerate(tensors):
            shapes += [f"#define {upper}_{kind}{k}_RANK {len(shape)}",
                       f"#define {upper}_{kind}{k}_SHAPE {{{', '.join(map(str, shape))}}}",
                       f"#define {upper}_{kind}{k}_SIZE {int(np.prod(shape))}  /* floats */"]
    errors = ",\n".join(f"    {upper}_{error} = {code}" for code, error in enumerate(ERRORS))
    return f"""/* {name}.h: {network} exported by graphc (file_format='SO'); see graphc's docs/deploy.md.

   {name}_create(num_threads) returns a handle whose runs use up to num_threads threads (1 <= num_threads <=
   {upper}_MAX_THREADS; fewer, down to 1, for a network of under {FLOPS_PER_THREAD // 1_000_000} MFLOP per thread), or NULL with
   errno set (EINVAL: a bad thread count; ENOMEM; EAGAIN: no thread could start). Its workers wait between runs.
   {name}_run(handle, inputs..., outputs...) reads {upper}_INPUTk_SIZE floats from each input and writes
   {upper}_OUTPUTk_SIZE floats to each output (row-major), and returns {upper}_OK or an error code;
   {name}_run_checked takes arrays of buffers with their element counts and checks them first.
   Calls on one handle are serialized; one handle per thread runs them concurrently. */
#ifndef {upper}_H
#define {upper}_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {{
#endif

{chr(10).join(shapes)}
#define {upper}_MAX_THREADS {MAX_THREADS}

enum {{
{errors}
}};

typedef struct {name}_handle {name}_handle;

{name}_handle *{name}_create(int num_threads);
int {name}_run({name}_handle *handle, {_run_parameters(layout)});
int {name}_run_checked({name}_handle *handle, const float *const *inputs, const size_t *input_sizes, size_t num_inputs,
                       float *const *outputs, const size_t *output_sizes, size_t num_outputs);
void {name}_destroy({name}_handle *handle);
const char *{name}_error_string(int code);

#ifdef __cplusplus
}}
#endif
#endif
"""


def _run_parameters(layout: Layout) -> str:
    return ", ".join([f"const float *input{k}" for k in range(len(layout.inputs))]
                     + [f"float *output{k}" for k in range(len(layout.outputs))])


def _array(ctype: str, name: str, values: list) -> str:
    return f"static const {ctype} {name}[] = {{{', '.join(map(str, values)) or '0'}}};"


def runner(layout: Layout, weights_path: str) -> str:
    """The runner's C source; `weights_path`: the weights blob the assembler includes."""
    name, upper = layout.name, layout.name.upper()
    n_in, n_out = len(layout.inputs), len(layout.outputs)
    places = {"arena": 0, "weights": 1}
    out_space = [places.get(space, 2) for space, _ in layout.output_places]
    out_input = [int(space[5:]) if space.startswith("input") else 0 for space, _ in layout.output_places]
    escaped = weights_path.replace("\\", "\\\\").replace('"', '\\"')
    pool_spin_slot = parallel._SPIN_TICKS // 2          # an i64 slot of the pool's i32 numbering
    return f"""/* The runner of {name}.so, generated by graphc (graphc/export/c_source.py). */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "{name}.h"

/* graphc's native code, in the objects linked with this file (hidden by the version script) */
void graphc_step(void *ctx, int64_t tid);
void graphc_prepare(void *ctx, int64_t tid);
void graphc_worker_loop(void *pool, int64_t tid);
void graphc_run(void *pool, void (*step)(void *, int64_t), void *ctx, int64_t workers);
void graphc_shutdown(void *pool);
int64_t graphc_cycles(void);

/* The weights: the constant block, then each parameter, 64-byte aligned, read-only. */
extern const unsigned char graphc_weights[];
__asm__(".section .rodata\\n.balign 64\\n.globl graphc_weights\\n.hidden graphc_weights\\n"
        "graphc_weights:\\n.incbin \\"{escaped}\\"\\n.previous\\n");

enum {{ NUM_INPUTS = {n_in}, NUM_OUTPUTS = {n_out}, NUM_PARAMS = {len(layout.param_offsets)} }};
enum {{ NTHREADS = {NTHREADS}, ARENA = {ARENA}, CONSTANTS = {CONSTANTS}, SCRATCH = {SCRATCH}, COUNTERS = {COUNTERS},
       STATUS = {STATUS}, REGIONS = {REGIONS}, RING = {RING}, POINTERS = {POINTERS},
       CTX_SLOTS = {POINTERS} + NUM_INPUTS + NUM_PARAMS }};
/* the ring's control words (ring.py): a run is one trip over one slot, its batch already staged */
enum {{ RING_WORDS = {ring.WORDS}, TRIPS = {ring.TRIPS}, SLOTS = {ring.SLOTS}, FILLED = {ring.FILLED},
       DONE = {ring.DONE}, STOP = {ring.STOP} }};
enum {{ POOL_BYTES = {parallel._POOL_BYTES}, POOL_SPIN_SLOT = {pool_spin_slot}, STATUS_WORDS = {STATUS_WORDS} }};
static const size_t ARENA_BYTES = {layout.arena_bytes}, REGION_BYTES = {layout.region_bytes};
static const int64_t THREADS_WORTH_IT = {max(1, layout.flops // FLOPS_PER_THREAD)};
static const size_t SCRATCH_SHARED = {layout.scratch_shared}, SCRATCH_PER_THREAD = {layout.scratch_per_thread};
{_array("size_t", "input_sizes", [int(np.prod(s)) for s in layout.inputs])}
{_array("size_t", "output_sizes", [int(np.prod(s)) for s in layout.outputs])}
{_array("size_t", "param_offsets", layout.param_offsets)}
{_array("int", "output_space", out_space)}   /* 0: arena, 1: weights, 2: an input */
{_array("int", "output_input", out_input)}
{_array("size_t", "output_offset", [offset for _, offset in layout.output_places])}

struct worker {{ void *pool; int64_t tid; }};

struct {name}_handle {{
    int64_t *ctx;
    unsigned char *arena, *regions, *scratch, *pool;
    int64_t *status, *ring;
    float *inputs[NUM_INPUTS + 1];
    pthread_t *threads;
    struct worker *workers;
    int nthreads, started;
    pthread_mutex_t lock;
}};

static void *zeroed(size_t nbytes)
{{
    void *p = NULL;
    nbytes = (nbytes + 63) / 64 * 64 + 64;
    if (posix_memalign(&p, 64, nbytes) != 0)
        return NULL;
    memset(p, 0, nbytes);          /* also faults the pages in now, not in the first run */
    return p;
}}

static void *work(void *arg)
{{
    struct worker *w = arg;
    graphc_worker_loop(w->pool, w->tid);
    return NULL;
}}

static int64_t spin_ticks(void)
{{
    struct timespec t0, t1, pause = {{0, 1000000}};
    int64_t c0, c1;
    double us;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    c0 = graphc_cycles();
    nanosleep(&pause, NULL);
    c1 = graphc_cycles();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    us = (t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3;
    return us > 0 ? (int64_t)((c1 - c0) / us * {SPIN_MICROSECONDS}) : 0;
}}

void {name}_destroy({name}_handle *h)
{{
    int i;
    if (h == NULL)
        return;
    if (h->started > 0) {{
        graphc_shutdown(h->pool);
        for (i = 0; i < h->started; i++)
            pthread_join(h->threads[i], NULL);
    }}
    for (i = 0; i < NUM_INPUTS; i++)
        free(h->inputs[i]);
    free(h->ctx); free(h->arena); free(h->regions); free(h->scratch); free(h->pool); free(h->status); free(h->ring);
    free(h->threads); free(h->workers);
    pthread_mutex_destroy(&h->lock);
    free(h);
}}

{name}_handle *{name}_create(int num_threads)
{{
    {name}_handle *h;
    int i, error;
    if (num_threads < 1 || num_threads > {upper}_MAX_THREADS) {{
        errno = EINVAL;
        return NULL;
    }}
#if defined(__linux__) && defined(__x86_64__)
    syscall(SYS_arch_prctl, 0x1023, 18);  /* AMX tile data, which bfloat16 1x1 convolutions use; no-op without */
#endif
    h = calloc(1, sizeof *h);
    if (h == NULL || pthread_mutex_init(&h->lock, NULL) != 0) {{
        free(h);
        errno = ENOMEM;
        return NULL;
    }}
    if ((int64_t)num_threads > THREADS_WORTH_IT)
        num_threads = (int)THREADS_WORTH_IT;
    h->nthreads = num_threads;
    h->ctx = zeroed(CTX_SLOTS * sizeof(int64_t));
    h->arena = zeroed(ARENA_BYTES);
    h->regions = zeroed(REGION_BYTES);
    h->scratch = zeroed(SCRATCH_SHARED + SCRATCH_PER_THREAD * (size_t)num_threads);
    h->pool = zeroed(POOL_BYTES);
    h->status = zeroed(STATUS_WORDS * sizeof(int64_t));
    h->ring = zeroed(RING_WORDS * sizeof(int64_t));
    h->threads = calloc((size_t)num_threads, sizeof *h->threads);
    h->workers = calloc((size_t)num_threads, sizeof *h->workers);
    error = !h->ctx || !h->arena || !h->regions || !h->scratch || !h->pool || !h->status || !h->ring || !h->threads
            || !h->workers;
    for (i = 0; i < NUM_INPUTS; i++)
        error |= (h->inputs[i] = zeroed(input_sizes[i] * sizeof(float))) == NULL;
    if (error) {{
        {name}_destroy(h);
        errno = ENOMEM;
        return NULL;
    }}
    h->ctx[NTHREADS] = num_threads;
    h->ctx[ARENA] = (int64_t)(intptr_t)h->arena;
    h->ctx[CONSTANTS] = (int64_t)(intptr_t)graphc_weights;
    h->ctx[SCRATCH] = (int64_t)(intptr_t)h->scratch;
    h->ctx[COUNTERS] = 0;
    h->ctx[STATUS] = (int64_t)(intptr_t)h->status;
    h->ctx[REGIONS] = (int64_t)(intptr_t)h->regions;
    h->ctx[RING] = (int64_t)(intptr_t)h->ring;
    for (i = 0; i < NUM_INPUTS; i++)
        h->ctx[POINTERS + i] = (int64_t)(intptr_t)h->inputs[i];
    for (i = 0; i < NUM_PARAMS; i++)
        h->ctx[POINTERS + NUM_INPUTS + i] = (int64_t)(intptr_t)(graphc_weights + param_offsets[i]);
    ((int64_t *)h->pool)[POOL_SPIN_SLOT] = num_threads > 1 ? spin_ticks() : 0;
    for (i = 1; i < num_threads; i++) {{
        h->workers[i].pool = h->pool;
        h->workers[i].tid = i;
        error = pthread_create(&h->threads[h->started], NULL, work, &h->workers[i]);
        if (error != 0) {{
            {name}_destroy(h);
            errno = error;
            return NULL;
        }}
        h->started++;
    }}
    graphc_run(h->pool, graphc_prepare, h->ctx, num_threads - 1);   /* the weights' relayouts, once */
    return h;
}}

static const float *output_source({name}_handle *h, int k)
{{
    const unsigned char *base = output_space[k] == 0 ? h->arena
                              : output_space[k] == 1 ? graphc_weights
                              : (const unsigned char *)h->inputs[output_input[k]];
    return (const float *)(base + output_offset[k]);
}}

static int run({name}_handle *h, const float *const *inputs, float *const *outputs)
{{
    int k, code = {upper}_OK;
    pthread_mutex_lock(&h->lock);
    for (k = 0; k < NUM_INPUTS; k++)
        memcpy(h->inputs[k], inputs[k], input_sizes[k] * sizeof(float));
    h->ring[TRIPS] = h->ring[SLOTS] = h->ring[FILLED] = 1;
    h->ring[DONE] = h->ring[STOP] = 0;
    graphc_run(h->pool, graphc_step, h->ctx, h->nthreads - 1);
    if (h->status[0] != 0) {{
        memset(h->status, 0, STATUS_WORDS * sizeof(int64_t));
        code = {upper}_INDEX_OUT_OF_RANGE;
    }} else {{
        for (k = 0; k < NUM_OUTPUTS; k++)
            memcpy(outputs[k], output_source(h, k), output_sizes[k] * sizeof(float));
    }}
    pthread_mutex_unlock(&h->lock);
    return code;
}}

int {name}_run_checked({name}_handle *h, const float *const *inputs, const size_t *input_counts, size_t num_inputs,
                       float *const *outputs, const size_t *output_counts, size_t num_outputs)
{{
    size_t k;
    if (h == NULL || inputs == NULL || input_counts == NULL || outputs == NULL || output_counts == NULL)
        return {upper}_NULL_POINTER;
    if (num_inputs != NUM_INPUTS || num_outputs != NUM_OUTPUTS)
        return {upper}_BUFFER_COUNT;
    for (k = 0; k < NUM_INPUTS; k++)
        if (inputs[k] == NULL)
            return {upper}_NULL_POINTER;
    for (k = 0; k < NUM_OUTPUTS; k++)
        if (outputs[k] == NULL)
            return {upper}_NULL_POINTER;
    for (k = 0; k < NUM_INPUTS; k++)
        if (input_counts[k] != input_sizes[k])
            return {upper}_BUFFER_SIZE;
    for (k = 0; k < NUM_OUTPUTS; k++)
        if (output_counts[k] != output_sizes[k])
            return {upper}_BUFFER_SIZE;
    return run(h, inputs, outputs);
}}

int {name}_run({name}_handle *h, {_run_parameters(layout)})
{{
    const float *inputs[] = {{{", ".join([f"input{k}" for k in range(n_in)] + ["NULL"])}}};
    float *outputs[] = {{{", ".join([f"output{k}" for k in range(n_out)] + ["NULL"])}}};
    return {name}_run_checked(h, inputs, input_sizes, NUM_INPUTS, outputs, output_sizes, NUM_OUTPUTS);
}}

const char *{name}_error_string(int code)
{{
    static const char *const text[] = {{{", ".join(f'"{t}"' for t in ERROR_TEXT)}}};
    return code >= 0 && code < (int)(sizeof text / sizeof *text) ? text[code] : "an unknown error code";
}}
"""
