"""The PNG plot of a ``compress_model`` report: relative kernel error against compression ratio,
one labelled point per compressed layer. Drawn with matplotlib's Agg backend (no display needed)
when matplotlib is importable."""


def matplotlib_available():
    """True when matplotlib can be imported."""
    try:
        import matplotlib   # noqa: F401
    except ImportError:
        return False
    return True


def plot_report(report, path):
    """Writes the plot of ``report`` to ``path`` (PNG). Returns False, writing nothing, when
    matplotlib is not importable; True otherwise."""
    if not matplotlib_available():
        return False
    import matplotlib
    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    points = [(e["params_before"] / e["params_after"], e["kernel_error"], e["name"])
              for e in report["layers"]
              if e["status"] == "compressed" and e.get("params_after")]
    figure = Figure(figsize=(7, 4.5), dpi=100)
    axes = figure.add_subplot()
    for ratio, error, name in points:
        axes.scatter([ratio], [error], color="tab:blue")
        axes.annotate(name, (ratio, error), textcoords="offset points", xytext=(4, 4),
                      fontsize=8)
    if not points:
        axes.text(0.5, 0.5, "no layer compressed", ha="center", va="center",
                  transform=axes.transAxes)
    settings = report["settings"]
    target = settings.get("max_error")
    if target is not None and points:
        axes.axhline(target, color="tab:red", linestyle="--", linewidth=1,
                     label="max_error %g" % target)
        axes.legend(loc="best", fontsize=8)
    axes.set_xlabel("compression (dense parameters / factorized parameters)")
    axes.set_ylabel("relative kernel error ||W - W'|| / ||W||")
    axes.set_title("%s, rank %s" % (settings["factorization"],
                                    settings["rank"] if target is None else "by max_error"))
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, format="png")
    return True
