"""ROC and precision-recall curves as one PNG (matplotlib, Agg)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path


def write_curves(
    path: Path,
    labels: Sequence[int],
    curves: Mapping[str, Sequence[float]],
    threshold: float,
    operating_scores: Sequence[float],
) -> None:
    """Write ROC and PR curves for each named score list; mark the threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve, roc_curve

    from training.metrics import confusion

    figure, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(11, 4.5))
    for name, scores in curves.items():
        fpr, tpr, _ = roc_curve(list(labels), list(scores))
        roc_ax.plot(fpr, tpr, label=name)
        precision, recall, _ = precision_recall_curve(list(labels), list(scores))
        pr_ax.plot(recall, precision, label=name)
    point = confusion(labels, operating_scores, threshold)
    roc_ax.scatter(
        [point.fpr],
        [point.recall],
        color="black",
        zorder=3,
        label=f"threshold {threshold:.3f}",
    )
    pr_ax.scatter([point.recall], [point.precision], color="black", zorder=3)
    roc_ax.set(
        xlabel="false positive rate (ham marked spam)",
        ylabel="recall",
        title="ROC",
        xscale="symlog",
        xlim=(0, 1),
    )
    roc_ax.set_xscale("symlog", linthresh=0.01)
    pr_ax.set(xlabel="recall", ylabel="precision", title="precision-recall")
    roc_ax.legend(loc="lower right")
    pr_ax.legend(loc="lower left")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
