"""What an estimator shows while it trains: verbose=0 nothing, 1 a tqdm progress bar over the
epochs when tqdm is installed (nothing otherwise), 2 one line per epoch on stderr."""
import contextlib
import sys


def _line(report, members=1):
    text = f"epoch {report['epoch']}: train loss {report['train_loss']:.4f}"
    if members > 1:
        text = f"member {report.get('member', 0) + 1}/{members} " + text
    if report["valid_loss"] is not None:
        text += f", valid loss {report['valid_loss']:.4f}"
    if report["valid_metric"] is not None:
        text += f", {report['metric_name']} {report['valid_metric']:.4f}"
    return text


@contextlib.contextmanager
def progress_callback(verbose, epochs, on_epoch=None, members=1):
    """A per-epoch callback for tmlp's fit (None when there is nothing to do) that shows the
    progress and then calls on_epoch(report) (whose False stops training). members: an
    ensemble's, each line naming its member and the bar counting every member's epochs."""
    bar = None
    if verbose == 1:
        try:
            from tqdm.auto import tqdm
            bar = tqdm(total=epochs * max(1, members), unit="epoch", leave=False)
        except ImportError:
            bar = None

    def callback(report):
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(_line(report, members).split(": ", 1)[1])
        elif verbose >= 2:
            print(_line(report, members), file=sys.stderr, flush=True)
        return True if on_epoch is None else on_epoch(report)

    try:
        yield callback if (bar is not None or verbose >= 2 or on_epoch is not None) else None
    finally:
        if bar is not None:
            bar.close()
