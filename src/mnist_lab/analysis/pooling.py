"""CS155 set 4 §3D-E: 2x2 average and max pooling, stride 2, of the assignment's four 4x4 images.

`python -m mnist_lab.analysis.pooling [--out DIR]` prints the table; with --out it also writes
DIR/report.md and DIR/metrics.json (each output entry, and how many different outputs each kind
of pooling gives). The pooling is torch's own (`avg_pool2d`, `max_pool2d`).

The four images are one shape shifted by a pixel: max pooling maps all four to the same output,
average pooling still tells them apart.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from mnist_lab.runtime.atomic import atomic_write_text
from mnist_lab.runtime.cli import ArgumentParser, print_error, run_command
from mnist_lab.runtime.environment import environment_line, run_environment
from mnist_lab.runtime.rundir import REPORT_FILE, RunDir

# The assignment's four matrices, in its order.
MATRICES: tuple[tuple[tuple[int, ...], ...], ...] = (
    ((1, 1, 1, 0), (1, 1, 1, 0), (1, 1, 1, 0), (0, 0, 0, 0)),
    ((0, 1, 1, 1), (0, 1, 1, 1), (0, 1, 1, 1), (0, 0, 0, 0)),
    ((0, 0, 0, 0), (0, 1, 1, 1), (0, 1, 1, 1), (0, 1, 1, 1)),
    ((0, 0, 0, 0), (1, 1, 1, 0), (1, 1, 1, 0), (1, 1, 1, 0)),
)
POOLINGS = ("average", "max")
KERNEL, STRIDE = 2, 2


def pooled() -> dict[str, list[list[list[float]]]]:
    """Pooling kind -> the four 2x2 outputs (one per matrix, rows of floats)."""
    import torch
    import torch.nn.functional as F

    images = torch.tensor(MATRICES, dtype=torch.float32).unsqueeze(1)  # [4, 1, 4, 4]
    outputs = {
        "average": F.avg_pool2d(images, KERNEL, stride=STRIDE),
        "max": F.max_pool2d(images, KERNEL, stride=STRIDE),
    }
    return {kind: output.squeeze(1).tolist() for kind, output in outputs.items()}


def distinct_outputs(per_matrix: Sequence[Sequence[Sequence[float]]]) -> int:
    """How many different outputs one kind of pooling gives for the four matrices."""
    return len({str(output) for output in per_matrix})


def pooling_metrics(outputs: dict[str, list[list[list[float]]]]) -> dict[str, float]:
    """`<kind>/matrix_<k>/r<i>c<j>` (1-based) for every output entry, and `<kind>/distinct`."""
    metrics: dict[str, float] = {}
    for kind, per_matrix in outputs.items():
        for k, output in enumerate(per_matrix, start=1):
            for i, row in enumerate(output, start=1):
                for j, value in enumerate(row, start=1):
                    metrics[f"{kind}/matrix_{k}/r{i}c{j}"] = value
        metrics[f"{kind}/distinct"] = float(distinct_outputs(per_matrix))
    return metrics


def _matrix(rows: Sequence[Sequence[float]]) -> str:
    """A matrix in one table cell: `[1 0.5; 0.5 0.25]`."""
    return "[" + "; ".join(" ".join(f"{value:g}" for value in row) for row in rows) + "]"


def pooling_markdown(outputs: dict[str, list[list[list[float]]]]) -> str:
    """One row per matrix: the input and each pooling's 2x2 output, under a caption."""
    lines = [
        f"CS155 set 4 §3D-E: {KERNEL}x{KERNEL} pooling with stride {STRIDE} (torch's "
        "avg_pool2d and max_pool2d); rows of a matrix separated by `;`. Max pooling gives "
        f"{distinct_outputs(outputs['max'])} different output(s) for the four shifted images, "
        f"average pooling {distinct_outputs(outputs['average'])}.",
        "",
        "| matrix | input | average pooling (§3D) | max pooling (§3E) |",
        "|---|---|---|---|",
    ]
    for k, matrix in enumerate(MATRICES):
        cells = [str(k + 1), _matrix(matrix), *(_matrix(outputs[kind][k]) for kind in POOLINGS)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    parser = ArgumentParser(
        prog="python -m mnist_lab.analysis.pooling",
        description="CS155 set 4 §3D-E: 2x2 average and max pooling (stride 2) of the "
        "assignment's four 4x4 matrices, computed with torch.",
    )
    parser.add_argument("--out", type=Path, help="a folder for report.md and metrics.json")
    args = parser.parse_args(argv)
    outputs = pooled()
    table = pooling_markdown(outputs)
    print(table)
    if args.out is None:
        return 0
    environment = run_environment(("torch",))
    print(environment_line(environment))
    run = RunDir(args.out)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        run.write_metrics({**pooling_metrics(outputs), "environment": environment})
        print(f"saved {atomic_write_text(run / REPORT_FILE, table)}")
    except OSError as error:
        return print_error(f"cannot write into --out {args.out}: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main))
