"""``python -m factorconv compress-model WEIGHTS -o BUNDLE [options]``: compress_model from the
command line (the ``factorconv`` tool's ``compress-model`` subcommand runs this).

Exit status: 0 done; 1 a FactorConv or file error; 2 a usage error; 130 interrupted by Ctrl-C
(the bundle then holds the layers finished before it).
"""

import argparse
import sys

PROG = "factorconv"


def _geometry(text):
    """``NAME=stride,padding,dilation[,groups]`` -> (NAME, (stride, padding, dilation[, groups]))."""
    name, sep, values = text.rpartition("=")
    try:
        numbers = tuple(int(v) for v in values.split(","))
    except ValueError:
        numbers = ()
    if not sep or not name or len(numbers) not in (3, 4):
        raise argparse.ArgumentTypeError("expected NAME=stride,padding,dilation[,groups] (NAME "
                                         "may be a pattern), got %r" % text)
    return name, numbers


def _rank(text):
    """tltorch's rank forms: 'same', a fraction (with a decimal point), an int, or ints a,b,c."""
    if text == "same":
        return text
    try:
        if "," in text:
            return tuple(int(v) for v in text.split(","))
        return float(text) if "." in text or "e" in text.lower() else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("rank must be 'same', a fraction (0.25), an int or "
                                         "ints separated by commas, got %r" % text) from None


def _max_error(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError("max-error must be a number in (0, 1), got %r" % text)
    return value


def parser():
    """The argument parser of ``python -m factorconv``."""
    top = argparse.ArgumentParser(prog=PROG, description="FactorConv from Python.")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = commands.add_parser(
        "compress-model", help="compress every convolution of a model into a bundle",
        description="Compress every convolution of a model (a tensor X.weight with at least 3 "
                    "dimensions) into one bundle of FactorizedConv layers, and report per layer "
                    "the rank, parameters, measured kernel error, FLOPs and forward times, or "
                    "why it was skipped. Files without geometry (safetensors, PyTorch) use "
                    "--geometry, else stride 1, padding 0, dilation 1, groups 1. Timings and "
                    "FLOPs are on batch 1 and 32 per spatial dimension for 1-D and 2-D "
                    "convolutions, 16 for 3-D. Ctrl-C keeps the layers finished (exit 130).")
    p.add_argument("weights", metavar="WEIGHTS",
                   help="a .safetensors state_dict, a PyTorch .pt/.pth state_dict or checkpoint "
                        "(needs torch), or an .onnx model (needs onnx)")
    p.add_argument("-o", "--output", required=True, metavar="BUNDLE", help="the bundle to write")
    p.add_argument("--report", metavar="REPORT.json", help="also write the report as JSON")
    p.add_argument("--plot", metavar="PLOT.png",
                   help="a PNG of kernel error against compression per layer (needs matplotlib)")
    p.add_argument("--factorization", default="cp", choices=("cp", "tucker", "tt"),
                   help="default: cp")
    p.add_argument("--rank", type=_rank, default="same",
                   help="tltorch's rank: same | 0.25 (a fraction of the dense parameters) | 16 | "
                        "8,4,3,3 (default: same)")
    p.add_argument("--max-error", type=_max_error, metavar="E",
                   help="instead of --rank: the smallest rank whose measured relative kernel "
                        "error is at most E")
    p.add_argument("--include", action="append", metavar="PAT",
                   help="compress only layers matching this fnmatch pattern (repeatable)")
    p.add_argument("--exclude", action="append", metavar="PAT",
                   help="leave layers matching this pattern dense (repeatable)")
    p.add_argument("--geometry", action="append", type=_geometry, metavar="NAME=s,p,d[,g]",
                   help="stride, padding, dilation (and groups) of layer NAME, a pattern, for "
                        "files without geometry (repeatable; the first match wins)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="local worker processes (default: min(cores, layers))")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the layers on a Dask cluster (its scheduler's address)")
    p.add_argument("--seed", type=int, default=0, help="the run's seed (default 0)")
    p.add_argument("-q", "--quiet", action="store_true", help="print no table and no progress bar")
    return top


def _progress_line(done, total, name):
    """Progress when stderr is not a terminal (a log): one line per finished layer."""
    print("[%d/%d] %s done" % (done, total, name), file=sys.stderr, flush=True)


def _kept_summary(report):
    kept = [e["name"] for e in report["layers"] if e["status"] == "compressed"]
    return "kept %d compressed layer(s) in %s%s" % (
        len(kept), report["bundle"], (": " + ", ".join(kept)) if kept else "")


def compress_model_command(args):
    """Runs compress-model; returns the exit status."""
    from . import compress, _model_report
    from ._errors import FactorConvError
    if args.workers is not None and args.workers < 1:
        print("%s: error: --workers must be at least 1" % PROG, file=sys.stderr)
        return 2
    try:
        report = compress.compress_model(
            args.weights, args.output, factorization=args.factorization, rank=args.rank,
            max_error=args.max_error, include=args.include, exclude=args.exclude,
            geometry=dict(args.geometry) if args.geometry else None, workers=args.workers,
            executor=args.scheduler, seed=args.seed, report=args.report, plot=args.plot,
            progress=False if args.quiet else None if sys.stderr.isatty() else _progress_line)
    except KeyboardInterrupt as stop:
        if not isinstance(stop, compress.CompressionInterrupted):
            print("%s: interrupted" % PROG, file=sys.stderr)
            return 130
        if not args.quiet:
            print(_model_report.table(stop.report))
        print("%s: interrupted: %s" % (PROG, _kept_summary(stop.report)), file=sys.stderr)
        return 130
    except (FactorConvError, OSError, ValueError) as error:
        print("%s: error: %s" % (PROG, error), file=sys.stderr)
        return 1
    if not args.quiet:
        print(_model_report.table(report))
        if args.plot and report.get("plot") is None:
            print("(no plot: matplotlib is not installed)")
    print(_kept_summary(report))
    return 0


def main(argv=None):
    """The command line's entry point; returns the exit status."""
    args = parser().parse_args(argv)
    if args.command == "compress-model":
        return compress_model_command(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
