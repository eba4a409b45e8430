"""The random direction z of zeroth-order training as a counter-based, chunked stream (stream ``chunked-v2``).

MeZO (Malladi et al. 2023, Alg. 1) never stores z: it re-seeds the RNG with the step's seed and regenerates z
whenever it is needed (perturb +ε, perturb −2ε / restore, update). Here z of every tensor is cut into blocks
of ``BLOCK`` = 2^16 entries (in the tensor's flat order; the last block may be shorter) and block b of tensor i
at step seed s is ``torch.randn(len(block))`` on its own ``torch.Generator`` seeded with
``block_seed(s, i, b)`` (splitmix64 of the triple, folded to the 32 bits the CPU mt19937 uses). So:
- any block can be regenerated alone (a forward that needs a few rows of an embedding regenerates only
  their blocks);
- blocks are independent, so several threads produce them at once (`BlockPool`; torch ops release the GIL),
  and z is the same for every thread count and every grouping of blocks into work items (tested bit-exact);
- no temporary larger than one block (256 KB in fp32) per thread is needed to apply z to a tensor.

Stream history: ``v1`` (before issue 20) drew a whole tensor with one ``torch.randn`` on a generator seeded
with ``step_seed · 1,000,003 + i``; ``chunked-v2`` gives different numbers from the same distribution, so runs
made with v1 are not continued or mixed with v2 (`core.training.zo.SPSA.load_state_dict` refuses a v1 state).
On CUDA the block generator is CUDA's (Philox), so z there differs from the CPU stream: a run is bit-exact
only on the device type it was made on.

`permuted_index` gives the R-MeZO mask its own counter-based stream: a keyed pseudo-random permutation of
each tensor's entries, so "π(entry) < k" keeps exactly k entries and any block of the mask is computed alone.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import torch

STREAM = "chunked-v2"
BLOCK = 1 << 16
_M64 = (1 << 64) - 1


def splitmix64(x: int) -> int:
    """The splitmix64 finalizer (Steele et al. 2014): a well-mixed 64-bit function of a 64-bit counter."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def block_seed(step_seed: int, tensor: int, block: int) -> int:
    """Seed of block `block` of tensor `tensor` at step seed `step_seed` (32 bits: mt19937 uses no more)."""
    x = splitmix64(splitmix64(splitmix64(step_seed & _M64) ^ tensor) ^ block)
    return (x >> 32) ^ (x & 0xFFFFFFFF)


def block_range(block: int, numel: int) -> tuple[int, int]:
    """Flat [start, stop) of a block in a tensor of `numel` entries."""
    return block * BLOCK, min((block + 1) * BLOCK, numel)


def blocks_between(start: int, stop: int) -> range:
    """The blocks that overlap the flat range [start, stop)."""
    return range(start // BLOCK, (stop - 1) // BLOCK + 1) if stop > start else range(0)


def normal_block(out: torch.Tensor, seed: int) -> torch.Tensor:
    """Fill `out` (one whole block, fp32, contiguous) with the block's N(0, 1) draws."""
    return out.normal_(generator=torch.Generator(device=out.device).manual_seed(seed))


def permuted_index(idx: torch.Tensor, n: int, salt: int) -> torch.Tensor:
    """π(idx) for a pseudo-random permutation π of [0, n) keyed by `salt` (int64 in, int64 out): a bijection h
    of m-bit integers (2^m ≥ n; add the salt, then xorshift / odd multiply / xorshift / odd multiply /
    xorshift, each invertible mod 2^m), cycle-walked until it lands in [0, n) (Black & Rogaway 2002), so
    {idx : π(idx) < k} has exactly k members for every k. Any entry's π is computed alone."""
    m = max(2, (n - 1).bit_length())
    mask, shift = (1 << m) - 1, (m + 1) // 2
    a, b = (0x7FEB352D | 1) & mask or 1, (0x846CA68B | 1) & mask or 1

    def h(x):
        x = (x + salt) & mask
        x = x ^ (x >> shift)
        x = (x * a) & mask
        x = x ^ (x >> shift)
        x = (x * b) & mask
        return x ^ (x >> shift)

    x = h(idx)
    out = x >= n
    while bool(out.any()):
        x[out] = h(x[out])
        out = x >= n
    return x


@contextmanager
def serial_ops():
    """Run torch's element-wise ops of this thread on one core: a block is too small to split, and splitting
    it wakes the other intra-op (OpenMP) threads, which on a busy machine costs milliseconds per op (measured:
    18.5 ms instead of 5 µs for a 2^16-entry add with 2 threads at load 15 on 2 cores)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


class BlockPool:
    """Runs a per-block function over many blocks on `threads` worker threads (in the calling thread when 1 or
    when there is a single block); every thread runs its ops serially (`serial_ops`). Each thread keeps its own
    fp32 scratch block, so a pass needs threads × 256 KB."""

    def __init__(self, threads: int | None = None):
        self.threads = max(1, threads or torch.get_num_threads())
        self._local = threading.local()
        self._pool = None
        if self.threads > 1:
            n, ready = torch.get_num_threads(), threading.Barrier(self.threads)
            self._pool = ThreadPoolExecutor(self.threads)
            for f in [self._pool.submit(self._serial_worker, ready) for _ in range(self.threads)]:
                f.result()
            torch.set_num_threads(n)  # set_num_threads also sets the process default; give it back

    @staticmethod
    def _serial_worker(ready: threading.Barrier) -> None:
        torch.get_num_threads()  # torch sets a thread's OpenMP threads at its first op; do that first
        torch.set_num_threads(1)
        ready.wait()  # every worker thread is started (and serial) before the pool is used

    def scratch(self, n: int, device) -> torch.Tensor:
        """This thread's fp32 scratch, viewed as its first n entries."""
        buf = getattr(self._local, "buf", None)
        if buf is None or buf.device != torch.device(device):
            buf = self._local.buf = torch.empty(BLOCK, dtype=torch.float32, device=device)
        return buf[:n]

    def run(self, fn, items: list, inline: bool = False) -> None:
        """fn(item) for every item; work items are split into `threads` contiguous runs (all in the calling
        thread when `inline`: for CUDA tensors, whose ops are queued asynchronously anyway)."""
        if self._pool is None or len(items) < 2 or inline:
            with serial_ops():
                for item in items:
                    fn(item)
            return
        k = self.threads
        runs = [items[j * len(items) // k : (j + 1) * len(items) // k] for j in range(k)]
        for future in [self._pool.submit(lambda run=run: [fn(item) for item in run]) for run in runs if run]:
            future.result()

    def __getstate__(self):  # a pool cannot be pickled or deep-copied; rebuild it
        return {"threads": self.threads}

    def __setstate__(self, state):
        self.__init__(state["threads"])
