"""Dense N-D convolution: factorconv.conv vs torch.nn.ConvNd, side by side, 1 and 2 threads.

Prints, per layer and thread count: torch time, ours, the ratio ours/torch (goal <= 1.1), and
the layer's roofline (max(FLOPs / measured GEMM peak, bytes / measured bandwidth)).
"""

import sys

import numpy as np
import torch

import factorconv as fc
from harness import machine_line, machine_peaks, record_results, roofline, set_threads, timeit_interleaved

# (name, input shape, out channels, kernel, padding)
LAYERS = [
    ("2-D 8x64x56x56 k3 p1 64->64", (8, 64, 56, 56), 64, 3, 1),
    ("2-D 1x256x14x14 k3 p1 256->256", (1, 256, 14, 14), 256, 3, 1),
    ("1-D 16x128x1024 k5 p2 128->128", (16, 128, 1024), 128, 5, 2),
    ("3-D 2x32x16x32x32 k3 p1 32->32", (2, 32, 16, 32, 32), 32, 3, 1),
]


def main():
    torch.manual_seed(0)
    rows, peak_lines = [], []
    print("machine:", machine_line())
    for threads in (1, 2):
        peaks = machine_peaks(torch, threads)
        peak_lines.append("threads=%d: measured sgemm peak %.0f GFLOP/s, copy bandwidth %.1f GB/s"
                          % (threads, peaks[0] / 1e9, peaks[1] / 1e9))
        print(peak_lines[-1])
        for name, xshape, cout, k, p in LAYERS:
            order = len(xshape) - 2
            module = [None, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d][order](
                xshape[1], cout, k, padding=p, bias=True)
            x = torch.randn(*xshape)
            w = module.weight.detach().numpy().copy()
            b = module.bias.detach().numpy().copy()
            xn = x.numpy()
            set_threads(threads, torch, fc)
            with torch.no_grad():
                ref = module(x).numpy()
                ours = fc.conv(xn, w, b, padding=p)
                err = np.abs(ours - ref).max() / np.abs(ref).max()
                t_torch, t_ours = timeit_interleaved([lambda: module(x), lambda: fc.conv(xn, w, b, padding=p)],
                                                     min_time=1.4)
            flops = 2.0 * ref.size * xshape[1] * k ** order
            nbytes = 4.0 * (xn.size + w.size + ref.size)
            t_roof = roofline(flops, nbytes, peaks)
            rows.append((name, threads, t_torch, t_ours, err, t_roof))
            print("  %-34s torch %8.2f ms  ours %8.2f ms  ratio %.2f  roofline %.2f ms  (rel err %.1e)"
                  % (name, t_torch * 1e3, t_ours * 1e3, t_ours / t_torch, t_roof * 1e3, err))
            sys.stdout.flush()
    table = ["torch %s, factorconv %s; largest relative difference from torch: %.1e"
             % (torch.__version__, fc.__version__, max(r[4] for r in rows)), ""]
    table += [line + "  " for line in peak_lines] + [""]
    table += ["| layer | threads | torch ms | factorconv ms | ours/torch | roofline ms |", "|---|---|---|---|---|---|"]
    for name, threads, tt, to, _, tr in rows:
        table.append("| %s | %d | %.2f | %.2f | %.2f | %.2f |" % (name, threads, tt * 1e3, to * 1e3, to / tt, tr * 1e3))
    print("\n" + "\n".join(table))
    print("recorded in", record_results("Dense convolution", "\n".join(table)))


if __name__ == "__main__":
    main()
